/**
 * ONNX Runtime (float32) against the float64 interpreter on a gradient-check case.
 *
 * The case graph (output, loss = sum(out * R) and every input gradient) is serialised in float32
 * and run by ONNX Runtime; each output is compared with the interpreter's float64 result using
 * the same relative measure as the finite-difference check (`relErr`, with a scale floor). This
 * checks the lowering of every op and of every gradient rule, not just the forward pass.
 */
import type { Value } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { interpret } from '../interp.js';
import { toOnnxModel } from '../onnx/serialize.js';
import { createSession, convertFeeds, inputTypes, type RuntimeOptions } from '../runtime/session.js';
import { fromOrt } from '../runtime/tensors.js';
import { type GradCase, buildCase, normRelErr, relErr } from './gradcheck.js';

/** A float32 run agrees with float64 to this relative error (float32 epsilon is 6e-8; reductions and cancellation cost the rest). */
export const ORT_F32_TOLERANCE = 1e-4;

export interface OrtCheckResult {
  op: string;
  name: string;
  /** Worst relative error over all outputs. */
  maxRelErr: number;
  /** Per output ('out', 'loss', 'grad_<input>'). */
  perOutput: Record<string, number>;
  /** Elements compared. */
  elements: number;
}

export async function checkOnOrt(c: GradCase, opts: { seed?: number } & RuntimeOptions = {}): Promise<OrtCheckResult> {
  const { graph, feeds } = buildCase(c, opts.seed ?? 0);
  const names = [...graph.outputs.keys()];
  const values: Value[] = [...graph.outputs.values()];
  const reference = interpret(graph, feeds, values);

  const session = await createSession(toOnnxModel(graph, { precision: 'float32' }), opts);
  try {
    const host: Record<string, HostTensor> = {};
    for (const [v, t] of feeds) host[v.name] = t;
    const res = await session.run(convertFeeds(session, inputTypes(session), host));
    const perOutput: Record<string, number> = {};
    let elements = 0;
    names.forEach((name, k) => {
      const got = fromOrt(res[name]!);
      const want = reference[k]!;
      if (got.data.length !== want.data.length || got.shape.join() !== want.shape.join()) {
        throw new Error(`ortcheck ${c.op}/${c.name}: output '${name}' has shape [${got.shape}] on ONNX Runtime, [${want.shape}] in the interpreter`);
      }
      perOutput[name] = c.ortMeasure === 'normwise' ? normRelErr(got.data, want.data) : relErr(got.data, want.data);
      elements += want.data.length;
    });
    const maxRelErr = Object.values(perOutput).reduce((m, e) => (e > m || Number.isNaN(e) ? e : m), 0);
    return { op: c.op, name: c.name, maxRelErr, perOutput, elements };
  } finally {
    await session.release();
  }
}
