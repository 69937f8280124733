/**
 * Calibration travels with the model (issue 9, item 4): `finetune` fits a temperature on the
 * validation split and stores it in the checkpoint and the adapter config; `predict` and the
 * exported ONNX model return softmax(logits / T) by default and raw probabilities with
 * `--no-calibration`; `evaluate` reports raw and calibrated metrics with the stored T.
 * Every expected value is computed here, independently of the code under test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTask, toInput, type TaskData } from '../../src/data/index.js';
import { readOnnxMetadata } from '../../src/engine/onnx/inspect.js';
import { ForwardSession } from '../../src/engine/runtime/session.js';
import { floatTensor } from '../../src/engine/runtime/tensors.js';
import { fitTemperature } from '../../src/evaluation/index.js';
import { applyAdapter } from '../../src/inference/adapter.js';
import { Predictor } from '../../src/inference/predictor.js';
import { ADAPTER_CONFIG_NAME, readPeftAdapter } from '../../src/io/peft_files.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { type LoadedModel, loadModel, saveModel } from '../../src/training/checkpoint.js';
import { taskHead } from '../../src/training/tasks.js';
import { evaluate, finetune } from '../../src/training/workflows.js';
import { runCli } from '../helpers/cli.js';
import { SMALL_28_WIDE as SMALL } from '../helpers/models.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

let dir: string;
let dataFile: string;
let data: TaskData;

/** Mean NLL of softmax(logits / t) over rows, in float64 (written out here, not the library's). */
function nllAt(logits: ArrayLike<number>, labels: ArrayLike<number>, c: number, t: number): number {
  let s = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = Array.from({ length: c }, (_, j) => logits[i * c + j]! / t);
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, z) => a + Math.exp(z - mx), 0));
    s += lse - row[labels[i]!]!;
  }
  return s / labels.length;
}

function softmaxOver(logits: ArrayLike<number>, c: number, t: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < logits.length / c; i++) {
    const z = Array.from({ length: c }, (_, j) => logits[i * c + j]! / t);
    const mx = Math.max(...z);
    const e = z.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, b) => a + b, 0);
    rows.push(e.map((v) => v / s));
  }
  return rows;
}

const maxAbsDiff = (a: number[][], b: ArrayLike<number>[]) => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i]![j]!))));

beforeAll(() => {
  dir = makeTmpDir('stmedfm-calib-').dir;
  dataFile = synthDataFile('pathmnist', { dir, seed: 5, sizes: { train: 256, val: 64, test: 64 } }).file;
  data = loadTask('pathmnist', { dataDir: dir });
});

describe('finetune fits and stores a temperature', () => {
  it('fits T on the validation split (not test), and the stored T lowers the validation NLL', async () => {
    const ft = await finetune({ task: 'pathmnist', method: 'scratch', config: SMALL, data: { dataDir: dir }, steps: 40, batch2d: 32, seed: 0, optim: { lr: 3e-3 } });
    const cal = ft.config.calibration?.pathmnist;
    expect(cal).toBeDefined();
    expect(cal!.split).toBe('val');
    const val = await evaluate(ft, { task: 'pathmnist', split: 'val', data: { dataDir: dir } });
    const test = await evaluate(ft, { task: 'pathmnist', split: 'test', data: { dataDir: dir } });
    const before = nllAt(val.logits, val.labels, 9, 1);
    const after = nllAt(val.logits, val.labels, 9, cal!.temperature);
    // The stored T lowers the validation NLL, by a margin (the model is not calibrated by chance).
    expect(after).toBeLessThan(before - 1e-3);
    expect(cal!.nll_before).toBeCloseTo(before, 4);
    expect(cal!.nll_after).toBeCloseTo(after, 4);
    // It is the minimiser on val: nearby temperatures do no better.
    for (const f of [0.9, 1.1]) expect(nllAt(val.logits, val.labels, 9, cal!.temperature * f)).toBeGreaterThan(after);
    // It is the val split's temperature, not the test split's (they differ here, so the check can tell them apart).
    const onVal = fitTemperature({ shape: [val.n, 9], data: val.logits }, val.labels).temperature;
    const onTest = fitTemperature({ shape: [test.n, 9], data: test.logits }, test.labels).temperature;
    expect(Math.abs(onTest - onVal)).toBeGreaterThan(1e-3);
    expect(cal!.temperature).toBeCloseTo(onVal, 6);
    expect(ft.result.warnings.filter((w) => /temperature/.test(w))).toEqual([]);
  });

  it('stores nothing for a multi-label task or an empty val split, and warns once', async () => {
    const chestDir = makeTmpDir().dir;
    synthDataFile('chestmnist', { dir: chestDir, seed: 2, sizes: { train: 32, val: 16, test: 16 } });
    const chest = await finetune({ task: 'chestmnist', method: 'scratch', config: SMALL, data: { dataDir: chestDir }, steps: 2, batch2d: 8 });
    expect(chest.config.calibration).toBeUndefined();
    expect(chest.result.warnings.filter((w) => /multi-label: no temperature/.test(w))).toHaveLength(1);
    synthDataFile('pathmnist', { dir: chestDir, seed: 3, sizes: { train: 32, val: 0, test: 16 } });
    const noVal = await finetune({ task: 'pathmnist', method: 'scratch', config: SMALL, data: { dataDir: chestDir }, steps: 2, batch2d: 8 });
    expect(noVal.config.calibration).toBeUndefined();
    expect(noVal.result.warnings.filter((w) => /val split .* empty/.test(w))).toHaveLength(1);
  });
});

describe('the temperature travels: checkpoint, adapter config, predict, export, evaluate', () => {
  let out: string;
  let adapterDir: string;
  let base: string;
  let loaded: LoadedModel;
  let t: number;
  /** Raw logits of the test split, from an uncalibrated predictor. */
  let raw: { logits: Float32Array; probs: Float32Array };

  beforeAll(async () => {
    base = join(dir, 'base.safetensors');
    const model = new STMedFM(SMALL, [taskHead('pathmnist')]);
    await saveModel(base, model, ParamStore.init(model.specs(), 4));
    out = join(dir, 'lora.safetensors');
    adapterDir = join(dir, 'lora-adapter');
    const r = runCli(['finetune', '--task', 'pathmnist', '--method', 'lora', '--from', base, '--data', `pathmnist=${dataFile}`, '--steps', '40', '--batch-2d', '32', '--lr', '0.01', '--out', out, '--adapter-dir', adapterDir, '--quiet']);
    expect(r.stderr).not.toMatch(/warning|error/);
    expect(r.code).toBe(0);
    loaded = await loadModel(out);
    t = loaded.config.calibration!.pathmnist!.temperature;
    const p = await Predictor.create(loaded.model, loaded.store, 'pathmnist', { batch: data.test.n });
    const x = toInput(data.test, Array.from({ length: data.test.n }, (_, i) => i));
    raw = await p.run(x.data, data.test.n);
    await p.release();
  }, 120_000);

  it('the checkpoint carries it, fitted on val of the fine-tuned model', async () => {
    const cal = loaded.config.calibration!.pathmnist!;
    expect(cal.split).toBe('val');
    const val = await evaluate(loaded, { task: 'pathmnist', split: 'val', data: { dataDir: dir } });
    expect(t).toBeCloseTo(fitTemperature({ shape: [val.n, 9], data: val.logits }, val.labels).temperature, 5);
    // Far enough from 1 that a raw and a calibrated prediction differ visibly.
    expect(Math.abs(Math.log(t))).toBeGreaterThan(0.05);
  });

  it('the adapter config carries it, and base + adapter loads it back', async () => {
    const cfg = JSON.parse(readFileSync(join(adapterDir, ADAPTER_CONFIG_NAME), 'utf8')) as Record<string, unknown>;
    expect(cfg.stmedfm_calibration).toEqual({ task: 'pathmnist', temperature: t, split: 'val', nll_before: loaded.config.calibration!.pathmnist!.nll_before, nll_after: loaded.config.calibration!.pathmnist!.nll_after });
    const applied = applyAdapter(await loadModel(base), await readPeftAdapter(adapterDir));
    expect(applied.calibration?.pathmnist?.temperature).toBe(t);
  });

  it('predict returns softmax(logits / T) by default and raw probabilities with --no-calibration', () => {
    const common = ['predict', '--checkpoint', out, '--task', 'pathmnist', '--input', dataFile, '--split', 'test', '--json'];
    const cal = runCli(common);
    const rawRun = runCli([...common, '--no-calibration']);
    expect(cal.code).toBe(0);
    expect(rawRun.code).toBe(0);
    const a = JSON.parse(cal.stdout) as { probabilities: number[][]; calibrated: boolean; temperature: number | null };
    const b = JSON.parse(rawRun.stdout) as { probabilities: number[][]; calibrated: boolean; temperature: number | null };
    expect([a.calibrated, a.temperature]).toEqual([true, t]);
    expect([b.calibrated, b.temperature]).toEqual([false, null]);
    const rows = (p: Float32Array) => Array.from({ length: data.test.n }, (_, i) => p.subarray(i * 9, (i + 1) * 9));
    expect(maxAbsDiff(softmaxOver(raw.logits, 9, t), a.probabilities)).toBeLessThan(1e-5);
    expect(maxAbsDiff(b.probabilities, rows(raw.probs))).toBeLessThan(1e-6);
    // The two differ: calibration is really applied.
    expect(maxAbsDiff(a.probabilities, b.probabilities)).toBeGreaterThan(1e-3);
  });

  it('the exported ONNX carries T in its metadata and its probabilities equal calibrated predict (raw logits kept)', async () => {
    const onnx = join(dir, 'm.onnx');
    const onnxRaw = join(dir, 'm-raw.onnx');
    expect(runCli(['export', '--checkpoint', out, '--task', 'pathmnist', '--out', onnx]).code).toBe(0);
    expect(runCli(['export', '--checkpoint', out, '--task', 'pathmnist', '--out', onnxRaw, '--no-calibration']).code).toBe(0);
    const meta = readOnnxMetadata(readFileSync(onnx));
    expect(Number(meta['stmedfm.temperature'])).toBe(t);
    expect(meta['stmedfm.outputs']).toMatch(/logits \/ T/);
    expect(readOnnxMetadata(readFileSync(onnxRaw))['stmedfm.temperature']).toBeUndefined();
    // Node's calibrated prediction (the predictor `predict` runs, with the checkpoint's T).
    const x = toInput(data.test, Array.from({ length: data.test.n }, (_, i) => i));
    const p = await Predictor.create(loaded.model, loaded.store, 'pathmnist', { batch: data.test.n, temperature: t });
    const r = await p.run(x.data, data.test.n);
    await p.release();
    const predicted = { probabilities: Array.from({ length: data.test.n }, (_, i) => Array.from(r.probs.subarray(i * 9, (i + 1) * 9))) };
    expect(maxAbsDiff(softmaxOver(raw.logits, 9, t), predicted.probabilities)).toBeLessThan(1e-5);
    for (const [file, expected] of [[onnx, predicted.probabilities], [onnxRaw, softmaxOver(raw.logits, 9, 1)]] as const) {
      const s = await ForwardSession.create(file);
      const o = await s.run({ x: floatTensor(x.data, [data.test.n, 3, 28, 28]) });
      await s.release();
      const probs = o.probabilities!.data as Float32Array;
      expect(maxAbsDiff(expected, Array.from({ length: data.test.n }, (_, i) => probs.subarray(i * 9, (i + 1) * 9)))).toBeLessThan(1e-4);
      const logits = o.logits!.data as Float32Array;
      logits.forEach((v, i) => expect(Math.abs(v - raw.logits[i]!)).toBeLessThan(1e-4));
    }
  });

  it('evaluate reports raw and calibrated metrics with the stored T by default; --fit-temperature refits on val', async () => {
    const r = runCli(['evaluate', '--checkpoint', out, '--task', 'pathmnist', '--data', `pathmnist=${dataFile}`, '--json']);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout) as { nll: number; temperature_scaled: { t: number; nll: number; source: string; at_bound: boolean } };
    expect(m.temperature_scaled.source).toBe('checkpoint');
    expect(m.temperature_scaled.t).toBe(t);
    const test = await evaluate(loaded, { task: 'pathmnist', split: 'test', data: { dataDir: dir } });
    expect(m.nll).toBeCloseTo(nllAt(test.logits, test.labels, 9, 1), 5);
    expect(m.temperature_scaled.nll).toBeCloseTo(nllAt(test.logits, test.labels, 9, t), 5);
    const refit = JSON.parse(runCli(['evaluate', '--checkpoint', out, '--task', 'pathmnist', '--data', `pathmnist=${dataFile}`, '--json', '--fit-temperature']).stdout) as typeof m;
    expect(refit.temperature_scaled.source).toBe('fitted on val');
    expect(refit.temperature_scaled.t).toBeCloseTo(t, 5);
    expect((await evaluate(loaded, { task: 'pathmnist', split: 'test', data: { dataDir: dir } })).temperature).toBeUndefined();
  });
});
