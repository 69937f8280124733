/**
 * Where a training session's setup time goes: ONNX Runtime session creation of a 3D and a 2D
 * full fine-tuning training graph with graph optimisation 'all' (today), 'disabled', and from a
 * model ORT already optimised (saved with optimizedModelFilePath, reloaded with optimisation
 * off) — the saving an on-disk cache of optimised graphs would give. Medians of 3.
 *
 *   npx tsx bench/session_cache_probe.ts
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchTrainingStep, median } from '../src/bench/bench.js';
import '../src/engine/runtime/node.js';
import { createSession } from '../src/engine/runtime/session.js';
import { toOnnxModel } from '../src/engine/onnx/serialize.js';

const dir = mkdtempSync(join(tmpdir(), 'ort-cache-'));
for (const [task, batch] of [['organmnist3d', 16], ['pathmnist', 64]] as const) {
  const bytes = toOnnxModel(benchTrainingStep(task, batch).graph);
  const optimized = join(dir, `${task}.onnx`);
  const time = async (f: () => Promise<{ release: () => Promise<void> }>) => {
    const ts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const s = await f();
      ts.push(performance.now() - t0);
      await s.release();
    }
    return median(ts).toFixed(0);
  };
  const all = await time(() => createSession(bytes, { threads: 1 }));
  const off = await time(() => createSession(bytes, { threads: 1, graphOptimization: 'disabled' }));
  await (await createSession(bytes, { threads: 1, optimizedModelPath: optimized })).release();
  const cached = await time(() => createSession(optimized, { threads: 1, graphOptimization: 'disabled' }));
  console.log(`${task}: session create ${all} ms (optimisation all), ${off} ms (disabled), ${cached} ms (pre-optimised model, disabled)`);
}
