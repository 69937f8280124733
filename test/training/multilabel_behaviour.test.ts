/**
 * Multi-label tasks (ChestMNIST-style) end to end: a sigmoid head trained with binary
 * cross-entropy learns a synthetic task whose labels are learnable, evaluation reports the
 * medmnist metrics on sigmoid probabilities, and the head's kind survives a checkpoint.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTask, multiLabelTargets, npyArray, toInput, writeNpz, type NpyArray, type TaskData } from '../../src/data/index.js';
import { interpret } from '../../src/engine/interp.js';
import { evaluateMultilabel } from '../../src/evaluation/index.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { loadModel, saveModel } from '../../src/training/checkpoint.js';
import { UserError } from '../../src/training/errors.js';
import { buildForwardGraph, buildLossGraph } from '../../src/training/graphs.js';
import { taskHead } from '../../src/training/tasks.js';
import { evaluate, finetune, pretrain } from '../../src/training/workflows.js';
import { Rng } from '../../src/util/rng.js';
import { SMALL_28_WIDE as SMALL } from '../helpers/models.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

let dataDir: string;
let chest: TaskData;

/**
 * ChestMNIST-layout data whose labels are plainly learnable: label j (prevalence 0.3) lights
 * cell j of a 4 x 4 grid of 7 x 7 cells; everything else is noise.
 */
function writeCellsTask(file: string, seed: number): void {
  const rng = new Rng(seed);
  const arrays: Record<string, NpyArray> = {};
  for (const [split, n] of [['train', 384], ['val', 64], ['test', 200]] as const) {
    const images = new Uint8Array(n * 28 * 28);
    const labels = new Uint8Array(n * 14);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 14; j++) labels[i * 14 + j] = rng.next() < 0.3 ? 1 : 0;
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          const cell = Math.floor(y / 7) * 4 + Math.floor(x / 7);
          const on = cell < 14 && labels[i * 14 + cell] === 1;
          images[i * 784 + y * 28 + x] = Math.max(0, Math.min(255, Math.round((on ? 170 : 80) + 30 * rng.normal())));
        }
      }
    }
    arrays[`${split}_images`] = npyArray('uint8', [n, 28, 28], images);
    arrays[`${split}_labels`] = npyArray('uint8', [n, 14], labels);
  }
  writeNpz(file, arrays);
}

beforeAll(() => {
  dataDir = makeTmpDir().dir;
  writeCellsTask(join(dataDir, 'chestmnist.npz'), 11);
  chest = loadTask('chestmnist', { dataDir });
});

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

describe('multi-label head', () => {
  it('is a 14-output sigmoid head for ChestMNIST (no longer refused)', () => {
    expect(taskHead('chestmnist')).toEqual({ name: 'chestmnist', numClasses: 14, modality: '2d', multiLabel: true });
  });

  it('trains on the mean binary cross-entropy over all labels, and predicts sigmoid probabilities', () => {
    const model = new STMedFM(SMALL, [taskHead('chestmnist')]);
    const store = ParamStore.init(model.specs(), 1);
    const idx = [0, 1, 2, 3];
    const x = toInput(chest.train, idx);
    const t = multiLabelTargets(chest.train, idx);
    const lg = buildLossGraph(model, store, new Set(), [{ task: 'chestmnist', batchSize: 4 }]);
    const names = lg.inputNames.get('chestmnist')!;
    const [loss, logits] = interpret(
      lg.graph,
      { [names.x]: { dtype: 'float', shape: x.shape, data: Float64Array.from(x.data) }, [names.y]: { dtype: 'float', shape: [4, 14], data: Float64Array.from(t) } },
      [lg.loss, lg.logits.get('chestmnist')!],
    );
    let bce = 0;
    logits!.data.forEach((z, i) => {
      const p = sigmoid(z);
      bce -= t[i] === 1 ? Math.log(p) : Math.log(1 - p);
    });
    expect(loss!.data[0]).toBeCloseTo(bce / 56, 10);

    const fwd = buildForwardGraph(model, store, 'chestmnist', 4);
    const [z, p] = interpret(fwd.graph, { x: { dtype: 'float', shape: x.shape, data: Float64Array.from(x.data) } }, [...fwd.graph.outputs.values()]);
    p!.data.forEach((v, i) => expect(v).toBeCloseTo(sigmoid(z!.data[i]!), 12));
  });

  it('learns a synthetic task with learnable labels: test mean AUROC well above 0.5', async () => {
    const ft = await finetune({ task: 'chestmnist', method: 'scratch', config: SMALL, data: { dataDir }, steps: 200, batch2d: 32, seed: 0, optim: { lr: 1e-2 } });
    const r = await evaluate(ft, { task: 'chestmnist', split: 'test', data: { dataDir }, temperature: true });
    expect(r.multi_label).toBe(true);
    expect(r.n).toBe(200);
    expect(r.auroc).toBeGreaterThan(0.8);
    expect(r.per_label_ece).toHaveLength(14);
    expect(r.temperature).toBeUndefined();
    // The reported numbers are the medmnist metrics of the sigmoid probabilities and the 0/1 targets.
    const m = evaluateMultilabel({ probs: r.probs }, chest.test.labels, 14);
    expect(r.acc).toBeCloseTo(m.acc, 12);
    expect(r.auroc).toBeCloseTo(m.auroc, 6);

    // The head's kind survives a checkpoint.
    const file = join(makeTmpDir().dir, 'chest.safetensors');
    await saveModel(file, ft.model, ft.store);
    const back = await loadModel(file);
    expect(back.model.head('chestmnist').multiLabel).toBe(true);
    const again = await evaluate(back, { task: 'chestmnist', split: 'test', data: { dataDir } });
    expect(again.auroc).toBe(r.auroc);
  });

  it('pretrains alongside a single-label task (one graph, BCE and cross-entropy summed), moving both heads', async () => {
    synthDataFile('pathmnist', { dir: dataDir, seed: 2 });
    const pre = await pretrain({ tasks: ['chestmnist', 'pathmnist'], config: SMALL, data: { dataDir }, steps: 2, batch2d: 8, seed: 1, optim: { warmup: 0 } });
    const init = ParamStore.init(pre.model.specs(), 1);
    for (const name of ['heads.chestmnist.weight', 'heads.pathmnist.weight', 'stem2d.c1.weight']) {
      expect(Array.from(pre.store.get(name).data).some((v, i) => v !== init.get(name).data[i]), name).toBe(true);
    }
    expect(pre.model.head('chestmnist').multiLabel).toBe(true);
    expect(pre.model.head('pathmnist').multiLabel).toBeUndefined();
  });

  it('refuses class weights and --shots for a multi-label task, before training', async () => {
    for (const extra of [{ method: 'scratch-weighted' as const }, { method: 'scratch' as const, shots: 5 }]) {
      const e = await finetune({ task: 'chestmnist', config: SMALL, data: { dataDir }, steps: 1, ...extra }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(UserError);
      expect((e as Error).message).toMatch(/chestmnist is a multi-label task: .* need one class per sample/);
    }
  });
});
