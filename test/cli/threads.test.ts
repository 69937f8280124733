/**
 * Single commands use every core unless --threads says otherwise, and record the thread count
 * with their results: the checkpoint's training provenance and the --json outputs of finetune,
 * evaluate and predict.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/training/checkpoint.js';
import { runCli } from '../helpers/cli.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

const cores = availableParallelism();
let dir: string;

const finetune = (out: string, extra: string[] = []) =>
  runCli(['finetune', '--task', 'pathmnist', '--method', 'scratch', '--data-dir', dir, '--steps', '2', '--batch-2d', '8', '--out', join(dir, out), '--json', '--quiet', ...extra]);

beforeAll(() => {
  dir = makeTmpDir('threads-').dir;
  synthDataFile('pathmnist', { dir, sizes: { train: 32, val: 8, test: 8 }, seed: 3 });
});

describe('--threads of single commands', () => {
  it('finetune defaults to all cores and records the count in the checkpoint and its summary; --threads 1 overrides', async () => {
    const all = finetune('all.safetensors');
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout).threads).toBe(cores);
    expect((await loadModel(join(dir, 'all.safetensors'))).config.training?.threads).toBe(cores);

    const one = finetune('one.safetensors', ['--threads', '1']);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout).threads).toBe(1);
    expect((await loadModel(join(dir, 'one.safetensors'))).config.training?.threads).toBe(1);
  });

  it('evaluate and predict record their thread count in --json, all cores by default', () => {
    const ck = join(dir, 'one.safetensors');
    const ev = (extra: string[]) => JSON.parse(runCli(['evaluate', '--checkpoint', ck, '--task', 'pathmnist', '--data-dir', dir, '--json', ...extra]).stdout);
    const evAll = ev([]);
    const evOne = ev(['--threads', '1']);
    expect(evAll.threads).toBe(cores);
    expect(evOne.threads).toBe(1);
    // Only the recorded thread count differs (measured: evaluation is bitwise the same at 1 and 2 threads).
    for (const k of ['acc', 'auroc', 'ece', 'brier', 'nll']) expect(evAll[k]).toBeCloseTo(evOne[k], 6);

    const pr = (extra: string[]) => JSON.parse(runCli(['predict', '--checkpoint', ck, '--task', 'pathmnist', '--input', join(dir, 'pathmnist.npz'), '--split', 'test', '--json', ...extra]).stdout);
    expect(pr([]).threads).toBe(cores);
    expect(pr(['--threads', '1']).threads).toBe(1);
  });
});
