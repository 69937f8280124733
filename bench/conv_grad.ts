/**
 * Times the ONNX lowerings of the conv family on STMedFM's stem shapes in ONNX Runtime (CPU,
 * float32, 1 thread by default) and prints the median per formulation.
 *
 *   npx tsx bench/conv_grad.ts [--runs 15] [--threads 1] [--only 2d|3d]
 */
import { parseArgs } from 'node:util';
import type * as ort from 'onnxruntime-node';
import '../src/engine/runtime/node.js';
import { Graph, type Value } from '../src/engine/ir/graph.js';
import { numel } from '../src/engine/ir/shape.js';
import { type ConvOptions, conv, convLowering, convTranspose, convWeightGrad } from '../src/engine/ops/conv.js';
import { ForwardSession, floatTensor } from '../src/engine/runtime/index.js';
import { Rng } from '../src/util/rng.js';

type Lowering = typeof convLowering;

interface Shape {
  name: string;
  x: number[];
  w: number[];
  opts: ConvOptions;
}

const SHAPES: Shape[] = [
  { name: '2d c1 x[64,3,28,28] w[32,3,3,3] p1', x: [64, 3, 28, 28], w: [32, 3, 3, 3], opts: { pads: 1 } },
  { name: '2d c2 x[64,32,28,28] w[64,32,4,4] s4', x: [64, 32, 28, 28], w: [64, 32, 4, 4], opts: { strides: 4 } },
  { name: '3d c1 x[16,1,28^3] w[16,1,3,3,3] p1', x: [16, 1, 28, 28, 28], w: [16, 1, 3, 3, 3], opts: { pads: 1 } },
  { name: '3d c2 x[16,16,28^3] w[64,16,4,4,4] s4', x: [16, 16, 28, 28, 28], w: [64, 16, 4, 4, 4], opts: { strides: 4 } },
];

/**
 * What is timed: the weight gradient, the input gradient, the forward conv, or a whole layer
 * (forward, dW and, except for a first layer c1, dX) as in a training step.
 */
type Part = 'dW' | 'dX' | 'forward' | 'layer';

interface Variant {
  part: Part;
  label: string;
  lowering: Partial<Lowering>;
  /** Only for patchify shapes, or only for general ones. */
  when?: 'patch' | 'general';
}

const VARIANTS: Variant[] = [
  { part: 'dW', label: 'im2col + batched MatMul + ReduceSum', lowering: { weightGrad: 'batched', patchWeightGrad: 'general' } },
  { part: 'dW', label: 'im2col + Gemm (batch folded into K)', lowering: { weightGrad: 'gemm', patchWeightGrad: 'general' } },
  { part: 'dW', label: 'Conv with feature-map kernel (baseline)', lowering: { weightGrad: 'conv', patchWeightGrad: 'general' } },
  { part: 'dW', label: 'patch rows + MatMul', lowering: { patchWeightGrad: 'rows' }, when: 'patch' },
  { part: 'dX', label: 'ONNX ConvTranspose', lowering: { patchConvTranspose: 'onnx' }, when: 'patch' },
  { part: 'dX', label: 'patch rows + MatMul', lowering: { patchConvTranspose: 'rows' }, when: 'patch' },
  { part: 'forward', label: 'ONNX Conv', lowering: { patchConv: 'onnx' } },
  { part: 'forward', label: 'patch rows + MatMul', lowering: { patchConv: 'rows' }, when: 'patch' },
  { part: 'layer', label: 'defaults', lowering: {} },
  { part: 'layer', label: 'ONNX ops only (Conv, ConvTranspose, Conv dW)', lowering: { weightGrad: 'conv', patchWeightGrad: 'general', patchConv: 'onnx', patchConvTranspose: 'onnx' } },
];

function build(s: Shape, part: Part): { graph: Graph; inputs: Value[] } {
  const scratch = new Graph('shape');
  const outShape = conv(scratch.input('x', 'float', s.x), scratch.input('w', 'float', s.w), undefined, s.opts).shape as number[];
  // The input gradient of a patchify conv: rows a stride leaves unread get zeros.
  const dxOpts = { ...s.opts, outputPadding: s.x.slice(2).map((n, d) => n - outShape[d + 2]! * s.w[d + 2]!) };
  const g = new Graph(`bench_${part}`);
  if (part === 'forward') {
    const [x, w] = [g.input('x', 'float', s.x), g.input('w', 'float', s.w)];
    g.output('y', conv(x, w, undefined, s.opts));
    return { graph: g, inputs: [x, w] };
  }
  if (part === 'dW') {
    const [x, dy] = [g.input('x', 'float', s.x), g.input('dy', 'float', outShape)];
    g.output('dw', convWeightGrad(x, dy, s.w.slice(2), s.opts));
    return { graph: g, inputs: [x, dy] };
  }
  if (part === 'layer') {
    const [x, w, dy] = [g.input('x', 'float', s.x), g.input('w', 'float', s.w), g.input('dy', 'float', outShape)];
    g.output('y', conv(x, w, undefined, s.opts));
    g.output('dw', convWeightGrad(x, dy, s.w.slice(2), s.opts));
    if (s.opts.strides !== undefined) g.output('dx', convTranspose(dy, w, undefined, dxOpts));
    return { graph: g, inputs: [x, w, dy] };
  }
  const [dy, w] = [g.input('dy', 'float', outShape), g.input('w', 'float', s.w)];
  g.output('dx', convTranspose(dy, w, undefined, dxOpts));
  return { graph: g, inputs: [dy, w] };
}

/** Whether the default `convLowering` emits the same formulation as this variant. */
function isDefault(s: Shape, v: Variant): boolean {
  const patch = s.opts.strides !== undefined;
  const d = convLowering;
  if (v.part === 'layer') return v.label === 'defaults';
  // The benchmark's weights are graph inputs, where 'auto' means patch rows.
  if (v.part === 'forward') return v.lowering.patchConv === (d.patchConv === 'auto' ? 'rows' : d.patchConv);
  if (v.part === 'dX') return v.lowering.patchConvTranspose === (d.patchConvTranspose === 'auto' ? 'rows' : d.patchConvTranspose);
  if (patch && d.patchWeightGrad !== 'general') {
    return v.lowering.patchWeightGrad === d.patchWeightGrad || (v.lowering.patchWeightGrad === 'general' && v.lowering.weightGrad === d.patchWeightGrad);
  }
  return v.lowering.patchWeightGrad === 'general' && v.lowering.weightGrad === d.weightGrad;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Timed {
  v: Variant;
  session: ForwardSession;
  feeds: Record<string, ort.Tensor>;
  wall: number[];
  cpu: number[];
}

async function prepare(s: Shape, v: Variant, threads: number, rng: Rng): Promise<Timed> {
  const saved = { ...convLowering };
  Object.assign(convLowering, v.lowering);
  try {
    const { graph, inputs } = build(s, v.part);
    const session = await ForwardSession.create(graph, { threads });
    const feeds: Record<string, ort.Tensor> = {};
    for (const x of inputs) {
      const shape = x.shape as number[];
      feeds[x.name] = floatTensor(Float32Array.from({ length: numel(shape) }, () => rng.normal()), shape);
    }
    return { v, session, feeds, wall: [], cpu: [] };
  } finally {
    Object.assign(convLowering, saved);
  }
}

/**
 * Runs the variants in interleaved rounds, so that load from other processes hits them alike,
 * and records wall time and process CPU time (user + system) per run.
 */
async function measure(ts: Timed[], runs: number): Promise<void> {
  for (let r = 0; r < runs + 2; r++) {
    for (const t of ts) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await t.session.run(t.feeds);
      const wall = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (r < 2) continue; // warm-up
      t.wall.push(wall);
      t.cpu.push((c.user + c.system) / 1000);
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' }, threads: { type: 'string', default: '1' }, only: { type: 'string' } } });
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  const rng = new Rng(1);
  console.log(`ONNX Runtime CPU, float32, ${threads} thread(s), ${runs} interleaved runs; ms: median wall, min wall, median process CPU (* = default lowering)`);
  for (const s of SHAPES) {
    if (values.only && !s.name.startsWith(values.only)) continue;
    const patch = s.opts.strides !== undefined;
    console.log(`\n${s.name}`);
    // All variants of a shape run in the same interleaved rounds, so their ratios are comparable.
    const vs = VARIANTS.filter((v) => !((v.when === 'patch' && !patch) || (v.when === 'general' && patch)));
    const ts: Timed[] = [];
    for (const v of vs) ts.push(await prepare(s, v, threads, rng));
    await measure(ts, runs);
    for (const t of ts) {
      const mark = isDefault(s, t.v) ? '*' : ' ';
      const cols = [median(t.wall), Math.min(...t.wall), median(t.cpu)].map((x) => x.toFixed(2).padStart(8)).join('');
      console.log(`${mark} ${t.v.part.padEnd(7)} ${t.v.label.padEnd(44)}${cols}`);
      await t.session.release();
    }
  }
}

await main();
