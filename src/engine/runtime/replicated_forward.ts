/**
 * A per-sample forward graph run on replicas: the caller cuts a batch into shards, replica 0 runs
 * its shard on the calling thread, the others on replica threads, all at once.
 *
 * Why: as in training (data_parallel.ts), one session with two intra-op threads gains little on
 * our small kernels, while two one-thread sessions on two threads run side by side. Only graphs
 * whose samples are independent (inference) may be sharded; the caller decides that.
 */
import type { Graph } from '../ir/graph.js';
import { type OrtSession, type OrtTensor, type PlainTensor, type Replica, ortPlatform } from './ort.js';
import { convertFeeds, createSession, inputTypes, modelSource, sessionOptions } from './session.js';
import type { Feed, OrtType } from './tensors.js';
import { dataParallelAvailable } from './data_parallel.js';

export class ReplicatedForward {
  private released = false;

  private constructor(
    private readonly leader: OrtSession,
    private readonly types: Map<string, OrtType>,
    private readonly workers: Replica[],
  ) {}

  /**
   * `replicas` sessions of one intra-op thread each over the same float32 model, or undefined
   * when this platform has no replica threads or they are turned off (STMEDFM_DATA_PARALLEL=0).
   */
  static async create(model: Graph | Uint8Array, replicas: number): Promise<ReplicatedForward | undefined> {
    if (!Number.isInteger(replicas) || replicas < 2) throw new Error(`ReplicatedForward: replicas must be an integer >= 2, got ${replicas}`);
    const host = ortPlatform().replicas;
    if (!host || !dataParallelAvailable()) return undefined;
    const bytes = modelSource(model, { precision: 'float32' }) as Uint8Array;
    const leader = await createSession(bytes, { threads: 1 });
    const spawned = await Promise.allSettled(Array.from({ length: replicas - 1 }, () => host.spawn(bytes, sessionOptions({ threads: 1 }))));
    const workers = spawned.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = spawned.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((w) => w.terminate()));
      await leader.release();
      throw failed.reason;
    }
    return new ReplicatedForward(leader, inputTypes(leader), workers);
  }

  get replicas(): number {
    return this.workers.length + 1;
  }

  /**
   * Runs shard k on replica k (at most `replicas` shards; fewer leave replicas idle) and returns
   * each shard's outputs, in shard order.
   */
  async run(shards: readonly Readonly<Record<string, Feed>>[], outputs: readonly string[]): Promise<Record<string, OrtTensor | PlainTensor>[]> {
    if (this.released) throw new Error('ReplicatedForward.run: released');
    if (shards.length < 1 || shards.length > this.replicas) throw new Error(`ReplicatedForward.run: ${shards.length} shards for ${this.replicas} replicas`);
    const ready = shards.map((s) => convertFeeds(this.leader, this.types, s));
    const plain = (feeds: Record<string, OrtTensor>): Record<string, PlainTensor> =>
      Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, { type: t.type as PlainTensor['type'], dims: t.dims, data: t.data as PlainTensor['data'] }]));
    // Post to the replica threads first, then run the leader's shard here while they work.
    const remote = ready.slice(1).map((f, k) => this.workers[k]!.run(plain(f), outputs));
    const local = this.leader.run(ready[0]!, [...outputs]) as Promise<Record<string, OrtTensor>>;
    const settled = await Promise.allSettled([local, ...remote]);
    const failed = settled.findIndex((s) => s.status === 'rejected');
    if (failed >= 0) {
      await this.release();
      throw new Error(`inference replica ${failed} of ${this.replicas} failed: ${((settled[failed] as PromiseRejectedResult).reason as Error).message}`);
    }
    return settled.map((s) => (s as PromiseFulfilledResult<Record<string, OrtTensor | PlainTensor>>).value);
  }

  /** Stops the replica threads and ends the leader's session (idempotent). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    await this.leader.release();
  }
}
