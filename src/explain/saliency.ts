/**
 * Running the Grad-CAM graph on one sample: through ONNX Runtime (float32, the product path) or
 * through the float64 interpreter (the reference the tests compare with). Both pick the class the
 * same way: the one asked for, else the predicted one (which needs a first pass for the logits).
 */
import { interpret } from '../engine/interp.js';
import { ForwardSession } from '../engine/runtime/session.js';
import { floatTensor, toFloat32 } from '../engine/runtime/tensors.js';
import type { ParamStore } from '../model/params.js';
import type { STMedFM } from '../model/stmedfm.js';
import { type GradCamGraph, buildGradCamGraph } from './gradcam.js';

export interface Saliency {
  /** The class explained. */
  classIndex: number;
  /** Argmax of the probabilities. */
  predicted: number;
  probabilities: number[];
  /** The token grid ([7,7] or [7,7,7]) and the Grad-CAM value per token, row-major, >= 0, not normalised. */
  grid: number[];
  cam: Float64Array;
}

function oneHot(classes: number, c: number | undefined): Float64Array {
  const t = new Float64Array(classes);
  if (c !== undefined) t[c] = 1;
  return t;
}

function checkClass(classes: number, c: number | undefined): void {
  if (c !== undefined && !(Number.isInteger(c) && c >= 0 && c < classes)) throw new Error(`explain: class index ${c} is outside 0..${classes - 1}`);
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** Grad-CAM through ONNX Runtime: one session, reused for many samples and classes. */
export class GradCamExplainer {
  private constructor(
    private readonly session: ForwardSession,
    readonly spec: GradCamGraph,
    private readonly sampleSize: number,
  ) {}

  static async create(model: STMedFM, store: ParamStore, task: string, opts: { threads?: number } = {}): Promise<GradCamExplainer> {
    const spec = buildGradCamGraph(model, store, task);
    const x = spec.graph.findInput('x')!;
    const session = await ForwardSession.create(spec.graph, { threads: opts.threads ?? 1 });
    return new GradCamExplainer(session, spec, (x.shape.slice(1) as number[]).reduce((a, b) => a * b, 1));
  }

  /** `x`: one preprocessed sample (model layout, [C, ...spatial] values). */
  async explain(x: Float32Array, classIndex?: number): Promise<Saliency> {
    const { classes } = this.spec;
    checkClass(classes, classIndex);
    if (x.length !== this.sampleSize) throw new Error(`explain: input has ${x.length} values, expected ${this.sampleSize}`);
    const xShape = [1, ...(this.spec.graph.findInput('x')!.shape.slice(1) as number[])];
    const run = async (c: number | undefined) => {
      const out = await this.session.run(
        { x: floatTensor(x, xShape), target: floatTensor(Float32Array.from(oneHot(classes, c)), [1, classes]) },
        ['probabilities', 'cam'],
      );
      return { probs: Array.from(toFloat32(out.probabilities!)), cam: Float64Array.from(toFloat32(out.cam!)) };
    };
    let r = await run(classIndex);
    const predicted = argmax(r.probs);
    const c = classIndex ?? predicted;
    if (classIndex === undefined) r = await run(c);
    return { classIndex: c, predicted, probabilities: r.probs, grid: this.spec.grid, cam: r.cam };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The same computation in float64 on the reference interpreter (tests; no ONNX Runtime). */
export function explainInterpreted(model: STMedFM, store: ParamStore, task: string, x: ArrayLike<number>, classIndex?: number): Saliency {
  const spec = buildGradCamGraph(model, store, task);
  checkClass(spec.classes, classIndex);
  const xv = spec.graph.findInput('x')!;
  const xShape = [1, ...(xv.shape.slice(1) as number[])];
  const outs = ['probabilities', 'cam'].map((n) => spec.graph.outputs.get(n)!);
  const run = (c: number | undefined) => {
    const [p, cam] = interpret(spec.graph, { x: { dtype: 'float', shape: xShape, data: Float64Array.from(x) }, target: { dtype: 'float', shape: [1, spec.classes], data: oneHot(spec.classes, c) } }, outs);
    return { probs: Array.from(p!.data), cam: cam!.data };
  };
  let r = run(classIndex);
  const predicted = argmax(r.probs);
  const c = classIndex ?? predicted;
  if (classIndex === undefined) r = run(c);
  return { classIndex: c, predicted, probabilities: r.probs, grid: spec.grid, cam: r.cam };
}

/** Share of the map's total mass on the given tokens (row-major indices); 0 for an all-zero map. */
export function massOn(cam: ArrayLike<number>, tokens: Iterable<number>): number {
  let total = 0;
  for (let i = 0; i < cam.length; i++) total += cam[i]!;
  if (!(total > 0)) return 0;
  let part = 0;
  for (const t of tokens) part += cam[t]!;
  return part / total;
}
