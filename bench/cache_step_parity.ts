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
import { benchTrainingStep, median } from '../src/bench/bench.js';
import { releaseIdleSessions } from '../src/engine/runtime/session.js';
import { TrainingSession } from '../src/engine/runtime/training.js';

process.env.STMEDFM_CACHE_DIR = mkdtempSync(join(tmpdir(), 'probe-'));
for (const [task, batch] of [['organmnist3d', 16], ['pathmnist', 64]] as const) {
  const { graph, spec, init, feeds } = benchTrainingStep(task, batch);
  // fill the cache once, so that every 'disk cache' round loads from it
  const first = await TrainingSession.create(graph, spec, init, { threads: 1, cache: true });
  await first.release();
  const times: Record<'compiled' | 'disk cache', number[]> = { compiled: [], 'disk cache': [] };
  for (let r = 0; r < 3; r++) {
    for (const mode of ['compiled', 'disk cache'] as const) {
      if (mode === 'compiled') process.env.STMEDFM_GRAPH_CACHE = '0';
      else delete process.env.STMEDFM_GRAPH_CACHE;
      await releaseIdleSessions();
      const s = await TrainingSession.create(graph, spec, init, { threads: 1, cache: mode !== 'compiled' });
      if (s.origin !== mode) throw new Error(`expected a ${mode} session, got ${s.origin}`);
      await s.step(feeds, { lr: 1e-3 });
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await s.step(feeds, { lr: 1e-3 });
        times[mode].push(performance.now() - t0);
      }
      await s.release();
    }
  }
  console.log(task, Object.entries(times).map(([k, v]) => `${k}: median step ${median(v).toFixed(1)} ms`).join(', '));
}
