/**
 * Inference at 2+ threads cuts each batch into one shard per thread (replicas of one intra-op
 * thread): it must give what one session gives, for every sample, in order, also when the last
 * piece fills only some shards.
 */
import { describe, expect, it } from 'vitest';
import '../../src/engine/runtime/node.js';
import { liveReplicaThreads } from '../../src/engine/runtime/replica_worker.js';
import { Predictor } from '../../src/inference/predictor.js';
import type { TaskHead } from '../../src/model/config.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { SMALL_28 } from '../helpers/models.js';

const HEADS: TaskHead[] = [{ name: 'pathmnist', numClasses: 9, modality: '2d' }];

describe('Predictor with replicas', () => {
  const model = new STMedFM(SMALL_28, HEADS);
  const store = ParamStore.init(model.specs(), 3);
  // 2 full pieces of 16, then 7 samples: the last piece runs only the first shard.
  const n = 39;
  const x = Float32Array.from({ length: n * 3 * 28 * 28 }, (_, i) => Math.sin(i * 0.37) * 0.9);

  it('gives one session\'s logits and probabilities, sample by sample', async () => {
    const one = await Predictor.create(model, store, 'pathmnist', { threads: 1, batch: 16 });
    const two = await Predictor.create(model, store, 'pathmnist', { threads: 2, batch: 16 });
    expect(one.replicas).toBe(1);
    expect(two.replicas).toBe(2);
    const a = await one.run(x, n);
    const b = await two.run(x, n);
    // 39 and 25 samples: the last piece fills both shards partly and then one.
    const b25 = await two.run(x.subarray(0, 25 * 3 * 28 * 28), 25);
    await one.release();
    await two.release();
    expect(b.logits.length).toBe(n * 9);
    for (let i = 0; i < n * 9; i++) {
      expect(b.logits[i]).toBeCloseTo(a.logits[i]!, 5);
      expect(b.probs[i]).toBeCloseTo(a.probs[i]!, 6);
    }
    for (let i = 0; i < 25 * 9; i++) expect(b25.probs[i]).toBeCloseTo(a.probs[i]!, 6);
  });

  it('ends its replica threads on release; one session when turned off or the batch does not split', async () => {
    const before = liveReplicaThreads();
    const p = await Predictor.create(model, store, 'pathmnist', { threads: 2, batch: 16 });
    expect(liveReplicaThreads()).toBe(before + 1);
    await p.release();
    await new Promise((r) => setTimeout(r, 50));
    expect(liveReplicaThreads()).toBe(before);
    const off = await Predictor.create(model, store, 'pathmnist', { threads: 2, batch: 16, dataParallel: false });
    const odd = await Predictor.create(model, store, 'pathmnist', { threads: 2, batch: 15 });
    expect([off.replicas, odd.replicas]).toEqual([1, 1]);
    await off.release();
    await odd.release();
  });
});
