/**
 * Resuming: an interrupted run continued with --resume ends with the same weights as an
 * uninterrupted run (which also pins AdamW's step count and the batch order), and a resume
 * point from another run is refused before any training step.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type TaskData, loadTaskFile } from '../../src/data/index.js';
import { MODEL_CONFIGS } from '../../src/model/config.js';
import { type LoadedModel, loadResumePoint, partialPath, saveTrainingPair } from '../../src/training/checkpoint.js';
import { UserError } from '../../src/training/errors.js';
import { type TrainedModel, evaluate, finetune, pretrain, trainingState } from '../../src/training/workflows.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

const { dir } = makeTmpDir();
const loaded = new Map<string, TaskData>([
  ['pathmnist', loadTaskFile('pathmnist', synthDataFile('pathmnist', { dir, seed: 1 }).file)],
  ['organmnist3d', loadTaskFile('organmnist3d', synthDataFile('organmnist3d', { dir, seed: 2 }).file)],
  ['bloodmnist', loadTaskFile('bloodmnist', synthDataFile('bloodmnist', { dir, seed: 3 }).file)],
]);
const tiny = { loaded, batch2d: 8, batch3d: 2, seed: 3 };

/** Stops after `k` steps, as Ctrl-C does. */
const stopAfter = (k: number) => {
  let n = 0;
  return { onStep: () => void n++, shouldStop: () => n >= k };
};

function maxDiff(a: TrainedModel | LoadedModel, b: TrainedModel | LoadedModel): number {
  let m = 0;
  for (const name of a.store.names()) {
    const x = a.store.get(name).data;
    const y = b.store.get(name).data;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  }
  return m;
}

async function savePartial(t: TrainedModel, out: string): Promise<string> {
  const p = partialPath(out);
  await saveTrainingPair(p, trainingState(t));
  return p;
}

let pre: TrainedModel;
const preOpts = { ...tiny, tasks: ['pathmnist', 'organmnist3d'], steps: 6, optim: { warmup: 2 } };
beforeAll(async () => {
  pre = await pretrain(preOpts);
});

describe('resume equals an uninterrupted run', () => {
  it('pretrain: 6 steps == 2 steps + resume to 6', async () => {
    const opts = preOpts;
    const cut = await pretrain({ ...opts, ...stopAfter(2) });
    expect(cut.result.interrupted).toBe(true);
    expect(cut.result.stepsDone).toBe(2);
    const p = await savePartial(cut, `${dir}/pre.safetensors`);
    const resumed = await pretrain({ ...opts, steps: undefined, resumeFrom: p });
    expect(resumed.result.startStep).toBe(2);
    expect(resumed.result.stepsDone).toBe(6);
    expect(resumed.result.interrupted).toBe(false);
    expect(maxDiff(resumed, pre)).toBeLessThan(1e-6);
    // The comparison can fail: stopping early gives other weights.
    expect(maxDiff(cut, pre)).toBeGreaterThan(1e-4);
    expect(resumed.training.trained_heads).toEqual(['pathmnist', 'organmnist3d']);
  });

  it.each(['full', 'lora', 'scratch-weighted'] as const)('finetune %s: 5 steps == 3 steps + resume to 5', async (method) => {
    const opts = { ...tiny, task: 'pathmnist', method, steps: 5, optim: { warmup: 1 }, ...(method === 'scratch-weighted' ? {} : { from: pre }) };
    const whole = await finetune(opts);
    const cut = await finetune({ ...opts, ...stopAfter(3) });
    const p = await savePartial(cut, `${dir}/ft-${method}.safetensors`);
    const resumed = await finetune({ ...opts, resumeFrom: p });
    expect(resumed.result.startStep).toBe(3);
    expect(maxDiff(resumed, whole)).toBeLessThan(1e-6);
    expect(maxDiff(cut, whole)).toBeGreaterThan(1e-5);
    expect(resumed.training.trained_heads).toEqual(['pathmnist']);
  });
});

describe('a resume point from another run is refused before training', () => {
  let partial: string;
  const base = { ...tiny, task: 'pathmnist', method: 'lora' as const, steps: 4 };

  beforeAll(async () => {
    const cut = await finetune({ ...base, from: pre, ...stopAfter(2) });
    partial = await savePartial(cut, `${dir}/lora.safetensors`);
    expect((await loadResumePoint(partial)).stepsDone).toBe(2);
  });

  const refused = async (o: Parameters<typeof finetune>[0], message: RegExp) => {
    let steps = 0;
    const err = await finetune({ ...o, resumeFrom: partial, onStep: () => void steps++ }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(message);
    expect(steps).toBe(0);
  };

  it('another task', () => refused({ ...base, from: pre, task: 'organmnist3d' }, /task "pathmnist" vs "organmnist3d"/));
  it('another method', () => refused({ ...base, from: pre, method: 'adapter' }, /method "lora" vs "adapter"/));
  it('another LoRA rank', () => refused({ ...base, from: pre, lora: { r: 8 } }, /PEFT config .*"r":4.* vs .*"r":8/));
  it('another model', async () => {
    const scratch = { ...base, method: 'scratch' as const };
    const cut = await finetune({ ...scratch, ...stopAfter(1) });
    const p = await savePartial(cut, `${dir}/scratch.safetensors`);
    const err = await finetune({ ...scratch, config: MODEL_CONFIGS['stmedfm-small'], resumeFrom: p }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/other settings .*model \{"name":"stmedfm-tiny".* vs \{"name":"stmedfm-small"/);
  });
  it('another seed or learning rate', async () => {
    await refused({ ...base, from: pre, seed: 9 }, /seed 3 vs 9/);
    await refused({ ...base, from: pre, optim: { lr: 0.5 } }, /optim/);
  });
  it('other training data (another file for the task, or the same file changed)', async () => {
    const other = new Map(loaded);
    other.set('pathmnist', loadTaskFile('pathmnist', synthDataFile('pathmnist', { dir, seed: 11, fileName: 'pathmnist-other.npz' }).file));
    await refused({ ...base, from: pre, loaded: other }, /the training data differ \(content fingerprint "[0-9a-f]{16}" vs "[0-9a-f]{16}"/);
    // one flipped label is other data too
    const train = loaded.get('pathmnist')!.train;
    const labels = Int32Array.from(train.labels);
    labels[0] = (labels[0]! + 1) % 9;
    const flipped = new Map(loaded);
    flipped.set('pathmnist', { ...loaded.get('pathmnist')!, train: { ...train, labels } });
    await refused({ ...base, from: pre, loaded: flipped }, /the training data differ/);
    // pretraining too
    const cut = await pretrain({ ...preOpts, ...stopAfter(1) });
    const p = await savePartial(cut, `${dir}/pre-data.safetensors`);
    const e = await pretrain({ ...preOpts, loaded: other, resumeFrom: p }).catch((x) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/the training data differ/);
  });
  it('--steps at or below the steps already done', async () => {
    await refused({ ...base, from: pre, steps: 2 }, /--steps 2 is not above the 2 steps/);
    await refused({ ...base, from: pre, steps: 1 }, /--steps 1 is not above the 2 steps/);
  });
  it('a pretraining checkpoint given to finetune, or to a pretraining of other tasks or batches', async () => {
    const cut = await pretrain({ ...tiny, tasks: ['pathmnist'], steps: 3, ...stopAfter(1) });
    const p = await savePartial(cut, `${dir}/pre-cut.safetensors`);
    const err = await finetune({ ...base, from: pre, resumeFrom: p }).catch((e) => e);
    expect(err.message).toMatch(/is a pretrain checkpoint; `finetune` cannot continue it/);
    for (const [o, msg] of [
      [{ tasks: ['pathmnist', 'bloodmnist'] }, /heads pathmnist vs pathmnist,bloodmnist/],
      [{ tasks: ['pathmnist'], batch2d: 4 }, /batch2d 8 vs 4/],
    ] as const) {
      let steps = 0;
      const e = await pretrain({ ...tiny, steps: 3, ...o, resumeFrom: p, onStep: () => void steps++ }).catch((x) => x);
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toMatch(msg);
      expect(steps).toBe(0);
    }
  });
});

describe('training input problems are one clear UserError', () => {
  it('negative weight decay', async () => {
    const err = await finetune({ ...tiny, task: 'pathmnist', method: 'scratch', steps: 1, optim: { weightDecay: -0.1 } }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/--weight-decay must be >= 0/);
  });

  it('--from with a scratch method', async () => {
    const err = await finetune({ ...tiny, task: 'pathmnist', method: 'scratch', steps: 1, from: pre }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/does not use --from/);
  });

  it('an empty val or test split: fine-tuning warns, evaluating it is refused', async () => {
    const { file } = synthDataFile('pathmnist', { dir: makeTmpDir().dir, sizes: { train: 16, val: 0, test: 4 } });
    const noVal = new Map([['pathmnist', loadTaskFile('pathmnist', file)]]);
    const t = await finetune({ ...tiny, loaded: noVal, task: 'pathmnist', method: 'scratch', steps: 1 });
    expect(t.result.warnings.join('\n')).toMatch(/the val split of pathmnist is empty, so `evaluate --split val` and temperature scaling cannot use this file/);
    for (const [o, msg] of [
      [{ split: 'val' as const }, /the val split of pathmnist is empty .*nothing to evaluate/],
      [{ split: 'test' as const, temperature: true }, /the val split of pathmnist is empty .*--no-temperature/],
    ] as const) {
      const err = await evaluate(t, { task: 'pathmnist', loaded: noVal, ...o }).catch((e) => e);
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toMatch(msg);
    }
    expect((await evaluate(t, { task: 'pathmnist', loaded: noVal, split: 'test' })).n).toBe(4);
  });

  it('an empty train split names the file and the task', async () => {
    const { file } = synthDataFile('pathmnist', { dir: makeTmpDir().dir, sizes: { train: 0, val: 4, test: 4 } });
    const empty = new Map([['pathmnist', loadTaskFile('pathmnist', file)]]);
    for (const run of [
      () => finetune({ ...tiny, loaded: empty, task: 'pathmnist', method: 'scratch', steps: 1 }),
      () => pretrain({ ...tiny, loaded: empty, tasks: ['pathmnist'], steps: 1 }),
    ]) {
      const err = await run().catch((e) => e);
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toContain(file);
      expect(err.message).toMatch(/train split of pathmnist is empty/);
    }
  });
});
