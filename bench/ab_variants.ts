/**
 * Named engine and model switches for bench/ab.ts. Each applies its settings (read while graphs
 * are built and serialised) and returns an undo. `base` is the shipped default.
 */
import { convLowering } from '../src/engine/ops/conv/lower.js';
import { patchRows } from '../src/engine/ops/conv/patch.js';
import { reduceLowering } from '../src/engine/ops/reduce.js';
import { type OrtSessionOptions, ortModule, ortPlatform, useOrt } from '../src/engine/runtime/ort.js';
import { type ChunkSite, chunkBudget } from '../src/model/layers.js';

type Variant = () => () => void;

function withConv(patch: Partial<typeof convLowering>): Variant {
  return () => {
    const saved = { ...convLowering };
    Object.assign(convLowering, patch);
    return () => Object.assign(convLowering, saved);
  };
}

function withBudget(b: Partial<Record<ChunkSite, number>>): Variant {
  return () => {
    const saved = { ...chunkBudget };
    Object.assign(chunkBudget, b);
    return () => Object.assign(chunkBudget, saved);
  };
}

/**
 * ONNX Runtime session options laid over the engine's (runtime/session.ts) for the sessions
 * created while the variant is applied: the registered module is wrapped, then restored.
 */
function withSession(patch: (so: OrtSessionOptions) => OrtSessionOptions): Variant {
  return () => {
    const ort = ortModule();
    const platform = ortPlatform();
    const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (m: unknown, so: OrtSessionOptions) => ReturnType<typeof ort.InferenceSession.create>;
    const InferenceSession = { create: (m: unknown, so: OrtSessionOptions) => create(m, patch(so)) } as unknown as typeof ort.InferenceSession;
    useOrt({ ...ort, InferenceSession }, platform);
    return () => useOrt(ort, platform);
  };
}

/** Values per sample of the largest chunked activations of STMedFM-Tiny. */
const STEM = { '2d': 32 * 28 * 28, '3d': 16 * 28 * 28 * 28 };
const BLOCK = { '2d': 49 * 256, '3d': 4 * 343 * 343 };

export const VARIANTS: Record<string, Variant> = {
  base: () => () => {},
  // Conv lowerings (the defaults as of these measurements: rows for trained patchify convs,
  // im2col for the trained first conv, the ONNX Conv for constant weights, 3-D patchify as 2-D).
  patchOnnx: withConv({ patchConv: 'onnx', patchConvTranspose: 'onnx', patchWeightGrad: 'conv' }),
  patchRowsFwd: withConv({ patchConv: 'rows' }),
  convOnnx: withConv({ conv: 'onnx' }),
  convIm2col: withConv({ conv: 'im2col' }),
  no3dAs2d: withConv({ patch3dAs2d: false }),
  // The 2-thread changes of issue 11 item 6, each undone, and all of them undone ('before').
  rowsKernelLastFirst: () => {
    patchRows.layout = 'kernelLastFirst';
    return () => (patchRows.layout = 'channelsLast');
  },
  reduceSumOnnx: () => {
    reduceLowering.leadingSumAsMatMul = false;
    return () => (reduceLowering.leadingSumAsMatMul = 'auto');
  },
  reduceSumMatMul: () => {
    reduceLowering.leadingSumAsMatMul = true;
    return () => (reduceLowering.leadingSumAsMatMul = 'auto');
  },
  patchBiasReduce: withConv({ patchBiasGrad: 'reduce' }),
  patchBiasMatMul: withConv({ patchBiasGrad: 'matmul' }),
  before: () => {
    const undo = [VARIANTS.rowsKernelLastFirst!(), VARIANTS.reduceSumOnnx!(), VARIANTS.patchBiasReduce!()];
    return () => undo.reverse().forEach((u) => u());
  },
  // Session options (not engine defaults; see src/engine/README.md).
  noSpin: withSession((so) => ({ ...so, extra: { session: { intra_op: { allow_spinning: '0' } } } })),
  interOp2: withSession((so) => ({ ...so, executionMode: 'parallel', interOpNumThreads: 2, intraOpNumThreads: 1 })),
  interOp2intra2: withSession((so) => ({ ...so, executionMode: 'parallel', interOpNumThreads: 2 })),
  // Chunking of the training forward pass.
  noChunk: withBudget({ stem: Infinity, block: Infinity }),
  stemOnly: withBudget({ block: Infinity }),
  blockOnly: withBudget({ stem: Infinity }),
};
for (const n of [4, 8, 16, 32]) VARIANTS[`chunk2d_${n}`] = withBudget({ stem: n * STEM['2d'], block: n * BLOCK['2d'] });
for (const n of [1, 2, 4]) VARIANTS[`chunk3d_${n}`] = withBudget({ stem: n * STEM['3d'], block: n * BLOCK['3d'] });
