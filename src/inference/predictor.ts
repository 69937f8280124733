/**
 * Batched inference of one task through an ONNX Runtime forward session (weights as
 * initializers, dynamic batch, softmax on top). Evaluation, `predict` and the exported model
 * all run this same graph.
 */
import { type TaskSplit, classIds, evalBatches, toInput } from '../data/index.js';
import { dataParallelAvailable } from '../engine/runtime/data_parallel.js';
import { ReplicatedForward } from '../engine/runtime/replicated_forward.js';
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

/** Evaluation batch per modality: large enough to amortise per-run overhead, small enough for cache-sized chunks. */
export const INFERENCE_BATCH = { '2d': 256, '3d': 32 } as const;

export class Predictor {
  private constructor(
    /** One session, or replicas that each run a shard of every batch. */
    private readonly runner: ForwardSession | ReplicatedForward,
    readonly classes: number,
    readonly sampleShape: readonly number[],
    /** The batch a run processes; inputs are run in pieces of this size, the last one zero-padded. */
    readonly batch: number,
  ) {}

  /** Sessions each batch runs in: 1, or the replicas (one intra-op thread each) it is split across. */
  get replicas(): number {
    return this.runner instanceof ReplicatedForward ? this.runner.replicas : 1;
  }

  /**
   * A fixed batch lets the graph process samples in cache-sized chunks (measured here: 2D -21%,
   * 3D -27% per batch against a dynamic-batch graph); the exported model keeps a dynamic batch.
   */
  static async create(model: STMedFM, store: ParamStore, task: string, opts: { threads?: number; batch?: number; temperature?: number; dataParallel?: boolean } = {}): Promise<Predictor> {
    const batch = opts.batch ?? INFERENCE_BATCH[model.head(task).modality];
    const threads = opts.threads ?? 1;
    const classes = model.head(task).numClasses;
    // With 2+ threads each batch is cut into one shard per thread, each run by a session of one
    // intra-op thread on its own thread: samples are independent, and two one-thread sessions
    // side by side beat one two-thread session on these small kernels (measured: `stmedfm bench`).
    if (opts.dataParallel !== false && threads >= 2 && batch % threads === 0 && dataParallelAvailable()) {
      const { graph } = buildForwardGraph(model, store, task, batch / threads, opts.temperature);
      const x = graph.findInput('x')!;
      return new Predictor(await ReplicatedForward.create(graph, threads), classes, x.shape.slice(1) as number[], batch);
    }
    // With a temperature, `probs` are calibrated (softmax(logits / T)); `logits` stay raw.
    const { graph } = buildForwardGraph(model, store, task, batch, opts.temperature);
    const x = graph.findInput('x')!;
    const session = await ForwardSession.create(graph, { threads });
    return new Predictor(session, classes, x.shape.slice(1) as number[], batch);
  }

  /** Logits and probabilities of one full piece of `batch` samples of which the first k are real. */
  private async runPiece(piece: Float32Array, k: number): Promise<{ logits: Float32Array; probs: Float32Array }[]> {
    const r = this.runner;
    if (r instanceof ForwardSession) {
      const out = await r.run({ x: floatTensor(piece, [this.batch, ...this.sampleShape]) });
      return [{ logits: out.logits!.data as Float32Array, probs: out.probabilities!.data as Float32Array }];
    }
    const per = this.sampleShape.reduce((a, b) => a * b, 1);
    const shard = this.batch / r.replicas;
    // Shards holding only padding are not run.
    const shards = Array.from({ length: Math.ceil(k / shard) }, (_, j) => ({ x: floatTensor(piece.slice(j * shard * per, (j + 1) * shard * per), [shard, ...this.sampleShape]) }));
    const outs = await r.run(shards, ['logits', 'probabilities']);
    return outs.map((o) => ({ logits: o.logits!.data as Float32Array, probs: o.probabilities!.data as Float32Array }));
  }

  /** Runs model input [n, ...] (already preprocessed) and returns logits and probabilities. */
  async run(data: Float32Array, n: number): Promise<Predictions> {
    const per = this.sampleShape.reduce((a, b) => a * b, 1);
    if (data.length !== n * per) throw new Error(`predict: input has ${data.length} values, expected ${n} x [${this.sampleShape.join(',')}]`);
    const c = this.classes;
    const logits = new Float32Array(n * c);
    const probs = new Float32Array(n * c);
    for (let start = 0; start < n; start += this.batch) {
      const k = Math.min(this.batch, n - start);
      let piece = data.subarray(start * per, (start + k) * per);
      if (k < this.batch) {
        const padded = new Float32Array(this.batch * per);
        padded.set(piece);
        piece = padded;
      }
      let at = 0;
      for (const out of await this.runPiece(piece, k)) {
        const m = Math.min(out.logits.length / c, k - at);
        logits.set(out.logits.subarray(0, m * c), (start + at) * c);
        probs.set(out.probs.subarray(0, m * c), (start + at) * c);
        at += m;
      }
    }
    return { n, classes: c, logits, probs };
  }

  /** The whole split, in order, in batches of `batchSize`. */
  async runSplit(split: TaskSplit, batchSize = this.batch): Promise<Predictions & { labels: Int32Array }> {
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
    // Class ids [n], or the 0/1 targets [n, labels] of a multi-label task.
    const labels = split.labelWidth === 1 ? classIds(split, Int32Array.from({ length: split.n }, (_, i) => i)) : Int32Array.from(split.labels);
    return { n: split.n, classes: c, logits, probs, labels };
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}
