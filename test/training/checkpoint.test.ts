/**
 * Checkpoint + optimizer pairs (one id in both headers, written as a group so a failure keeps
 * the previous pair whole) and checkpoints that must be refused at load.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { STMEDFM_TINY } from '../../src/model/config.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import {
  PAIR_ID_KEY,
  STEPS_DONE_KEY,
  type TrainingState,
  loadModel,
  loadResumePoint,
  optimizerPath,
  saveModel,
  saveTrainingPair,
  untrainedHeadWarning,
} from '../../src/training/checkpoint.js';
import { UserError } from '../../src/training/errors.js';
import { taskHead } from '../../src/training/tasks.js';
import { makeTmpDir } from '../helpers/synth.js';

const model = new STMedFM(STMEDFM_TINY, [taskHead('pathmnist'), taskHead('bloodmnist')]);
const store = ParamStore.init(model.specs(), 0);
const state = (steps: number, fill: number): TrainingState => ({
  model,
  store,
  training: { kind: 'finetune', task: 'pathmnist', steps: 10, stepsDone: steps, trained_heads: ['pathmnist'] },
  optimizerState: { 'm.w': new Float32Array(4).fill(fill), 'v.w': new Float32Array(4).fill(fill) },
  stepsDone: steps,
});
const refusal = async (p: Promise<unknown>): Promise<string> => {
  const e = await p.then(
    () => undefined,
    (err) => err,
  );
  expect(e).toBeInstanceOf(UserError);
  return (e as Error).message;
};
let dir: string;
beforeAll(() => {
  dir = makeTmpDir().dir;
});

describe('checkpoint + optimizer pair', () => {
  it('both headers carry the same pair id and step count', async () => {
    const p = join(dir, 'a.safetensors');
    await saveTrainingPair(p, state(3, 1));
    const ck = (await loadSafetensors(p)).metadata!;
    const op = (await loadSafetensors(optimizerPath(p))).metadata!;
    expect(ck[PAIR_ID_KEY]).toMatch(/^[0-9a-f]{16}$/);
    expect(op[PAIR_ID_KEY]).toBe(ck[PAIR_ID_KEY]);
    expect([ck[STEPS_DONE_KEY], op[STEPS_DONE_KEY]]).toEqual(['3', '3']);
    const r = await loadResumePoint(p);
    expect(r.stepsDone).toBe(3);
    expect([...r.optimizer.state['m.w']!]).toEqual([1, 1, 1, 1]);
    // Every save gets a fresh id, so two saves of the same run never pass for a pair.
    await saveTrainingPair(p, state(3, 1));
    expect((await loadSafetensors(p)).metadata![PAIR_ID_KEY]).not.toBe(ck[PAIR_ID_KEY]);
  });

  it('a checkpoint with another save\'s optimizer file, or none, is refused', async () => {
    const a = join(dir, 'm1.safetensors');
    const b = join(dir, 'm2.safetensors');
    await saveTrainingPair(a, state(3, 1));
    await saveTrainingPair(b, state(5, 2));
    copyFileSync(optimizerPath(a), optimizerPath(b)); // what a cut-short write used to leave
    expect(await refusal(loadResumePoint(b))).toMatch(/optimizer file .*m2\.optim\.safetensors belongs to another save/);
    // Another save at the same step count (another run, or the same run saved twice): only the pair id tells them apart.
    const same = join(dir, 'm3.safetensors');
    await saveTrainingPair(same, state(5, 3));
    copyFileSync(optimizerPath(same), optimizerPath(b));
    expect(await refusal(loadResumePoint(b))).toMatch(/optimizer file .*m2\.optim\.safetensors belongs to another save/);
    rmSync(optimizerPath(b));
    expect(await refusal(loadResumePoint(b))).toMatch(/no optimizer state to resume from/);
    // A checkpoint written without the pair (reproduce's) cannot be resumed either.
    const c = join(dir, 'plain.safetensors');
    await saveModel(c, model, store);
    copyFileSync(optimizerPath(a), optimizerPath(c));
    expect(await refusal(loadResumePoint(c))).toMatch(/no pair id/);
  });

  it.each([
    ['the disk fills while writing the new optimizer file', 'write:ENOSPC:.optim.'],
    ['the disk fills while writing the new checkpoint', 'write:ENOSPC:p.safetensors'],
    ['the checkpoint cannot be renamed after the optimizer file was', 'rename:EIO:p.safetensors'],
  ])('%s: the previous pair stays whole and resumable', async (_what, fault) => {
    const d = join(dir, `fault-${fault.replace(/\W/g, '')}`);
    mkdirSync(d);
    const p = join(d, 'p.safetensors');
    await saveTrainingPair(p, state(3, 1));
    const before = [readFileSync(p), readFileSync(optimizerPath(p))];
    process.env.STMEDFM_FAULT = fault;
    try {
      await expect(saveTrainingPair(p, state(6, 2))).rejects.toThrow(/ENOSPC|EIO/);
    } finally {
      delete process.env.STMEDFM_FAULT;
    }
    expect(readFileSync(p).equals(before[0]!)).toBe(true);
    expect(readFileSync(optimizerPath(p)).equals(before[1]!)).toBe(true);
    expect((await loadResumePoint(p)).stepsDone).toBe(3);
    expect(readdirSync(d).sort()).toEqual(['p.optim.safetensors', 'p.safetensors']);
  });
});

describe('checkpoints refused at load', () => {
  it('NaN or infinite weights, naming the tensor', async () => {
    const f = await loadSafetensors(join(dir, 'a.safetensors'));
    for (const [bad, kind] of [
      [NaN, 'NaN'],
      [Infinity, 'infinite'],
    ] as const) {
      const tensors = new Map([...f.tensors].map(([k, t]) => [k, { dtype: 'F32' as const, shape: t.shape, data: Float64Array.from(t.data) }]));
      tensors.get('blocks.1.qkv.weight')!.data[7] = bad;
      const p = join(dir, `bad-${kind}.safetensors`);
      await saveSafetensors(p, tensors, f.metadata!);
      expect(await refusal(loadModel(p))).toMatch(new RegExp(`tensor blocks\\.1\\.qkv\\.weight has 1 ${kind} value`));
    }
  });

  it('a folder, and an ONNX model', async () => {
    expect(await refusal(loadModel(dir))).toMatch(/is a folder; give the checkpoint file itself/);
    const onnx = join(dir, 'model.bin');
    writeFileSync(onnx, Buffer.from([0x08, 0x08, 0x12, 0x07, 0x73, 0x74, 0x6d, 0x65, 0x64, 0x66, 0x6d, 0x3a]));
    expect(await refusal(loadModel(onnx))).toMatch(/is an ONNX model/);
    writeFileSync(join(dir, 'm.onnx'), 'x');
    expect(await refusal(loadModel(join(dir, 'm.onnx')))).toMatch(/is an ONNX model/);
  });

  it('says when a task head was not trained with the checkpoint\'s weights', async () => {
    const m = await loadModel(join(dir, 'a.safetensors'));
    expect(untrainedHeadWarning(m, 'a.safetensors', 'pathmnist')).toBeUndefined();
    expect(untrainedHeadWarning(m, 'a.safetensors', 'bloodmnist')).toMatch(/bloodmnist head was not trained .*trained: pathmnist/);
  });
});
