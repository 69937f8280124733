/** The grid plan: every axis is a run, indices are stable, and a run's key covers every axis and the data. */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { FolderConfig } from '../../src/experiments/folder.js';
import { planRuns } from '../../src/experiments/plan.js';
import { DEFAULT_PROTOCOL, type ProtocolConfig } from '../../src/experiments/protocol.js';
import { executionDefaults, pretrainingShares } from '../../src/experiments/reproduce.js';
import { runKey } from '../../src/experiments/run_one.js';

const protocol = (over: Partial<ProtocolConfig>): ProtocolConfig => ({ ...structuredClone(DEFAULT_PROTOCOL), ...over });

describe('grid plan', () => {
  it('keeps the default protocol\'s run names and puts pretraining first', () => {
    const ids = planRuns(protocol({ tasks: ['pathmnist'], seeds: [0, 1] })).map((r) => `${r.index}:${r.id}`);
    expect(ids.slice(0, 3)).toEqual(['0:pretrain-s0', '1:pretrain-s1', '2:pathmnist-scratch-s0']);
    expect(ids).toHaveLength(2 + 2 * 5);
  });

  it('makes a run of every combination of the axes that apply to its method, named by them', () => {
    const p = protocol({ tasks: ['pathmnist'], methods: ['full', 'lora', 'adapter'], seeds: [0], shots: [5, null], loraRank: [2, 8], loraAlpha: [16], adapterWidth: [4, 8] });
    const ids = planRuns(p).map((r) => r.id);
    expect(ids).toEqual([
      'pretrain-s0',
      'pathmnist-full-k5-s0', 'pathmnist-full-kall-s0',
      'pathmnist-lora-k5-r2a16-s0', 'pathmnist-lora-k5-r8a16-s0', 'pathmnist-lora-kall-r2a16-s0', 'pathmnist-lora-kall-r8a16-s0',
      'pathmnist-adapter-k5-w4-s0', 'pathmnist-adapter-k5-w8-s0', 'pathmnist-adapter-kall-w4-s0', 'pathmnist-adapter-kall-w8-s0',
    ]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('gives every run its own key, which changes with the data file contents and not with the file path', () => {
    const p = protocol({ tasks: ['pathmnist'], methods: ['lora'], seeds: [0], loraRank: [2, 8] });
    const config: FolderConfig = { protocol: p, data: [{ task: 'pathmnist', file: '/a/pathmnist.npz', sha256: 'aa', md5: 'x' }] };
    const runs = planRuns(p);
    const keys = runs.map((r) => runKey(config, r));
    expect(new Set(keys).size).toBe(runs.length);
    const moved = { ...config, data: [{ ...config.data[0]!, file: '/b/elsewhere.npz' }] };
    expect(runs.map((r) => runKey(moved, r))).toEqual(keys);
    const other = { ...config, data: [{ ...config.data[0]!, sha256: 'bb' }] };
    for (const r of runs) expect(runKey(other, r)).not.toBe(runKey(config, r));
  });
});

describe('threads of pretraining (executionDefaults)', () => {
  const cores = availableParallelism();
  const plan = (p: Partial<ProtocolConfig>) => planRuns({ ...DEFAULT_PROTOCOL, ...p });
  it('share the cores when other runs can run beside it (--jobs > 1), else take them all', () => {
    // one seed with scratch runs: scratch runs beside the pretraining
    expect(pretrainingShares(plan({ seeds: [0] }))).toBe(true);
    expect(executionDefaults({ jobs: 2 }, plan({ seeds: [0] }))).toEqual({ jobs: 2, finetune: Math.max(1, Math.floor(cores / 2)), pretrain: Math.max(1, Math.floor(cores / 2)) });
    // several seeds: their pretrainings run beside each other
    expect(pretrainingShares(plan({ seeds: [0, 1], methods: ['lora'] }))).toBe(true);
    // one seed, every run starts from the pretraining: it runs alone, with every core
    expect(pretrainingShares(plan({ seeds: [0], methods: ['full', 'lora'] }))).toBe(false);
    expect(executionDefaults({ jobs: 2 }, plan({ seeds: [0], methods: ['full', 'lora'] })).pretrain).toBe(cores);
    // one job at a time: nothing runs beside it
    expect(executionDefaults({ jobs: 1 }, plan({ seeds: [0] })).pretrain).toBe(cores);
    // --threads is every run's
    expect(executionDefaults({ jobs: 2, threads: 3 }, plan({ seeds: [0] })).pretrain).toBe(3);
  });
});
