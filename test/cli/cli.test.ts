/**
 * The CLI end to end on tiny synthetic data: every command's happy path, and every kind of bad
 * input giving one clear line, a non-zero exit and no partial output.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpz, npyArray, synthesize, writeNpy, writeSynth } from '../../src/data/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { PNG } from 'pngjs';
import { runCli } from '../helpers/cli.js';

let dir: string;
const tiny = ['--batch-2d', '8', '--batch-3d', '2'];

function expectCleanFailure(r: { code: number; stderr: string; stdout: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^stmedfm: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

/** Nothing but the expected files: no temp files, no half-written outputs. */
function expectNoLeftovers(folder: string, allowed: string[]): void {
  expect(readdirSync(folder).sort()).toEqual([...allowed].sort());
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stmedfm-cli-'));
  writeSynth(join(dir, 'pathmnist.npz'), 'pathmnist', { sizes: { train: 64, val: 24, test: 24 }, seed: 1 });
  writeSynth(join(dir, 'organmnist3d.npz'), 'organmnist3d', { sizes: { train: 16, val: 8, test: 8 }, seed: 2 });
  const pre = runCli(['pretrain', '--data-dir', dir, '--tasks', 'pathmnist,organmnist3d', '--steps', '3', ...tiny, '--out', join(dir, 'pre.safetensors'), '--quiet']);
  expect(pre.stderr).toMatch(/saved/);
  expect(pre.code).toBe(0);
});

describe('stmedfm info', () => {
  it('prints the exact parameter counts as JSON', () => {
    const r = runCli(['info', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.parameters.stem2d).toBe(36_992);
    expect(j.parameters.stem3d).toBe(88_128);
    expect(j.parameters.encoder).toBe(100_096);
    expect(j.parameters.trainable.pathmnist.full).toBe(137_673);
    expect(j.parameters.trainable.organmnist3d.full).toBe(188_939);
    expect(j.parameters.trainable.pathmnist.lora).toBe(3_657);
    expect(j.parameters.trainable.pathmnist.adapter).toBe(4_969);
  });
});

describe('train, evaluate, predict, export', () => {
  it('fine-tunes with every method and evaluates', () => {
    for (const method of ['scratch', 'scratch-weighted', 'full', 'lora', 'adapter']) {
      const out = join(dir, `ft-${method}.safetensors`);
      const args = ['finetune', '--data-dir', dir, '--task', 'pathmnist', '--method', method, '--steps', '2', ...tiny, '--out', out, '--json', '--quiet'];
      if (!method.startsWith('scratch')) args.push('--from', join(dir, 'pre.safetensors'));
      const r = runCli(args);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.steps_done).toBe(2);
      expect(j.trainable_params).toBe({ scratch: 137_673, 'scratch-weighted': 137_673, full: 137_673, lora: 3_657, adapter: 4_969 }[method]);
      if (method === 'lora' || method === 'adapter') {
        expect(existsSync(join(dir, `ft-${method}-adapter`, 'adapter_model.safetensors'))).toBe(true);
        expect(existsSync(join(dir, `ft-${method}-adapter`, 'adapter_config.json'))).toBe(true);
      }
    }
    const ev = runCli(['evaluate', '--checkpoint', join(dir, 'ft-lora.safetensors'), '--data-dir', dir, '--task', 'pathmnist', '--split', 'test', '--json']);
    expect(ev.code).toBe(0);
    const m = JSON.parse(ev.stdout);
    for (const k of ['acc', 'auroc', 'ece', 'brier', 'nll']) expect(typeof m[k]).toBe('number');
    expect(m.n).toBe(24);
  });

  it('predicts from .npy arrays (single and batched) and PNG images', () => {
    const s = synthesize('pathmnist', { sizes: { train: 1, val: 1, test: 3 }, seed: 5 });
    const imgs = s.arrays.test_images!;
    writeFileSync(join(dir, 'batch.npy'), writeNpy(imgs));
    writeFileSync(join(dir, 'one.npy'), writeNpy(npyArray('uint8', [28, 28, 3], (imgs.data as Uint8Array).slice(0, 28 * 28 * 3))));
    const ck = join(dir, 'pre.safetensors');
    const b = runCli(['predict', '--checkpoint', ck, '--task', 'pathmnist', '--input', join(dir, 'batch.npy'), '--json']);
    expect(b.code).toBe(0);
    const jb = JSON.parse(b.stdout);
    expect(jb.probabilities).toHaveLength(3);
    expect(jb.class_names).toHaveLength(9);
    expect(jb.labels).toHaveLength(3); // the predicted class of each input
    for (const row of jb.probabilities) expect(row.reduce((a: number, v: number) => a + v, 0)).toBeCloseTo(1, 5);
    const one = runCli(['predict', '--checkpoint', ck, '--task', 'pathmnist', '--input', join(dir, 'one.npy'), '--json']);
    const p1 = JSON.parse(one.stdout).probabilities[0] as number[];
    p1.forEach((v, c) => expect(v).toBeCloseTo(jb.probabilities[0][c], 6));
    // The same first image as a PNG file gives the same probabilities.
    const png = new PNG({ width: 28, height: 28 });
    const px = imgs.data as Uint8Array;
    for (let p = 0; p < 28 * 28; p++) {
      png.data[4 * p] = px[3 * p]!;
      png.data[4 * p + 1] = px[3 * p + 1]!;
      png.data[4 * p + 2] = px[3 * p + 2]!;
      png.data[4 * p + 3] = 255;
    }
    writeFileSync(join(dir, 'one.png'), PNG.sync.write(png));
    const fromPng = runCli(['predict', '--checkpoint', ck, '--task', 'pathmnist', '--input', join(dir, 'one.png'), '--json']);
    expect(fromPng.code).toBe(0);
    (JSON.parse(fromPng.stdout).probabilities[0] as number[]).forEach((v, c) => expect(v).toBeCloseTo(jb.probabilities[0][c], 6));
    const vol = synthesize('organmnist3d', { sizes: { train: 1, val: 1, test: 2 }, seed: 5 }).arrays.test_images!;
    writeFileSync(join(dir, 'vol.npy'), writeNpy(vol));
    const v = runCli(['predict', '--checkpoint', ck, '--task', 'organmnist3d', '--input', join(dir, 'vol.npy'), '--json']);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout).probabilities).toHaveLength(2);
  });

  it('exports an inference ONNX model', () => {
    const out = join(dir, 'lora.onnx');
    const r = runCli(['export', '--checkpoint', join(dir, 'ft-lora.safetensors'), '--task', 'pathmnist', '--out', out, '--json']);
    expect(r.code).toBe(0);
    expect(readFileSync(out).length).toBeGreaterThan(100_000);
  });
});

describe('bad input: one clear line, exit 2, nothing partial written', () => {
  const finetuneArgs = (dataDir: string, out: string) => ['finetune', '--data-dir', dataDir, '--task', 'pathmnist', '--method', 'scratch', '--steps', '1', ...tiny, '--out', out, '--quiet'];

  it('a truncated .npz', () => {
    const d = mkdtempSync(join(tmpdir(), 'bad-'));
    const good = readFileSync(join(dir, 'pathmnist.npz'));
    writeFileSync(join(d, 'pathmnist.npz'), good.subarray(0, Math.floor(good.length / 2)));
    expectCleanFailure(runCli(finetuneArgs(d, join(d, 'out.safetensors'))), /pathmnist\.npz/);
    expectNoLeftovers(d, ['pathmnist.npz']);
  });

  it('a file that is not a zip', () => {
    const d = mkdtempSync(join(tmpdir(), 'bad-'));
    writeFileSync(join(d, 'pathmnist.npz'), 'this is not a zip archive at all, just text'.repeat(10));
    expectCleanFailure(runCli(finetuneArgs(d, join(d, 'out.safetensors'))), /pathmnist\.npz.*zip/i);
    expectNoLeftovers(d, ['pathmnist.npz']);
  });

  it('labels out of range', () => {
    const d = mkdtempSync(join(tmpdir(), 'bad-'));
    const s = synthesize('pathmnist', { sizes: { train: 16, val: 4, test: 4 }, seed: 3 });
    const labels = (s.arrays.train_labels!.data as Uint8Array).slice();
    labels[5] = 42;
    writeFileSync(join(d, 'pathmnist.npz'), encodeNpz({ ...s.arrays, train_labels: npyArray('uint8', [16, 1], labels) }));
    expectCleanFailure(runCli(finetuneArgs(d, join(d, 'out.safetensors'))), /42/);
    expectNoLeftovers(d, ['pathmnist.npz']);
  });

  it('images of the wrong shape for the task', () => {
    const d = mkdtempSync(join(tmpdir(), 'bad-'));
    const gray = synthesize('pneumoniamnist', { sizes: { train: 16, val: 4, test: 4 }, seed: 3 }); // [N,28,28] grayscale
    writeFileSync(join(d, 'pathmnist.npz'), encodeNpz(gray.arrays));
    expectCleanFailure(runCli(finetuneArgs(d, join(d, 'out.safetensors'))), /pathmnist|shape|RGB/i);
    expectNoLeftovers(d, ['pathmnist.npz']);
  });

  it('a .npy input with an unsupported dtype or a lying header', () => {
    const d = mkdtempSync(join(tmpdir(), 'bad-'));
    writeFileSync(join(d, 'f64.npy'), writeNpy(npyArray('float64', [28, 28, 3], new Float64Array(28 * 28 * 3))));
    const ck = join(dir, 'pre.safetensors');
    expectCleanFailure(runCli(['predict', '--checkpoint', ck, '--task', 'pathmnist', '--input', join(d, 'f64.npy')]), /float64|dtype/);
    const good = writeNpy(npyArray('uint8', [2, 28, 28, 3], new Uint8Array(2 * 28 * 28 * 3)));
    writeFileSync(join(d, 'lie.npy'), good.subarray(0, good.length - 100));
    expectCleanFailure(runCli(['predict', '--checkpoint', ck, '--task', 'pathmnist', '--input', join(d, 'lie.npy')]), /lie\.npy/);
    expectCleanFailure(runCli(['predict', '--checkpoint', ck, '--task', 'organmnist3d', '--input', join(dir, 'one.npy')]), /shape|28,28,28/);
  });

  it('a checkpoint from another config', async () => {
    const d = mkdtempSync(join(tmpdir(), 'bad-'));
    const f = await loadSafetensors(join(dir, 'pre.safetensors'));
    const cfg = JSON.parse(f.metadata!.stmedfm_config!);
    cfg.model.dim = 32;
    const tensors = new Map([...f.tensors].map(([k, t]) => [k, { dtype: 'F32' as const, shape: t.shape, data: t.data }]));
    await saveSafetensors(join(d, 'other.safetensors'), tensors, { ...f.metadata, stmedfm_config: JSON.stringify(cfg) });
    const r = runCli(['finetune', '--data-dir', dir, '--task', 'pathmnist', '--method', 'full', '--from', join(d, 'other.safetensors'), '--steps', '1', ...tiny, '--out', join(d, 'out.safetensors')]);
    expectCleanFailure(r, /other\.safetensors.*shape/);
    expectNoLeftovers(d, ['other.safetensors']);
  });

  it('a malformed flag is a usage error (exit 2) that names the flag', () => {
    const r = runCli(['finetune', '--task', 'pathmnist', '--method', 'lora', '--steps', 'abc', '--out', 'never.safetensors']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^stmedfm: error: option '--steps <n>' argument 'abc' is invalid/);
    expect(existsSync('never.safetensors')).toBe(false);
  });

  it('an unknown task or method, and a missing --from', () => {
    const d = mkdtempSync(join(tmpdir(), 'bad-'));
    expectCleanFailure(runCli(['finetune', '--data-dir', dir, '--task', 'pathmnis', '--method', 'scratch', '--out', join(d, 'o.safetensors')]), /unknown MedMNIST dataset 'pathmnis'.*pathmnist/);
    expectCleanFailure(runCli(['finetune', '--data-dir', dir, '--task', 'pathmnist', '--method', 'prompt', '--out', join(d, 'o.safetensors')]), /unknown --method 'prompt'/);
    // Without --from, lora starts from the packaged backbone (test/cli/custom_task.test.ts); --from none is refused.
    expectCleanFailure(runCli(['finetune', '--data-dir', dir, '--task', 'pathmnist', '--method', 'lora', '--from', 'none', '--out', join(d, 'o.safetensors')]), /--from none/);
    expectCleanFailure(runCli(['evaluate', '--checkpoint', join(dir, 'ft-lora.safetensors'), '--data-dir', dir, '--task', 'bloodmnist']), /unknown task 'bloodmnist' for this model/);
    expectNoLeftovers(d, []);
  });
});
