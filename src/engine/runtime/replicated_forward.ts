/**
 * A per-sample forward graph run on replicas: the caller cuts a batch into shards, replica 0 runs
 * its shard on the calling thread, the others on replica threads, all at once.
 *
 * Why: as in training (data_parallel.ts), one session with two intra-op threads gains little on
 * our small kernels, while two one-thread sessions on two threads run side by side. Only graphs
 * whose samples are independent (inference) may be sharded; the caller decides that.
 */
import type { Graph } from '../ir/graph.js';
import { dataParallelAvailable, runShards, spawnReplicas } from './data_parallel.js';
import { type OrtSession, type OrtTensor, type PlainTensor, type Replica, ortPlatform } from './ort.js';
import { convertFeeds, createSession, inputTypes, modelSource, sessionOptions } from './session.js';
import type { Feed, OrtType } from './tensors.js';

export class ReplicatedForward {
  private released = false;

  private constructor(
    private readonly leader: OrtSession,
    private readonly types: Map<string, OrtType>,
    private readonly workers: Replica[],
  ) {}

  /**
   * `replicas` sessions of one intra-op thread each over the same float32 model. Callers check
   * `dataParallelAvailable()` first (the browser has no replica threads; STMEDFM_DATA_PARALLEL=0).
   */
  static async create(model: Graph | Uint8Array, replicas: number): Promise<ReplicatedForward> {
    if (!Number.isInteger(replicas) || replicas < 2) throw new Error(`ReplicatedForward: replicas must be an integer >= 2, got ${replicas}`);
    const host = ortPlatform().replicas;
    if (!host || !dataParallelAvailable()) throw new Error('ReplicatedForward: no replica threads here (or STMEDFM_DATA_PARALLEL=0); use a ForwardSession');
    const bytes = modelSource(model, { precision: 'float32' }) as Uint8Array;
    const leader = await createSession(bytes, { threads: 1 });
    try {
      return new ReplicatedForward(leader, inputTypes(leader), await spawnReplicas(host, replicas - 1, bytes, sessionOptions({ threads: 1 })));
    } catch (e) {
      await leader.release();
      throw e;
    }
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
    try {
      return await runShards('inference', this.leader, this.workers, ready, outputs);
    } catch (e) {
      await this.release();
      throw e;
    }
  }

  /** Stops the replica threads and ends the leader's session (idempotent). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    await this.leader.release();
  }
}
