/**
 * Test helpers: temporary folders and synthetic MedMNIST files in the official layout, so tests
 * never depend on real data being present.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSynth, type SynthOptions, type SynthResult } from '../../src/data/synth.js';

const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits (or by calling `cleanup`). */
export function makeTmpDir(prefix = 'stmedfm-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes `<dir>/<task>.npz` with synthetic data (small default sizes: 2D 64/16/16, 3D 16/8/8)
 * and returns the folder, the file and what was written.
 */
export function synthDataFile(
  task: string,
  opts: SynthOptions & { dir?: string; fileName?: string } = {},
): { dir: string; file: string; result: SynthResult } {
  const dir = opts.dir ?? makeTmpDir().dir;
  const file = join(dir, opts.fileName ?? `${task}.npz`);
  const small = /3d$/.test(task) ? { train: 16, val: 8, test: 8 } : { train: 64, val: 16, test: 16 };
  const result = writeSynth(file, task, { ...opts, sizes: { ...small, ...opts.sizes } });
  return { dir, file, result };
}
