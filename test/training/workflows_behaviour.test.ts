/**
 * What the training workflows actually do, observed from their results on a small model and
 * synthetic data (no fixtures to agree with): which tensors AdamW decays, that multi-task
 * pretraining moves every stem, encoder and head tensor, that the seed decides the batch order,
 * that the temperature is fitted on val, and that few-shot class weights come from the k-shot pool.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTask, type TaskData } from '../../src/data/index.js';
import { fitTemperature } from '../../src/evaluation/index.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { taskHead } from '../../src/training/tasks.js';
import { train, type TaskStream } from '../../src/training/trainer.js';
import { evaluate, finetune, pretrain } from '../../src/training/workflows.js';
import { SMALL_28 as SMALL } from '../helpers/models.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

let dataDir: string;
let path: TaskData;

beforeAll(() => {
  dataDir = makeTmpDir().dir;
  // Imbalanced train split (ratio 10 between the most and least frequent class), balanced k-shot pools.
  synthDataFile('pathmnist', { dir: dataDir, seed: 1, imbalance: 10, sizes: { train: 300, val: 48, test: 48 } });
  synthDataFile('bloodmnist', { dir: dataDir, seed: 2 });
  synthDataFile('organmnist3d', { dir: dataDir, seed: 3 });
  path = loadTask('pathmnist', { dataDir });
});

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** Decay by the kind of tensor, from its name alone. */
function shouldDecay(name: string): boolean {
  return !(name.endsWith('.bias') || /(^|\.)(ln\d?|norm)\.weight$/.test(name) || name.endsWith('.pos'));
}

describe('AdamW weight decay in a training step', () => {
  it('shrinks weight matrices and conv kernels, and leaves biases, LayerNorm and position embeddings alone', async () => {
    const model = new STMedFM(SMALL, [taskHead('pathmnist')]);
    const store = ParamStore.init(model.specs(), 0);
    const trainable = model.trainableSpecs('pathmnist', 'full');
    const stream: TaskStream = { task: 'pathmnist', split: path.train, batchSize: 8 };
    const run = (weightDecay: number) => train(model, store, trainable, [stream], { steps: 1, seed: 0, optim: { warmup: 0, weightDecay } });
    const [plain, decayed] = [await run(0), await run(0.5)];
    const decays: string[] = [];
    for (const s of trainable) {
      const d = maxDiff(plain.store.get(s.name).data, decayed.store.get(s.name).data);
      if (d > 0) decays.push(s.name);
    }
    expect(decays.sort()).toEqual(trainable.map((s) => s.name).filter(shouldDecay).sort());
    expect(decays.some((n) => n.endsWith('.bias'))).toBe(false);
  });
});

describe('multi-task pretraining (2D + 3D)', () => {
  it('moves every stem, encoder and head tensor of every task', async () => {
    const tasks = ['pathmnist', 'bloodmnist', 'organmnist3d'];
    const pre = await pretrain({ tasks, config: SMALL, data: { dataDir }, steps: 2, seed: 3, batch2d: 8, batch3d: 2, optim: { warmup: 0 } });
    const init = ParamStore.init(new STMedFM(SMALL, tasks.map(taskHead)).specs(), 3);
    const specs = pre.model.specs();
    for (const prefix of ['stem2d.', 'stem3d.', 'blocks.', 'norm.', ...tasks.map((t) => `heads.${t}.`)]) {
      expect(specs.some((s) => s.name.startsWith(prefix)), prefix).toBe(true);
    }
    const still = specs.filter((s) => maxDiff(pre.store.get(s.name).data, init.get(s.name).data) === 0).map((s) => s.name);
    expect(still).toEqual([]);
    expect(pre.result.trainableCount).toBe(specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0));
  });
});

describe('the seed decides the batch order', () => {
  it('same initial weights, same seed: same result; another seed: other batches, other result', async () => {
    const model = new STMedFM(SMALL, [taskHead('pathmnist')]);
    const store = ParamStore.init(model.specs(), 5);
    const trainable = model.trainableSpecs('pathmnist', 'full');
    const stream: TaskStream = { task: 'pathmnist', split: path.train, batchSize: 8 };
    // Only the batch order depends on `seed` here: the weights are given.
    const run = async (seed: number) => (await train(model, store, trainable, [stream], { steps: 2, seed, optim: { warmup: 0 } })).store.get('heads.pathmnist.weight').data;
    const [a, b, c] = [await run(0), await run(0), await run(1)];
    expect(maxDiff(a, b)).toBe(0);
    expect(maxDiff(a, c)).toBeGreaterThan(1e-6);
  });
});

describe('temperature scaling in evaluate', () => {
  it('fits T on the val split, not on the split being evaluated', async () => {
    const ft = await finetune({ task: 'pathmnist', method: 'scratch', config: SMALL, data: { dataDir }, steps: 15, batch2d: 16, seed: 0 });
    const test = await evaluate(ft, { task: 'pathmnist', split: 'test', data: { dataDir }, temperature: true });
    const val = await evaluate(ft, { task: 'pathmnist', split: 'val', data: { dataDir } });
    const onVal = fitTemperature({ shape: [val.n, 9], data: val.logits }, val.labels);
    const onTest = fitTemperature({ shape: [test.n, 9], data: test.logits }, test.labels);
    // The two splits give different temperatures, so the check below can tell them apart.
    expect(Math.abs(onVal.temperature - onTest.temperature)).toBeGreaterThan(1e-3);
    expect(test.temperature!.t).toBeCloseTo(onVal.temperature, 6);
  });
});

describe('few-shot class weights (scratch-weighted --shots k)', () => {
  it('come from the k-shot pool: a balanced pool weighs every class 1, as unweighted training', async () => {
    const opts = { task: 'pathmnist', config: SMALL, data: { dataDir }, steps: 2, batch2d: 8, seed: 4, shots: 3 } as const;
    const weighted = await finetune({ ...opts, method: 'scratch-weighted' });
    const plain = await finetune({ ...opts, method: 'scratch' });
    expect(weighted.result.warnings.filter((w) => /fewer|only/.test(w))).toEqual([]);
    // Weights from the imbalanced full train split would change the very first loss.
    expect(weighted.result.losses[0]).toBeCloseTo(plain.result.losses[0]!, 5);
    expect(maxDiff(weighted.store.get('heads.pathmnist.weight').data, plain.store.get('heads.pathmnist.weight').data)).toBeLessThan(1e-5);
  });
});
