/**
 * How long a message takes to reach a worker thread while the sending thread is busy (as the
 * data-parallel leader is, running its own shard right after posting the other's): a tiny
 * message, a step's feeds as 36 separate buffers (cloned or transferred), as SharedArrayBuffers,
 * and packed into one buffer (what runtime/replica_worker.ts does).
 *
 *   npx tsx bench/worker_message_latency.ts
 */
import { Worker } from 'node:worker_threads';
const w = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => { parentPort.postMessage(performance.timeOrigin + performance.now()); });`, { eval: true });
const mk = () => ({ params: Array.from({ length: 35 }, () => new Float32Array(137673 / 35 | 0)), x: new Float32Array(32 * 3 * 28 * 28) });
const sab = { params: Array.from({ length: 35 }, () => new Float32Array(new SharedArrayBuffer(4 * (137673 / 35 | 0)))), x: new Float32Array(new SharedArrayBuffer(4 * 32 * 3 * 28 * 28)) };
const one = { p: new Float32Array(137673), x: new Float32Array(32 * 3 * 28 * 28) };
for (const mode of ['tiny', 'clone', 'transfer', 'shared', 'onePacked']) {
  const lats: number[] = [];
  for (let i = 0; i < 30; i++) {
    const got = new Promise<number>((r) => w.once('message', r));
    const t0 = performance.timeOrigin + performance.now();
    if (mode === 'tiny') w.postMessage({});
    else if (mode === 'clone') w.postMessage(mk());
    else if (mode === 'transfer') { const m = mk(); w.postMessage(m, [...m.params.map((p) => p.buffer), m.x.buffer]); }
    else if (mode === 'shared') w.postMessage(sab);
    else w.postMessage(one);
    const end = performance.now() + 20; while (performance.now() < end) {}
    lats.push((await got) - t0);
  }
  lats.sort((a, b) => a - b);
  console.log(mode.padEnd(10), 'post->worker handler median', lats[15]!.toFixed(3), 'ms');
}
await w.terminate();
