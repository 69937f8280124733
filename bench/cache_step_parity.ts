/**
 * A session loaded from the graph cache (ORT's optimised model, reloaded with optimisation off)
 * must train as fast as a freshly compiled one: median step time of each, 3D and 2D full
 * fine-tuning graphs, alternating, 1 thread.
 *
 *   npx tsx bench/cache_step_parity.ts
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../src/engine/runtime/node.js';
import { BENCH_HEADS, median } from '../src/bench/bench.js';
import { buildTrainingGraph } from '../src/engine/optim/train_graph.js';
import { releaseIdleSessions } from '../src/engine/runtime/session.js';
import { TrainingSession } from '../src/engine/runtime/training.js';
import { floatTensor, int64Tensor } from '../src/engine/runtime/tensors.js';
import { STMEDFM_TINY } from '../src/model/config.js';
import { ParamStore } from '../src/model/params.js';
import { STMedFM } from '../src/model/stmedfm.js';
import { buildLossGraph, classWeightsFeed } from '../src/training/graphs.js';
process.env.STMEDFM_CACHE_DIR = mkdtempSync(join(tmpdir(), 'probe-'));
for (const [task, batch] of [['organmnist3d', 16], ['pathmnist', 64]] as const) {
  const model = new STMedFM(STMEDFM_TINY, BENCH_HEADS);
  const store = ParamStore.init(model.specs(), 0);
  const trainable = model.trainableSpecs(task, 'full');
  const lg = buildLossGraph(model, store, new Set(trainable.map((s) => s.name)), [{ task, batchSize: batch }]);
  const params = [...lg.binder.trainableInputs.values()];
  const tg = buildTrainingGraph(lg.graph, { loss: lg.loss, params, decay: () => false });
  const init = Object.fromEntries(params.map((p) => [p.name, Float32Array.from(store.get(p.name).data)]));
  const names = lg.inputNames.get(task)!;
  const shape = [batch, ...lg.graph.findInput(names.x)!.shape.slice(1)] as number[];
  const x = floatTensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)), shape);
  const y = int64Tensor(Array.from({ length: batch }, (_, i) => i % 5), [batch]);
  const w = classWeightsFeed(model, { task, batchSize: batch })!;
  const feeds = { [names.x]: x, [names.y]: y, [names.w!]: floatTensor(w, [w.length]) };
  const times: Record<string, number[]> = { compiled: [], 'disk cache': [] };
  for (let r = 0; r < 3; r++) {
    for (const mode of ['compiled', 'disk cache']) {
      if (mode === 'compiled') process.env.STMEDFM_GRAPH_CACHE = '0'; else delete process.env.STMEDFM_GRAPH_CACHE;
      if (r === 0 && mode === 'disk cache') { delete process.env.STMEDFM_GRAPH_CACHE; const s0 = await TrainingSession.create(tg.graph, tg.spec, init, { threads: 1, cache: true }); await s0.release(); }
      await releaseIdleSessions();
      const s = await TrainingSession.create(tg.graph, tg.spec, init, { threads: 1, cache: mode !== 'compiled' });
      if (s.origin !== (mode === 'compiled' ? 'compiled' : 'disk cache')) throw new Error(s.origin);
      await s.step(feeds, { lr: 1e-3 });
      for (let i = 0; i < 5; i++) { const t0 = performance.now(); await s.step(feeds, { lr: 1e-3 }); times[mode]!.push(performance.now() - t0); }
      await s.release();
    }
  }
  console.log(task, Object.entries(times).map(([k, v]) => `${k}: median step ${median(v).toFixed(1)} ms`).join(', '));
}
