/**
 * Throwaway probe (issue 11 item 6): do two ONNX Runtime sessions in two worker_threads run
 * concurrently? Times one half-batch training step alone, two at once in two workers, and one in
 * the main thread beside one in a worker.
 *
 *   npx tsx bench/dp_probe.ts [--rounds 10]
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { benchTrainingStep, median } from '../src/bench/bench.js';
import '../src/engine/runtime/node.js';
import { toOnnxModel } from '../src/engine/onnx/serialize.js';
import { ort } from '../src/engine/runtime/node.js';

const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session, feeds;
parentPort.on('message', async (m) => {
  if (m.kind === 'open') {
    session = await ort.InferenceSession.create(m.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    feeds = Object.fromEntries(Object.entries(m.feeds).map(([k, t]) => [k, new ort.Tensor(t.type, t.data, t.dims)]));
    parentPort.postMessage('ok');
  } else {
    const t0 = performance.now();
    await session.run(feeds);
    parentPort.postMessage(performance.now() - t0);
  }
});`;

function plain(feeds: Record<string, ort.Tensor>) {
  return Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { type: t.type, data: t.data, dims: t.dims }]));
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 10);
  const half = benchTrainingStep('pathmnist', 32);
  const bytes = toOnnxModel(half.graph, { precision: 'float32', intraOpThreads: 1 });
  const allFeeds: Record<string, ort.Tensor> = { ...(half.feeds as Record<string, ort.Tensor>), lr: new ort.Tensor('float32', Float32Array.of(1e-3), []), step: new ort.Tensor('float32', Float32Array.of(1), []) };
  for (const c of half.spec.carried) allFeeds[c.input] = new ort.Tensor('float32', (half.init as Record<string, Float32Array>)[c.input] ?? new Float32Array(c.shape.reduce((a, b) => a * b, 1)), c.shape);
  const so = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' as const, graphOptimizationLevel: 'all' as const };
  const main1 = await ort.InferenceSession.create(bytes, so);
  const workers = [0, 1].map(() => new Worker(WORKER, { eval: true, workerData: { ortPath } }));
  const ask = (w: Worker, m: unknown) => new Promise<unknown>((res, rej) => { w.once('message', res); w.once('error', rej); w.postMessage(m); });
  await Promise.all(workers.map((w) => ask(w, { kind: 'open', bytes, feeds: plain(allFeeds) })));
  const t = { mainAlone: [] as number[], workerAlone: [] as number[], twoWorkers: [] as number[], mainPlusWorker: [] as number[], w0: [] as number[], w1: [] as number[] };
  for (let i = 0; i < 3; i++) { await main1.run(allFeeds); await Promise.all(workers.map((w) => ask(w, { kind: 'run' }))); }
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    await main1.run(allFeeds);
    t.mainAlone.push(performance.now() - t0);
    t0 = performance.now();
    await ask(workers[0]!, { kind: 'run' });
    t.workerAlone.push(performance.now() - t0);
    t0 = performance.now();
    const [a, b] = (await Promise.all(workers.map((w) => ask(w, { kind: 'run' })))) as number[];
    t.twoWorkers.push(performance.now() - t0);
    t.w0.push(a!); t.w1.push(b!);
    t0 = performance.now();
    await Promise.all([ask(workers[1]!, { kind: 'run' }), main1.run(allFeeds)]);
    t.mainPlusWorker.push(performance.now() - t0);
  }
  for (const [k, v] of Object.entries(t)) console.log(`${k.padEnd(16)} median ${median(v).toFixed(2)} ms  min ${Math.min(...v).toFixed(2)}`);
  console.log(`ratio twoWorkers/workerAlone ${(median(t.twoWorkers) / median(t.workerAlone)).toFixed(3)}; mainPlusWorker/mainAlone ${(median(t.mainPlusWorker) / median(t.mainAlone)).toFixed(3)}`);
  await Promise.all(workers.map((w) => w.terminate()));
  await main1.release();
}
main().catch((e) => { console.error(e); process.exit(1); });
