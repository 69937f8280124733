/**
 * A training step split over replicas (data parallelism inside one step).
 *
 * ONNX Runtime's intra-op pool does not pay on our small kernels (10-50 us each; a second
 * thread made the 2D step slower), but two sessions on two threads do run side by side. So the
 * batch is cut into shards, each replica runs the gradient graph (forward and backward, one
 * intra-op thread) on its shard, and the leader sums the gradients and applies the optimizer
 * once, in a small update graph driven by a `TrainingSession` (which keeps the parameters and
 * optimizer state, as for a single-session step). Replica 0 runs on the calling thread; the
 * others on the platform's replica threads (Node: worker_threads, runtime/replica_worker.ts).
 *
 * The shards' losses must add up to the whole batch's loss (each a mean over its shard times
 * its share of the batch's normaliser): `shard` is the caller's, who knows what the loss
 * normalises by (labels, class weights), and returns per shard the feeds of the gradient graph.
 */
import type { FloatPrecision } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { type GradientGraphSpec, replicaName } from '../optim/train_graph.js';
import { type OrtSession, type OrtSessionOptions, type OrtTensor, type PlainTensor, type Replica, type ReplicaHost, ortModule, ortPlatform } from './ort.js';
import { type RuntimeOptions, type SessionOrigin, convertFeeds, inputTypes, modelSource, openSession, parkSession, reuseKey, sessionCacheKey, sessionOptions, takeIdleSession } from './session.js';
import { type Feed, type FloatArray, type OrtType, floatTensor } from './tensors.js';
import { type InitValue, type StepOptions, type StepResult, TrainingSession, type TrainingSpec } from './training.js';

/** Cuts a step's feeds (the whole batch) into the feeds of each replica's gradient graph. */
export type ShardFeeds = (feeds: Readonly<Record<string, Feed>>, parts: number) => Record<string, Feed>[];

export interface DataParallelOptions extends RuntimeOptions {
  /** Replicas, each with one intra-op thread (default 2). */
  replicas?: number;
  shard: ShardFeeds;
  precision?: FloatPrecision;
}

/** Whether this platform can run replicas on other threads and allows it (Node: unless STMEDFM_DATA_PARALLEL=0; the browser: no). */
export function dataParallelAvailable(): boolean {
  return ortPlatform().replicas?.enabled() ?? false;
}

const plain = (t: OrtTensor): PlainTensor => ({ type: t.type as PlainTensor['type'], dims: t.dims, data: t.data as PlainTensor['data'] });

/**
 * `count` replicas of `model` on the platform's replica threads; if any fails to start, the
 * others are stopped and its error is thrown.
 */
export async function spawnReplicas(host: ReplicaHost, count: number, model: Uint8Array, options: OrtSessionOptions): Promise<Replica[]> {
  const spawned = await Promise.allSettled(Array.from({ length: count }, () => host.spawn(model, options)));
  const failed = spawned.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return spawned.map((s) => (s as PromiseFulfilledResult<Replica>).value);
  await Promise.all(spawned.flatMap((s) => (s.status === 'fulfilled' ? [s.value.terminate()] : [])));
  throw failed.reason;
}

/**
 * Runs shard 0 on `leader` (this thread) and shard k on `workers[k - 1]`, all at once, and
 * returns their outputs in shard order; a failure is thrown naming the replica (`what replica k
 * of n failed: ...`) after every run has settled. Fewer shards than replicas leave workers idle.
 */
export async function runShards(
  what: string,
  leader: OrtSession,
  workers: readonly Replica[],
  shards: readonly Record<string, OrtTensor>[],
  fetch: readonly string[],
): Promise<Record<string, OrtTensor | PlainTensor>[]> {
  // Post to the replica threads first, then run the leader's shard here while they work.
  const remote = shards.slice(1).map((f, k) => workers[k]!.run(Object.fromEntries(Object.entries(f).map(([n, t]) => [n, plain(t)])), fetch));
  const local = leader.run(shards[0]!, [...fetch]) as Promise<Record<string, OrtTensor>>;
  const settled = await Promise.allSettled([local, ...remote]);
  const failed = settled.findIndex((s) => s.status === 'rejected');
  if (failed >= 0) {
    const why = (settled[failed] as PromiseRejectedResult).reason as Error;
    throw new Error(`${what} replica ${failed} of ${workers.length + 1} failed: ${why.message}`);
  }
  return settled.map((s) => (s as PromiseFulfilledResult<Record<string, OrtTensor | PlainTensor>>).value);
}

export class DataParallelTrainingSession {
  private broken: Error | undefined;
  private released = false;

  private constructor(
    private readonly update: TrainingSession,
    private readonly leader: OrtSession,
    private readonly leaderTypes: Map<string, OrtType>,
    private readonly workers: Replica[],
    private readonly grads: GradientGraphSpec,
    private readonly shard: ShardFeeds,
    private readonly leaderReuse: string | undefined,
    /** Where the gradient graph's compiled form came from (the leader's session). */
    readonly origin: SessionOrigin,
    /** What the replica threads loaded: the graph cache's optimised model, or the model to compile. */
    readonly replicaOrigin: 'disk cache' | 'compiled',
  ) {}

  /**
   * Opens the update session (the optimizer, carrying parameters and state as a TrainingSession
   * does), the leader's gradient session and `replicas - 1` replica threads. With `opts.cache` the
   * gradient graph is compiled once: the replicas load the graph cache's optimised model.
   */
  static async create(
    gradModel: Uint8Array | Graph,
    grads: GradientGraphSpec,
    update: { graph: Graph | Uint8Array; spec: TrainingSpec },
    init: Readonly<Record<string, InitValue>>,
    opts: DataParallelOptions,
  ): Promise<DataParallelTrainingSession> {
    const replicas = opts.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 2) throw new Error(`DataParallelTrainingSession: replicas must be an integer >= 2, got ${replicas}`);
    const host = ortPlatform().replicas;
    if (!host) throw new Error('DataParallelTrainingSession: this platform has no replica threads (Node worker_threads); use a TrainingSession');
    const precision = opts.precision ?? 'float32';
    // Every replica, and the optimizer, runs on one intra-op thread: the replicas are the parallelism.
    const one: RuntimeOptions = { ...opts, threads: 1 };
    const src = modelSource(gradModel, { precision, intraOpThreads: 1 }) as Uint8Array;
    const key = sessionCacheKey(src, one);
    const reuse = reuseKey(key, one);
    const parked = reuse ? takeIdleSession(reuse) : undefined;
    const { session: leader, origin } = parked ? { session: parked, origin: 'reused' as const } : await openSession(src, one, key);
    let workers: Replica[] = [];
    let upd: TrainingSession | undefined;
    // The leader compiled (or found) the graph; the replicas load ORT's optimised model when the cache has it.
    const optimised = key ? ortPlatform().graphCache?.entry(key)?.read() : undefined;
    try {
      const so = sessionOptions(optimised ? { ...one, graphOptimization: 'disabled' } : one);
      delete so.enableProfiling;
      delete so.optimizedModelFilePath;
      workers = await spawnReplicas(host, replicas - 1, optimised ?? src, so);
      upd = await TrainingSession.create(update.graph, update.spec, init, { threads: 1, ...(one.cache ? { cache: true } : {}), precision });
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      await leader.release();
      throw e;
    }
    return new DataParallelTrainingSession(upd, leader, inputTypes(leader), workers, grads, opts.shard, reuse, origin, optimised ? 'disk cache' : 'compiled');
  }

  get replicas(): number {
    return this.workers.length + 1;
  }

  get steps(): number {
    return this.update.steps;
  }

  set steps(n: number) {
    this.update.steps = n;
  }

  names(kind?: 'param' | 'state'): string[] {
    return this.update.names(kind);
  }

  get(name: string): FloatArray {
    return this.update.get(name);
  }

  set(name: string, value: InitValue): void {
    this.update.set(name, value);
  }

  snapshot(kind?: 'param' | 'state'): Record<string, FloatArray> {
    return this.update.snapshot(kind);
  }

  load(values: Readonly<Record<string, InitValue>>): void {
    this.update.load(values);
  }

  /**
   * One optimisation step: every replica's gradients on its shard (at the same time), then one
   * optimizer run on their sum. `fetch` may name the gradient graph's summed outputs (per-task
   * losses); the loss is the sum of the shards' losses (before the update).
   */
  async step(feeds: Readonly<Record<string, Feed>>, opts: StepOptions = {}): Promise<StepResult> {
    if (this.released) throw new Error('DataParallelTrainingSession.step: the session was released');
    if (this.broken) throw new Error(`DataParallelTrainingSession.step: a replica failed earlier (${this.broken.message})`);
    for (const name of opts.fetch ?? []) {
      if (!this.grads.sums.includes(name)) throw new Error(`DataParallelTrainingSession.step: can fetch only the summed outputs (${this.grads.sums.join(', ') || 'none'}), not '${name}'`);
    }
    const shards = this.shard(feeds, this.replicas);
    if (shards.length !== this.replicas) throw new Error(`DataParallelTrainingSession.step: shard returned ${shards.length} shards for ${this.replicas} replicas`);
    for (const s of shards) {
      const managed = this.grads.params.find((p) => p.name in s);
      if (managed) throw new Error(`DataParallelTrainingSession.step: '${managed.name}' is managed by the session; feed only the batch`);
    }
    const params: Record<string, OrtTensor> = {};
    for (const p of this.grads.params) params[p.name] = floatTensor(this.update.get(p.name), p.shape);
    const fetch = [this.grads.loss, this.grads.grads, ...this.grads.sums];
    const ready = shards.map((s) => convertFeeds(this.leader, this.leaderTypes, { ...s, ...params }));
    let outs: Record<string, PlainTensor | OrtTensor>[];
    try {
      outs = await runShards('data-parallel', this.leader, this.workers, ready, fetch);
    } catch (e) {
      this.broken = e as Error;
      await this.stopWorkers();
      throw e;
    }
    const Tensor = ortModule().Tensor;
    const updateFeeds: Record<string, OrtTensor> = {};
    outs.forEach((o, k) => {
      for (const name of fetch) {
        const t = o[name]!;
        updateFeeds[replicaName(name, k)] = t instanceof Tensor ? t : new Tensor(t.type, t.data as Float32Array, t.dims);
      }
    });
    const r = await this.update.step(updateFeeds, { ...(opts.lr !== undefined ? { lr: opts.lr } : {}), fetch: opts.fetch ?? [] });
    return { loss: r.loss, outputs: r.outputs };
  }

  private async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Stops the replica threads and ends the sessions (the leader's gradient session stays idle for reuse with the cache on). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.stopWorkers();
    await this.update.release();
    if (this.leaderReuse && !this.broken) await parkSession(this.leaderReuse, this.leader);
    else await this.leader.release();
  }
}
