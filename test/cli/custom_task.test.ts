/**
 * Tasks of your own end to end (issue 9): `--data NAME=FILE` with a NAME outside the registry
 * defines the task from the file; finetune (from the packaged backbone by default), evaluate,
 * predict and export use it with only the checkpoint and the file; the class names travel in
 * the checkpoint, the adapter files and the ONNX metadata. Bad input: one line, exit 2, no files.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readOnnxMetadata } from '../../src/engine/onnx/index.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { writeTaskNpz } from '../helpers/custom_task.js';

const CELLS = ['neutrophil', 'lymphocyte', 'platelet'];
const PACKAGED = join(import.meta.dirname, '..', '..', 'data', 'pretrained', 'stmedfm-tiny.safetensors');
const tiny = ['--batch-2d', '16', '--quiet'];
let dir: string;
const f = (name: string) => join(dir, name);

function expectCleanFailure(r: CliResult, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^stmedfm: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

interface HeadJson {
  name: string;
  numClasses: number;
  multiLabel?: boolean;
  classNames?: string[];
  channels?: number;
}

async function headsOf(path: string): Promise<HeadJson[]> {
  return ((await loadCheckpoint(path)).config as { heads: HeadJson[] }).heads;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stmedfm-custom-'));
  writeTaskNpz(f('cells.npz'), { classNames: CELLS, channels: 3 });
  writeTaskNpz(f('cells4.npz'), { classNames: [...CELLS, 'basophil'], channels: 3 });
  writeTaskNpz(f('renamed.npz'), { classNames: ['a', 'b', 'c'], channels: 3 });
  writeTaskNpz(f('multi.npz'), { classNames: CELLS, channels: 3, multiLabel: true });
  writeTaskNpz(f('nonames.npz'), { classNames: ['x', 'y', 'z', 'w'], omitNames: true });
  writeTaskNpz(f('blood5.npz'), { classNames: ['a', 'b', 'c', 'd', 'e'], channels: 3 });
  // A folder of RGB PNGs, one per class pattern (block c lit).
  mkdirSync(f('pngs'));
  for (let c = 0; c < 3; c++) {
    const png = new PNG({ width: 28, height: 28 });
    for (let p = 0; p < 28 * 28; p++) {
      const lit = Math.floor(p / 28) < 7 && p % 28 >= c * 7 && p % 28 < c * 7 + 7;
      png.data.set([lit ? 230 : 20, lit ? 230 : 20, lit ? 230 : 20, 255], p * 4);
    }
    writeFileSync(f(`pngs/c${c}.png`), PNG.sync.write(png));
  }
  // LoRA from the default --from (the packaged backbone): the checkpoint the other tests use.
  const r = runCli(['finetune', '--task', 'cells', '--data', `cells=${f('cells.npz')}`, '--method', 'lora', '--steps', '3', '--batch-2d', '16', '--out', f('lora.safetensors')]);
  expect(r.stderr).toMatch(/saved/);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(`starting from the packaged pretrained backbone ${PACKAGED}`);
  // A multi-label task of one's own (adapter on the packaged backbone).
  const m = runCli(['finetune', '--task', 'tags', '--data', `tags=${f('multi.npz')}`, '--method', 'adapter', '--steps', '2', ...tiny, '--out', f('tags.safetensors')]);
  expect(m.code).toBe(0);
}, 120_000);

describe('a task of your own, end to end', () => {
  it('fine-tuning adds a fresh head that carries the file\'s class names and colour', async () => {
    const heads = await headsOf(f('lora.safetensors'));
    const cells = heads.find((h) => h.name === 'cells');
    expect(cells).toEqual({ name: 'cells', numClasses: 3, modality: '2d', classNames: CELLS, channels: 3 });
    // The packaged backbone's heads are kept next to it.
    expect(heads.map((h) => h.name)).toEqual(['pathmnist', 'bloodmnist', 'dermamnist', 'organmnist3d', 'cells']);
  });

  it('the adapter files carry the class names', async () => {
    const a = await loadSafetensors(f('lora-adapter/adapter_model.safetensors'));
    expect(a.metadata?.stmedfm_task).toBe('cells');
    expect(JSON.parse(a.metadata?.stmedfm_class_names ?? 'null')).toEqual(CELLS);
  });

  it('evaluate needs only the checkpoint and the file', () => {
    const r = runCli(['evaluate', '--checkpoint', f('lora.safetensors'), '--task', 'cells', '--data', `cells=${f('cells.npz')}`, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { task: string; n: number; acc: number };
    expect(out.task).toBe('cells');
    expect(out.n).toBe(16);
  });

  it('predict shows the checkpoint\'s class names (folder of images and .npz split)', () => {
    const r = runCli(['predict', '--checkpoint', f('lora.safetensors'), '--task', 'cells', '--input', f('pngs')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('input,predicted,p_neutrophil,p_lymphocyte,p_platelet');
    expect(lines).toHaveLength(4);
    for (const l of lines.slice(1)) expect(CELLS).toContain(l.split(',')[1]);
    const j = runCli(['predict', '--checkpoint', f('lora.safetensors'), '--task', 'cells', '--input', f('cells.npz'), '--split', 'test', '--json']);
    expect(j.code).toBe(0);
    const out = JSON.parse(j.stdout) as { class_names: string[]; probabilities: number[][] };
    expect(out.class_names).toEqual(CELLS);
    expect(out.probabilities).toHaveLength(16);
  });

  it('export writes the class names into the ONNX metadata', () => {
    const r = runCli(['export', '--checkpoint', f('lora.safetensors'), '--task', 'cells', '--out', f('cells.onnx')]);
    expect(r.code).toBe(0);
    const meta = readOnnxMetadata(readFileSync(f('cells.onnx')));
    expect(meta['stmedfm.task']).toBe('cells');
    expect(JSON.parse(meta['stmedfm.labels']!)).toEqual(CELLS);
  });

  it('a multi-label file defines a multi-label task; a file without class_names gets numbered classes', async () => {
    expect((await headsOf(f('tags.safetensors'))).find((h) => h.name === 'tags')).toMatchObject({ numClasses: 3, multiLabel: true, classNames: CELLS });
    const n = runCli(['finetune', '--task', 'plain', '--data', `plain=${f('nonames.npz')}`, '--method', 'scratch', '--steps', '2', '--batch-2d', '16', '--out', f('plain.safetensors')]);
    expect(n.code).toBe(0);
    expect(n.stderr).toMatch(/note: nonames\.npz has no class_names: 4 classes from the label values 0\.\.3/);
    expect((await headsOf(f('plain.safetensors')))[0]).toMatchObject({ name: 'plain', numClasses: 4, classNames: ['class 0', 'class 1', 'class 2', 'class 3'], channels: 1 });
  }, 60_000);

  it('pretrain takes a task of your own next to a registry task', async () => {
    writeTaskNpz(f('data/bloodmnist.npz'), { classNames: ['basophil', 'eosinophil', 'erythroblast', 'immature granulocytes(myelocytes, metamyelocytes and promyelocytes)', 'lymphocyte', 'monocyte', 'neutrophil', 'platelet'], channels: 3 });
    const r = runCli(['pretrain', '--tasks', 'cells,bloodmnist', '--data-dir', f('data'), '--data', `cells=${f('cells.npz')}`, '--steps', '2', ...tiny, '--out', f('pre.safetensors')]);
    expect(r.code).toBe(0);
    expect((await headsOf(f('pre.safetensors'))).map((h) => [h.name, h.classNames?.length ?? null])).toEqual([
      ['cells', 3],
      ['bloodmnist', null],
    ]);
  }, 60_000);
});

describe('reproduce', () => {
  it('runs the protocol on a task of your own', () => {
    const out = f('rep');
    const r = runCli(['reproduce', '--tasks', 'cells', '--data', `cells=${f('cells.npz')}`, '--methods', 'scratch,lora', '--seeds', '0', '--pretrain-steps', '2', '--steps-2d', '2', '--batch-2d', '16', '--jobs', '1', '--threads', '1', '--out', out]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as unknown;
    const text = JSON.stringify(rows);
    expect(text).toMatch(/"task":"cells"/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/\| cells \| lora \|/);
  }, 120_000);
});

describe('finetune --from', () => {
  async function tensor(path: string, name: string): Promise<Float32Array> {
    const t = (await loadSafetensors(path)).tensors.get(name)!;
    return Float32Array.from(t.data);
  }
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
  const W = 'blocks.0.qkv.weight';

  it('defaults to the packaged backbone for full; --from none trains from random weights', async () => {
    const base = await tensor(PACKAGED, W);
    // One step at a negligible learning rate: the weights stay those the run started from.
    const common = ['--task', 'cells', '--data', `cells=${f('cells.npz')}`, '--method', 'full', '--steps', '1', '--lr', '1e-12', '--batch-2d', '16', '--json'];
    const d = runCli(['finetune', ...common, '--out', f('full-default.safetensors')]);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout).from).toBe(PACKAGED);
    expect(maxDiff(await tensor(f('full-default.safetensors'), W), base)).toBeLessThan(1e-6);
    const n = runCli(['finetune', ...common, '--from', 'none', '--out', f('full-none.safetensors')]);
    expect(n.code).toBe(0);
    expect(JSON.parse(n.stdout)).toMatchObject({ from: 'none', method: 'scratch' });
    expect(n.stderr).toMatch(/--from none: .*the same as --method scratch/);
    expect(maxDiff(await tensor(f('full-none.safetensors'), W), base)).toBeGreaterThan(0.01);
  }, 60_000);

  it('--method scratch still works, and takes --from none', () => {
    for (const extra of [[], ['--from', 'none']]) {
      const r = runCli(['finetune', '--task', 'cells', '--data', `cells=${f('cells.npz')}`, '--method', 'scratch', '--steps', '1', ...tiny, ...extra, '--out', f('scratch.safetensors')]);
      expect(r.code).toBe(0);
    }
  }, 60_000);

  it('refuses --from none for lora and adapter, naming the alternative', () => {
    for (const m of ['lora', 'adapter']) {
      const out = f(`none-${m}.safetensors`);
      expectCleanFailure(runCli(['finetune', '--task', 'cells', '--data', `cells=${f('cells.npz')}`, '--method', m, '--from', 'none', '--out', out]), /--from none: .*FROZEN pretrained weights.*--method full --from none/);
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe('bad input: one line, exit 2, nothing written', () => {
  function refused(args: string[], pattern: RegExp, out: string): void {
    const before = readdirSync(dir).sort();
    expectCleanFailure(runCli(args), pattern);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(before);
  }

  it('a registry task name for a file with other classes (names, or count)', () => {
    const out = f('clash.safetensors');
    refused(['finetune', '--task', 'bloodmnist', '--data', `bloodmnist=${f('blood5.npz')}`, '--method', 'lora', '--steps', '1', '--out', out], /blood5\.npz: its classes \(5: a, b, c, d, e\) are not those of the MedMNIST task bloodmnist \(8: .*another name, e\.g\. --data mytask=/, out);
    refused(['finetune', '--task', 'pathmnist', '--data', `pathmnist=${f('cells.npz')}`, '--method', 'scratch', '--steps', '1', '--out', out], /its classes \(3: neutrophil, lymphocyte, platelet\) are not those of the MedMNIST task pathmnist \(9:/, out);
  });

  it('a checkpoint whose head does not fit the file\'s classes (count, or names)', () => {
    const out = f('nofit.safetensors');
    refused(['evaluate', '--checkpoint', f('lora.safetensors'), '--task', 'cells', '--data', `cells=${f('cells4.npz')}`], /lora\.safetensors: its cells head has 3 classes \(neutrophil, lymphocyte, platelet\), but .*cells4\.npz \(--data cells\) has 4 classes/, out);
    refused(['evaluate', '--checkpoint', f('lora.safetensors'), '--task', 'cells', '--data', `cells=${f('renamed.npz')}`], /its cells head has 3 classes \(neutrophil, lymphocyte, platelet\), but .*renamed\.npz \(--data cells\) has 3 classes \(a, b, c\)/, out);
    // A file without class_names: its numbered classes are not compared by name, only counted.
    refused(['evaluate', '--checkpoint', f('lora.safetensors'), '--task', 'cells', '--data', `cells=${f('nonames.npz')}`], /its cells head has 3 classes \(neutrophil, lymphocyte, platelet\), but .*nonames\.npz \(--data cells\) has 4 classes \(class 0, class 1, class 2, class 3\)/, out);
    refused(['finetune', '--task', 'cells', '--data', `cells=${f('cells4.npz')}`, '--from', f('lora.safetensors'), '--method', 'full', '--steps', '1', '--out', out], /--from .*lora\.safetensors: its cells head has 3 classes/, out);
  });

  it('a multi-label file for a single-label head, and the reverse', () => {
    const out = f('kind.safetensors');
    refused(['evaluate', '--checkpoint', f('lora.safetensors'), '--task', 'cells', '--data', `cells=${f('multi.npz')}`], /its cells head is single-label \(3 classes, one per sample\), but .*multi\.npz \(--data cells\) is multi-label \(3 0\/1 labels per sample\)/, out);
    refused(['evaluate', '--checkpoint', f('tags.safetensors'), '--task', 'tags', '--data', `tags=${f('cells.npz')}`], /its tags head is multi-label \(3 0\/1 labels per sample\), but .*cells\.npz \(--data tags\) is single-label/, out);
    refused(['finetune', '--task', 'bloodmnist', '--data', `bloodmnist=${f('multi.npz')}`, '--method', 'lora', '--steps', '1', '--out', out], /multi\.npz: the file is multi-label \(3 0\/1 labels per sample\), but bloodmnist is a MedMNIST task that is single-label \(8 classes\)/, out);
  });

  it('an unknown task without a file says how to define one', () => {
    const out = f('unknown.safetensors');
    refused(['finetune', '--task', 'pbc', '--method', 'lora', '--steps', '1', '--out', out], /unknown MedMNIST dataset 'pbc'.*a task of your own needs its file: --data pbc=FILE\.npz/, out);
  });
});
