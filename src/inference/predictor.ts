/**
 * Batched inference of one task through an ONNX Runtime forward session (weights as
 * initializers, dynamic batch, softmax on top). Evaluation, `predict` and the exported model
 * all run this same graph.
 */
import { type TaskSplit, classIds, evalBatches, toInput } from '../data/index.js';
import { ForwardSession } from '../engine/runtime/session.js';
import { floatTensor } from '../engine/runtime/tensors.js';
import type { ParamStore } from '../model/params.js';
import type { STMedFM } from '../model/stmedfm.js';
import { buildForwardGraph } from '../training/graphs.js';

export interface Predictions {
  n: number;
  classes: number;
  /** Row-major [n, classes]. */
  logits: Float32Array;
  probs: Float32Array;
}

export class Predictor {
  private constructor(
    readonly session: ForwardSession,
    readonly classes: number,
    readonly sampleShape: readonly number[],
  ) {}

  static async create(model: STMedFM, store: ParamStore, task: string, opts: { threads?: number } = {}): Promise<Predictor> {
    const { graph } = buildForwardGraph(model, store, task);
    const x = graph.findInput('x')!;
    const session = await ForwardSession.create(graph, { threads: opts.threads ?? 1 });
    return new Predictor(session, model.head(task).numClasses, x.shape.slice(1) as number[]);
  }

  /** Runs model input [B, ...] (already preprocessed) and returns logits and probabilities. */
  async run(data: Float32Array, batch: number): Promise<Predictions> {
    const per = this.sampleShape.reduce((a, b) => a * b, 1);
    if (data.length !== batch * per) throw new Error(`predict: input has ${data.length} values, expected ${batch} x [${this.sampleShape.join(',')}]`);
    const out = await this.session.run({ x: floatTensor(data, [batch, ...this.sampleShape]) });
    return { n: batch, classes: this.classes, logits: out.logits!.data as Float32Array, probs: out.probabilities!.data as Float32Array };
  }

  /** The whole split, in order, in batches of `batchSize`. */
  async runSplit(split: TaskSplit, batchSize = 256): Promise<Predictions & { labels: Int32Array }> {
    const c = this.classes;
    const logits = new Float32Array(split.n * c);
    const probs = new Float32Array(split.n * c);
    let off = 0;
    for (const idx of evalBatches(split.n, batchSize)) {
      const x = toInput(split, idx);
      const r = await this.run(x.data, idx.length);
      logits.set(r.logits, off * c);
      probs.set(r.probs, off * c);
      off += idx.length;
    }
    return { n: split.n, classes: c, logits, probs, labels: classIds(split, Int32Array.from({ length: split.n }, (_, i) => i)) };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
