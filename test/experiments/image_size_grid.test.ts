/**
 * The image-size grid axis of `reproduce`: one pretraining per size, each fine-tuning run starting
 * from the pretraining of its size; data found per size (MedMNIST+ names, or --data once per
 * size); a missing size is one error listing what was found; the report shows the axis.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { writeSynth } from '../../src/data/index.js';
import { fingerprintData } from '../../src/experiments/data_notes.js';
import type { FolderConfig } from '../../src/experiments/folder.js';
import { planRuns } from '../../src/experiments/plan.js';
import { DEFAULT_PROTOCOL, type ProtocolConfig } from '../../src/experiments/protocol.js';
import { prepare } from '../../src/experiments/reproduce.js';
import { runKey } from '../../src/experiments/run_one.js';
import { submitSlurm } from '../../src/experiments/slurm.js';
import type { ResultRow } from '../../src/experiments/types.js';
import { loadModel } from '../../src/training/checkpoint.js';
import { errorOf } from '../helpers/errors.js';
import { runCli } from '../helpers/cli.js';
import { makeTmpDir } from '../helpers/synth.js';

const protocol = (over: Partial<ProtocolConfig>): ProtocolConfig => ({ ...structuredClone(DEFAULT_PROTOCOL), ...over });

describe('image-size axis: the plan', () => {
  it('has one pretraining per size and seed, and each fine-tuning run starts from the one of its size', () => {
    const p = protocol({ tasks: ['bloodmnist', 'organmnist3d'], methods: ['scratch', 'full', 'lora'], seeds: [0, 1], imageSizes: [28, 64] });
    const runs = planRuns(p);
    const pre = runs.filter((r) => r.kind === 'pretrain');
    expect(pre.map((r) => `${r.index}:${r.id}`)).toEqual(['0:pretrain-28px-s0', '1:pretrain-28px-s1', '2:pretrain-64px-s0', '3:pretrain-64px-s1']);
    const ft = runs.filter((r) => r.kind === 'finetune');
    expect(ft).toHaveLength(2 * 2 * 2 * 3);
    for (const r of ft) {
      expect(r.id).toContain(`-${r.imageSize}px-s${r.seed}`);
      expect(r.pretrainId).toBe(r.method === 'scratch' ? null : `pretrain-${r.imageSize}px-s${r.seed}`);
    }
    expect(ft.find((r) => r.id === 'bloodmnist-lora-64px-s1')?.pretrainId).toBe('pretrain-64px-s1');
    // the size is part of every run's identity
    const config: FolderConfig = { protocol: p, data: [] };
    expect(new Set(runs.map((r) => runKey(config, r))).size).toBe(runs.length);
  });

  it('without the axis (28 px only) the runs carry no size: ids and keys are the default protocol\'s', () => {
    const runs = planRuns(protocol({ tasks: ['bloodmnist'], seeds: [0] }));
    expect(runs.map((r) => r.id)).toEqual(['pretrain-s0', ...['scratch', 'scratch-weighted', 'full', 'lora', 'adapter'].map((m) => `bloodmnist-${m}-s0`)]);
    for (const r of runs) expect('imageSize' in r).toBe(false);
  });
});

describe('image-size axis: data per size', () => {
  it('finds <task>_<size>.npz, uses a 3D task\'s one 28^3 file at every size, and lists what it found for a missing size', () => {
    const dir = makeTmpDir().dir;
    const sizes = { train: 8, val: 4, test: 4 };
    writeSynth(join(dir, 'bloodmnist.npz'), 'bloodmnist', { sizes });
    writeSynth(join(dir, 'bloodmnist_64.npz'), 'bloodmnist', { sizes, size: 64 });
    writeSynth(join(dir, 'organmnist3d.npz'), 'organmnist3d', { sizes });
    const fps = fingerprintData(['bloodmnist', 'organmnist3d'], { dataDir: dir, cacheDir: dir }, [28, 64]);
    expect(fps.map((f) => `${f.task}@${f.image_size}:${f.file.slice(dir.length + 1)}`)).toEqual([
      'bloodmnist@28:bloodmnist.npz', 'organmnist3d@28:organmnist3d.npz', 'bloodmnist@64:bloodmnist_64.npz',
    ]);
    const e = errorOf(() => fingerprintData(['bloodmnist'], { dataDir: dir, cacheDir: dir }, [28, 128]));
    expect(e.message).toBe(
      `no 128-px data file for bloodmnist (looked for ${join(dir, 'bloodmnist_128.npz')}; ` +
        `found ${join(dir, 'bloodmnist.npz')} (28 px), ${join(dir, 'bloodmnist_64.npz')} (64 px)); ` +
        "get 128-px images (MedMNIST+'s bloodmnist_128.npz) into the folder, or give --data bloodmnist=FILE",
    );
  });
});

describe('image-size axis under SLURM', () => {
  it('submits both sizes\' pretrainings as one array, and the runs that start from them after it', () => {
    const dir = makeTmpDir().dir;
    const sizes = { train: 8, val: 4, test: 4 };
    writeSynth(join(dir, 'bloodmnist.npz'), 'bloodmnist', { sizes });
    writeSynth(join(dir, 'bloodmnist_64.npz'), 'bloodmnist', { sizes, size: 64 });
    const out = join(dir, 'out');
    const p = protocol({ tasks: ['bloodmnist'], methods: ['scratch', 'lora'], seeds: [0], imageSizes: [28, 64] });
    prepare(out, p, { dataDir: dir, cacheDir: dir }).lock.release();
    // a stand-in sbatch on the PATH that records its arguments and answers with a job id
    const log = join(dir, 'sbatch.log');
    const sbatch = join(dir, 'sbatch');
    writeFileSync(sbatch, `#!/bin/sh\necho "$@" >> '${log}'\nwc -l < '${log}' | tr -d ' '\n`);
    chmodSync(sbatch, 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    try {
      const sub = submitSlurm({ out, threads: 1, pretrainThreads: 1, cli: ['stmedfm'] });
      // plan: 0 pretrain-28px-s0, 1 pretrain-64px-s0, 2 scratch-28px, 3 lora-28px, 4 scratch-64px, 5 lora-64px
      expect(sub.pretrain).toEqual({ job: '1', runs: [0, 1] });
      expect(sub.finetune).toEqual({ job: '2', runs: [3, 5] });
      expect(sub.independent).toEqual({ job: '3', runs: [2, 4] });
      const calls = readFileSync(log, 'utf8').trim().split('\n');
      expect(calls[1]).toMatch(/--array 3,5 .*--dependency afterok:1 /);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('stmedfm reproduce --image-size 28,64 (end to end, tiny)', () => {
  it('pretrains per size, fine-tunes from the pretraining of its size, and reports the axis', async () => {
    const dir = makeTmpDir().dir;
    const sizes = { train: 16, val: 8, test: 8 };
    writeSynth(join(dir, 'blood28.npz'), 'bloodmnist', { sizes, seed: 1 });
    writeSynth(join(dir, 'blood64.npz'), 'bloodmnist', { sizes, seed: 1, size: 64 });
    const out = join(dir, 'out');
    const r = runCli([
      'reproduce', '--data', `bloodmnist=${join(dir, 'blood64.npz')}`, '--data', `bloodmnist=${join(dir, 'blood28.npz')}`,
      '--tasks', 'bloodmnist', '--methods', 'full', '--seeds', '0', '--image-size', '28,64',
      '--pretrain-steps', '2', '--steps-2d', '2', '--batch-2d', '4', '--jobs', '2', '--threads', '1', '--out', out, '--quiet',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ResultRow[];
    expect(rows.map((x) => [x.method, x.image_size])).toEqual([['full', 28], ['full', 64]]);
    // each fine-tuned checkpoint has its size's model; the 64-px one starts from the 64-px pretraining
    for (const size of [28, 64]) {
      const ft = await loadModel(join(out, 'checkpoints', `bloodmnist-full-${size}px-s0.safetensors`));
      expect(ft.model.config.stem2d.imageSize).toBe(size);
      const pre = await loadModel(join(out, 'checkpoints', `pretrain-${size}px-s0.safetensors`));
      expect(pre.model.config.stem2d.imageSize).toBe(size);
    }
    expect(readFileSync(join(out, 'results.csv'), 'utf8').split('\n')[0]).toMatch(/,adapter_width,image_size,trainable_params,/);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/### Test AUROC and accuracy against image size \(px\)/);
    expect(md).toMatch(/\| task \| method \| image size \(px\) 28 AUROC \| image size \(px\) 64 AUROC \| image size \(px\) 28 accuracy \| image size \(px\) 64 accuracy \|/);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    // --report-only reads the same plan from config.json
    const again = runCli(['reproduce', '--out', out, '--report-only', '--quiet']);
    expect(again.code).toBe(0);
    // predict on the 64-px checkpoint resizes a 40x30 PNG to 64 px
    const png = new PNG({ width: 40, height: 30 });
    png.data.fill(180);
    writeFileSync(join(dir, 'cell.png'), PNG.sync.write(png));
    const p = runCli(['predict', '--checkpoint', join(out, 'checkpoints', 'bloodmnist-full-64px-s0.safetensors'), '--task', 'bloodmnist', '--input', join(dir, 'cell.png'), '--threads', '1', '--json']);
    expect(p.code).toBe(0);
    expect(p.stderr).toMatch(/1 image\(s\) resized to 64x64/);
    expect(JSON.parse(p.stdout).probabilities[0]).toHaveLength(8);
  }, 120_000);
});
