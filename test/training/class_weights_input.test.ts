/**
 * Class weights are a graph input fed per step, not a constant: scratch, scratch-weighted and
 * full fine-tuning of a task compile to the same ONNX bytes (so they share one compiled graph),
 * and the weighted loss fed all ones is the plain mean cross-entropy.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TaskData, loadTaskFile } from '../../src/data/index.js';
import { interpret } from '../../src/engine/interp.js';
import { toOnnxModel } from '../../src/engine/onnx/serialize.js';
import { buildTrainingGraph } from '../../src/engine/optim/train_graph.js';
import { releaseIdleSessions } from '../../src/engine/runtime/session.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { buildLossGraph, classWeightsFeed } from '../../src/training/graphs.js';
import { taskHead } from '../../src/training/tasks.js';
import { finetune, pretrain } from '../../src/training/workflows.js';
import { SMALL_28 as SMALL } from '../helpers/models.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

let loaded: Map<string, TaskData>;
beforeAll(() => {
  const { dir } = makeTmpDir();
  loaded = new Map([['bloodmnist', loadTaskFile('bloodmnist', synthDataFile('bloodmnist', { dir, seed: 5, imbalance: 6 }).file)]]);
});
afterEach(releaseIdleSessions);

/** The serialised training step of fine-tuning `method` (as the trainer builds it). */
function stepBytes(model: STMedFM, method: 'scratch' | 'full', classWeights?: number[]): Uint8Array {
  const store = ParamStore.init(model.specs(), 0);
  const trainable = model.trainableSpecs('bloodmnist', method);
  const lg = buildLossGraph(model, store, new Set(trainable.map((s) => s.name)), [{ task: 'bloodmnist', batchSize: 4, ...(classWeights ? { classWeights } : {}) }]);
  const params = [...lg.binder.trainableInputs.values()];
  const decay = new Map(trainable.map((s) => [s.name, s.decay]));
  return toOnnxModel(buildTrainingGraph(lg.graph, { loss: lg.loss, params, decay: (p) => decay.get(p.name) ?? false }).graph);
}

describe('class weights as a graph input', () => {
  it('scratch, scratch-weighted and full fine-tuning build byte-identical training graphs', () => {
    const model = new STMedFM(SMALL, [taskHead('bloodmnist')]);
    const scratch = stepBytes(model, 'scratch');
    const weighted = stepBytes(model, 'scratch', [0.5, 1, 2, 3, 1, 1, 0.25, 4]);
    const full = stepBytes(model, 'full');
    expect(Buffer.from(weighted).equals(Buffer.from(scratch))).toBe(true);
    expect(Buffer.from(full).equals(Buffer.from(scratch))).toBe(true);
  });

  it('the loss fed all ones is the plain mean cross-entropy; fed weights, the weighted mean', () => {
    const model = new STMedFM(SMALL, [taskHead('bloodmnist')]);
    const store = ParamStore.init(model.specs(), 1);
    const lg = buildLossGraph(model, store, new Set(), [{ task: 'bloodmnist', batchSize: 4 }]);
    const names = lg.inputNames.get('bloodmnist')!;
    expect(names.w).toBe('class_weights_bloodmnist');
    const x = { dtype: 'float' as const, shape: [4, 3, 28, 28], data: Float64Array.from({ length: 4 * 3 * 28 * 28 }, (_, i) => Math.sin(i * 0.37)) };
    const labels = [0, 3, 3, 7];
    const y = { dtype: 'int64' as const, shape: [4], data: Float64Array.from(labels) };
    const run = (w: Float32Array) => {
      const [loss, logits] = interpret(lg.graph, { [names.x]: x, [names.y]: y, [names.w!]: { dtype: 'float', shape: [8], data: Float64Array.from(w) } }, [lg.loss, lg.logits.get('bloodmnist')!]);
      return { loss: loss!.data[0]!, logits: logits!.data };
    };
    // Per-sample negative log-likelihood from the logits, on the host.
    const nll = (logits: Float64Array) =>
      labels.map((c, i) => {
        const row = Array.from(logits.subarray(i * 8, i * 8 + 8));
        const m = Math.max(...row);
        return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[c]!;
      });
    const ones = run(classWeightsFeed(model, { task: 'bloodmnist', batchSize: 4 })!);
    const plainMean = nll(ones.logits).reduce((a, b) => a + b, 0) / 4;
    expect(Math.abs(ones.loss - plainMean)).toBeLessThan(1e-12);
    const w = [1, 1, 1, 2, 1, 1, 1, 0.5];
    const weighted = run(classWeightsFeed(model, { task: 'bloodmnist', batchSize: 4, classWeights: w })!);
    const l = nll(weighted.logits);
    const expected = labels.reduce((s, c, i) => s + w[c]! * l[i]!, 0) / labels.reduce((s, c) => s + w[c]!, 0);
    expect(Math.abs(weighted.loss - expected)).toBeLessThan(1e-12);
    expect(Math.abs(weighted.loss - plainMean)).toBeGreaterThan(1e-3);
  });

  it('feeds each run its own weights: scratch-weighted on imbalanced data differs from scratch, and both share one compiled graph', async () => {
    const opts = { task: 'bloodmnist', config: SMALL, loaded, steps: 2, batch2d: 8, seed: 2 } as const;
    const scratch = await finetune({ ...opts, method: 'scratch' });
    const weighted = await finetune({ ...opts, method: 'scratch-weighted' });
    const pre = await pretrain({ tasks: ['bloodmnist'], config: SMALL, loaded, steps: 1, batch2d: 8 });
    await releaseIdleSessions(); // (one-task pretraining has this graph too) so that full must find it on disk
    const full = await finetune({ ...opts, method: 'full', from: pre });
    // The weights reach the loss: the very first loss (same init, same batch) changes.
    expect(Math.abs(weighted.result.losses[0]! - scratch.result.losses[0]!)).toBeGreaterThan(1e-4);
    // The same bytes: scratch-weighted takes the session scratch left; full, with no idle
    // session left, loads the graph scratch compiled from the disk cache.
    expect(scratch.result.setupSeconds.origin).not.toBe('reused');
    expect(weighted.result.setupSeconds.origin).toBe('reused');
    expect(full.result.setupSeconds.origin).toBe('disk cache');
  });
});
