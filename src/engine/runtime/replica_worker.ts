/**
 * Data-parallel replicas on Node worker_threads (registered by node.ts). Each worker loads
 * onnxruntime-node itself, opens one session over the model bytes it was given once, and then
 * runs it on request: feeds in, the requested outputs back (their buffers transferred, not
 * copied). onnxruntime-node runs a session on the calling JS thread, so sessions in different
 * workers run at the same time (measured: two half-batch steps in two workers take 1.03x one).
 *
 * The worker's code is a small CommonJS string (`eval: true`), not a module file: it then runs
 * the same from TypeScript sources (tests, tsx) and from dist/, and needs nothing of ours.
 * Workers are unref'd: a replica never keeps the process alive (a run that throws before
 * `release` cannot hang the CLI).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { OrtSessionOptions, PlainTensor, Replica, ReplicaHost } from './ort.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const ARRAYS = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, bool: Uint8Array };
let session;
ort.InferenceSession.create(workerData.model, workerData.options).then(
  (s) => { session = s; parentPort.postMessage({ kind: 'ready' }); },
  (e) => parentPort.postMessage({ kind: 'error', message: String(e && e.message || e) }),
);
parentPort.on('message', async (m) => {
  try {
    const feeds = {};
    for (const f of m.layout) feeds[f.name] = new ort.Tensor(f.type, new ARRAYS[f.type](m.buffer, f.offset, f.length), f.dims);
    const res = await session.run(feeds, m.fetch);
    const outputs = {};
    const buffers = new Set();
    for (const k of m.fetch) { outputs[k] = { type: res[k].type, dims: res[k].dims, data: res[k].data }; buffers.add(res[k].data.buffer); }
    parentPort.postMessage({ kind: 'result', id: m.id, outputs }, [...buffers]);
  } catch (e) {
    parentPort.postMessage({ kind: 'error', id: m.id, message: String(e && e.message || e) });
  }
});
`;

/**
 * All feeds of a run in one ArrayBuffer (8-byte aligned slots) and where each lies. Posting many
 * separate buffers is slow to arrive when the sending thread is busy (measured: a 2D step's 35
 * parameter tensors and a shard took 3-8 ms to reach the worker while the leader ran its own
 * shard, one buffer 0.4 ms); ONNX Runtime does not take SharedArrayBuffer views ("Invalid
 * argument"), so the worker gets views into one plain buffer instead.
 */
function pack(feeds: Readonly<Record<string, PlainTensor>>): { buffer: ArrayBuffer; layout: { name: string; type: PlainTensor['type']; dims: readonly number[]; offset: number; length: number }[] } {
  const layout = [];
  let bytes = 0;
  for (const [name, t] of Object.entries(feeds)) {
    layout.push({ name, type: t.type, dims: t.dims, offset: bytes, length: t.data.length });
    bytes += Math.ceil(t.data.byteLength / 8) * 8;
  }
  const buffer = new ArrayBuffer(bytes);
  const u8 = new Uint8Array(buffer);
  for (const f of layout) {
    const d = feeds[f.name]!.data;
    u8.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), f.offset);
  }
  return { buffer, layout };
}

const ortPath = (): string => createRequire(import.meta.url).resolve('onnxruntime-node');

type Pending = { resolve: (o: Record<string, PlainTensor>) => void; reject: (e: Error) => void };

class WorkerReplica implements Replica {
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private dead: Error | undefined;

  constructor(private readonly worker: Worker) {
    worker.on('message', (m: { kind: string; id?: number; outputs?: Record<string, PlainTensor>; message?: string }) => {
      const p = m.id === undefined ? undefined : this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id!);
      if (m.kind === 'result') p.resolve(m.outputs!);
      else p.reject(new Error(m.message));
    });
    const fail = (e: Error) => {
      this.dead ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(new Error(`replica thread crashed: ${e.message}`)));
    worker.on('exit', (code) => fail(new Error(`replica thread exited (code ${code})`)));
  }

  run(feeds: Readonly<Record<string, PlainTensor>>, fetch: readonly string[]): Promise<Record<string, PlainTensor>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const { buffer, layout } = pack(feeds);
      this.worker.postMessage({ id, buffer, layout, fetch }, [buffer]);
    });
  }

  async terminate(): Promise<void> {
    this.dead ??= new Error('replica terminated');
    await this.worker.terminate();
  }
}

/** Worker threads currently alive (for tests: release must end every one). */
export function liveReplicaThreads(): number {
  return live.size;
}
const live = new Set<Worker>();

/** Whether STMEDFM_DATA_PARALLEL allows data-parallel training (anything but 0/false/off/no). */
export function dataParallelEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.STMEDFM_DATA_PARALLEL ?? '').trim().toLowerCase();
  return !['0', 'false', 'off', 'no'].includes(v);
}

export const workerReplicas: ReplicaHost = {
  enabled: () => dataParallelEnabled(),
  spawn(model: Uint8Array, options: OrtSessionOptions): Promise<Replica> {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath: ortPath(), model, options } });
    worker.unref();
    live.add(worker);
    worker.once('exit', () => live.delete(worker));
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(new Error(`replica thread failed to start: ${e.message}`));
      worker.once('error', onError);
      worker.once('message', (m: { kind: string; message?: string }) => {
        worker.off('error', onError);
        if (m.kind === 'ready') return resolve(new WorkerReplica(worker));
        void worker.terminate();
        reject(new Error(`replica could not open its session: ${m.message}`));
      });
    });
  },
};
