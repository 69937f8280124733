/** `data import` end to end on small generated folders and manifests (fast-png writes the images). */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { NpzFile } from '../../src/data/npz.js';
import { decodeUnicodeNpy, importDataset } from '../../src/data/import/index.js';
import { readPredictInputs } from '../../src/inference/input.js';
import { getDataset } from '../../src/data/registry.js';
import { writeNpy } from '../../src/data/npy.js';

function png(seed: number, w = 40, h = 30): Uint8Array {
  const d = new Uint8Array(w * h * 3);
  for (let i = 0; i < d.length; i++) d[i] = (i * 31 + seed * 97) % 256;
  return encode({ width: w, height: h, data: d, channels: 3, depth: 8 });
}

function folder(classes: Record<string, number>): string {
  const dir = mkdtempSync(join(tmpdir(), 'stmedfm-import-'));
  let s = 0;
  for (const [c, n] of Object.entries(classes)) {
    mkdirSync(join(dir, c));
    for (let i = 0; i < n; i++) writeFileSync(join(dir, c, `img${i}.png`), png(s++));
  }
  return dir;
}

const strings = (f: NpzFile, k: string) => decodeUnicodeNpy(f.memberBytes(k), k);

describe('data import from class folders', () => {
  it('writes the MedMNIST keys plus class names, sources and the preprocessing', async () => {
    const dir = folder({ b: 5, a: 6 });
    const out = join(dir, 'out.npz');
    const s = await importDataset({ images: dir, out, seed: 1 });
    const f = NpzFile.open(out);
    expect(strings(f, 'class_names')).toEqual(['a', 'b']);
    expect(s.n.train + s.n.val + s.n.test).toBe(11);
    const imgs = f.read('train_images');
    expect(imgs.shape).toEqual([s.n.train, 28, 28, 3]);
    expect(f.read('train_labels').shape).toEqual([s.n.train, 1]);
    const src = [...strings(f, 'train_sources'), ...strings(f, 'val_sources'), ...strings(f, 'test_sources')];
    expect(src.sort()).toEqual([...Array.from({ length: 6 }, (_, i) => `a/img${i}.png`), ...Array.from({ length: 5 }, (_, i) => `b/img${i}.png`)].sort());
    // labels follow the source folder
    const labs = f.read('train_labels').data as Uint8Array;
    strings(f, 'train_sources').forEach((p, i) => expect(labs[i]).toBe(p.startsWith('a/') ? 0 : 1));
    expect(JSON.parse(strings(f, 'preprocessing')[0]!).steps.map((x: { op: string }) => x.op)).toEqual(['color', 'fit', 'resize']);
    expect(s.counts.test.every((c) => c >= 1) && s.counts.val.every((c) => c >= 1)).toBe(true);
  });

  it('a corrupt file fails the import (all bad files named, nothing written); --skip-bad skips it with a warning', async () => {
    const dir = folder({ a: 4, b: 4 });
    writeFileSync(join(dir, 'a', 'broken.png'), png(99).subarray(0, 60));
    writeFileSync(join(dir, 'b', 'notes.jpg'), 'not an image');
    const out = join(dir, 'o.npz');
    await expect(importDataset({ images: dir, out })).rejects.toThrow(/2 files cannot be decoded: a\/broken\.png: corrupt or truncated PNG.*b\/notes\.jpg: cannot decode/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const warnings: string[] = [];
    const s = await importDataset({ images: dir, out, skipBad: true, onWarning: (m) => warnings.push(m) });
    expect(s.skipped).toBe(2);
    expect(warnings.join('\n')).toMatch(/skipped a\/broken\.png/);
  });

  it('follows symbolic links to files and class folders', async () => {
    const src = folder({ a: 4, b: 4 });
    const dir = mkdtempSync(join(tmpdir(), 'stmedfm-links-'));
    symlinkSync(join(src, 'a'), join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    for (let i = 0; i < 4; i++) symlinkSync(join(src, 'b', `img${i}.png`), join(dir, 'b', `link${i}.png`));
    const s = await importDataset({ images: dir, out: join(dir, 'o.npz') });
    expect(s.n.train + s.n.val + s.n.test).toBe(8);
  });

  it('an empty class folder and a class too small to split are refused by name', async () => {
    const dir = folder({ a: 4, b: 4 });
    mkdirSync(join(dir, 'c'));
    await expect(importDataset({ images: dir, out: join(dir, 'o.npz') })).rejects.toThrow(/class folder .*c is empty/);
    const dir2 = folder({ a: 4, tiny: 2 });
    await expect(importDataset({ images: dir2, out: join(dir2, 'o.npz') })).rejects.toThrow(/too few samples to split 70\/10\/20: tiny \(2 samples\)/);
  });
});

describe('data import from a manifest', () => {
  function manifest(rows: string[][]): { dir: string; csv: string } {
    const dir = mkdtempSync(join(tmpdir(), 'stmedfm-manifest-'));
    mkdirSync(join(dir, 'images'));
    const csv = join(dir, 'meta.csv');
    writeFileSync(csv, rows.map((r) => r.join(',')).join('\n'));
    return { dir, csv };
  }

  it('grouped by lesion: no lesion spans two splits; byte-identical images stay together', async () => {
    const rows = [['lesion_id', 'image_id', 'dx']];
    let k = 0;
    for (const dx of ['mel', 'nv', 'bkl']) for (let lesion = 0; lesion < 8; lesion++) for (let j = 0; j <= lesion % 3; j++) rows.push([`L_${dx}_${lesion}`, `img${k++}`, dx]);
    const { dir, csv } = manifest(rows);
    rows.slice(1).forEach(([, id], i) => writeFileSync(join(dir, 'images', `${id}.png`), png(i)));
    // two different lesions with one identical image file: they must end in one split
    writeFileSync(join(dir, 'images', 'img5.png'), png(0));
    const out = join(dir, 'ham.npz');
    await importDataset({ manifest: csv, root: dir, pathTemplate: 'images/{image_id}.png', labelCol: 'dx', groupCol: 'lesion_id', out, seed: 3 });
    const f = NpzFile.open(out);
    const lesionOf = new Map(rows.slice(1).map(([l, id]) => [`images/${id}.png`, l!]));
    const splitOf = new Map<string, string>();
    for (const split of ['train', 'val', 'test']) {
      for (const src of strings(f, `${split}_sources`)) {
        const l = lesionOf.get(src)!;
        expect(splitOf.get(l) ?? split, `lesion ${l}`).toBe(split);
        splitOf.set(l, split);
        splitOf.set(`file:${src}`, split);
      }
    }
    expect(splitOf.get('file:images/img5.png')).toBe(splitOf.get('file:images/img0.png'));
    expect(new Set([...splitOf.values()]).size).toBe(3);
  });

  it('a row pointing nowhere and an unknown label are one clear error each', async () => {
    const { dir, csv } = manifest([['path', 'label'], ['images/x.png', 'a'], ['images/missing.png', 'b']]);
    writeFileSync(join(dir, 'images', 'x.png'), png(1));
    await expect(importDataset({ manifest: csv, root: dir, pathCol: 'path', labelCol: 'label', out: join(dir, 'o.npz') })).rejects.toThrow(/1 row\(s\) point to nothing: line 3: .*missing\.png/);
    const m2 = manifest([['path', 'label'], ['images/x.png', 'zebra']]);
    writeFileSync(join(m2.dir, 'images', 'x.png'), png(1));
    await expect(importDataset({ manifest: m2.csv, root: m2.dir, pathCol: 'path', labelCol: 'label', classes: ['a', 'b'], out: join(m2.dir, 'o.npz') })).rejects.toThrow(/line 2: unknown label 'zebra' in column label \(classes: a, b\)/);
    await expect(importDataset({ manifest: m2.csv, root: m2.dir, pathCol: 'nope', labelCol: 'label', out: join(m2.dir, 'o.npz') })).rejects.toThrow(/--path-col nope: no such column .*\(columns: path, label\)/);
  });
});

describe('predict inputs', () => {
  it('predict replays the preprocessing saved by import: the same pixels for the same files', async () => {
    const dir = folder({ a: 4, b: 4 });
    const out = join(dir, 'imp.npz');
    await importDataset({ images: dir, out, centerCrop: 24, fit: 'pad' });
    const f = NpzFile.open(out);
    const info = getDataset('pathmnist');
    const x = await readPredictInputs(dir, info, { preprocessingFrom: out });
    const y = await readPredictInputs(out, info, {});
    const byName = new Map(y.inputs.map((n, i) => [n, i]));
    const per = 3 * 28 * 28;
    expect(x.n).toBe(8);
    x.inputs.forEach((name, i) => {
      const j = byName.get(name)!;
      expect(j, name).toBeDefined();
      expect(Array.from(x.data.subarray(i * per, (i + 1) * per))).toEqual(Array.from(y.data.subarray(j * per, (j + 1) * per)));
    });
    // and the task's default pipeline (no centre crop, stretch) gives different pixels
    const z = await readPredictInputs(dir, info);
    expect(Array.from(z.data.subarray(0, per))).not.toEqual(Array.from(x.data.subarray(0, per)));
    expect(strings(f, 'class_names')).toEqual(['a', 'b']);
  });

  it('a [28,28,28] array given to a 2D task is an error, not 28 predictions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stmedfm-pred-'));
    const f = join(dir, 'vol.npy');
    writeFileSync(f, writeNpy({ dtype: 'uint8', shape: [28, 28, 28], data: new Uint8Array(28 ** 3) }));
    await expect(readPredictInputs(f, getDataset('pneumoniamnist'))).rejects.toThrow(/is a 3D volume, but pneumoniamnist is a 2D task/);
  });
  it('an empty folder says that no images were found; RGB images for a gray task are converted with a note', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stmedfm-pred-'));
    await expect(readPredictInputs(dir, getDataset('pneumoniamnist'))).rejects.toThrow(/no images found/);
    writeFileSync(join(dir, 'a.png'), png(3, 50, 50));
    const x = await readPredictInputs(dir, getDataset('pneumoniamnist'));
    expect(x.n).toBe(1);
    expect(x.inputs).toEqual(['a.png']);
    expect(x.notes.join('\n')).toMatch(/1 RGB image\(s\) converted to grayscale/);
    expect(x.notes.join('\n')).toMatch(/resized to 28x28/);
  });
});
