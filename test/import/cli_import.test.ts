/** `stmedfm data import` / `predict` at the command line: bad input is one line, exit 2, nothing written. */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const FX = join(import.meta.dirname, '..', 'fixtures', 'imaging');
let dir: string;

function png(seed: number): Uint8Array {
  const d = new Uint8Array(30 * 20 * 3).map((_, i) => (i * 13 + seed * 71) % 256);
  return encode({ width: 30, height: 20, data: d, channels: 3, depth: 8 });
}

function expectCleanFailure(args: string[], pattern: RegExp, folder: string): void {
  const before = readdirSync(folder).sort();
  const r = runCli(args);
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^stmedfm: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(readdirSync(folder).sort()).toEqual(before); // no output, no temp file
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stmedfm-cli-import-'));
  for (const c of ['a', 'b']) {
    mkdirSync(join(dir, 'imgs', c), { recursive: true });
    for (let i = 0; i < 4; i++) writeFileSync(join(dir, 'imgs', c, `${i}.png`), png(i + (c === 'b' ? 10 : 0)));
  }
  cpSync(FX, join(dir, 'fx'), { recursive: true });
});

describe('data import at the command line', () => {
  it('imports a folder, prints class counts per split, and data info shows the provenance', () => {
    const out = join(dir, 'ok.npz');
    const r = runCli(['data', 'import', '--images', join(dir, 'imgs'), '--out', out, '--seed', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/wrote .*ok\.npz: 2D, 2 classes, train\/val\/test \d+\/\d+\/\d+/);
    expect(r.stderr).toMatch(/\na\s+\d+\s+\d+\s+\d+\n/);
    const info = runCli(['data', 'info', out]);
    expect(info.stdout).toMatch(/imported by stmedfm data import: 2D, binary-class, 2 classes \(a, b\)/);
    expect(info.stdout).toMatch(/preprocessing: \[\{"op":"color"/);
  });

  it('each kind of bad input: one clear line, exit 2, nothing written', () => {
    const out = (n: string) => join(dir, `${n}.npz`);
    mkdirSync(join(dir, 'bad', 'a'), { recursive: true });
    mkdirSync(join(dir, 'bad', 'b'), { recursive: true });
    writeFileSync(join(dir, 'bad', 'a', '0.png'), png(1));
    writeFileSync(join(dir, 'bad', 'b', 'x.png'), new TextEncoder().encode('%PDF-1.4 not an image'));
    expectCleanFailure(['data', 'import', '--images', join(dir, 'bad'), '--out', out('x')], /b\/x\.png: cannot decode: not a PNG or JPEG.*--skip-bad/, dir);
    mkdirSync(join(dir, 'bad', 'c'));
    expectCleanFailure(['data', 'import', '--images', join(dir, 'bad'), '--out', out('x')], /class folder .*bad\/c is empty/, dir);
    const csv = (name: string, text: string) => {
      writeFileSync(join(dir, 'fx', name), text);
      return join(dir, 'fx', name);
    };
    const m = (file: string, extra: string[] = []) => ['data', 'import', '--manifest', file, '--root', join(dir, 'fx'), '--path-col', 'path', '--label-col', 'label', '--split-col', 'split', ...extra, '--out', out('x')];
    expectCleanFailure(m(csv('nowhere.csv', 'path,label,split\nlossless.png,a,test\nnope.png,a,test\n')), /row\(s\) point to nothing: line 3: .*nope\.png/, dir);
    expectCleanFailure(m(csv('unknown.csv', 'path,label,split\nlossless.png,zebra,test\n'), ['--classes', 'a,b']), /line 2: unknown label 'zebra'/, dir);
    expectCleanFailure(m(csv('4d.csv', 'path,label,split\nfour_d.nii.gz,a,test\n')), /four_d\.nii\.gz: a 4D NIfTI/, dir);
    expectCleanFailure(m(csv('gap.csv', 'path,label,split\ndicom_gap,a,test\n')), /dicom_gap: slice spacing jumps .*missing/, dir);
    expectCleanFailure(m(csv('mixed.csv', 'path,label,split\ndicom_mixed,a,test\n')), /dicom_mixed: files of 2 different series are mixed/, dir);
    expectCleanFailure(m(csv('grid.csv', 'path,mask,label,split\nlps.nii.gz,mask_other_grid.nii.gz,a,test\n'), ['--mask-col', 'mask', '--mask-value', '1']), /mask_other_grid\.nii\.gz: the mask's grid/, dir);
  });

  it('imports DICOM and NIfTI volumes (a mask crop records #value in the sources)', () => {
    const file = join(dir, 'fx', 'vols.csv');
    writeFileSync(file, 'path,mask,label,value,split\nlps.nii.gz,lps_mask.nii.gz,a,4,test\nlps.nii.gz,lps_mask.nii.gz,b,4,test\n');
    const r = runCli(['data', 'import', '--manifest', file, '--root', join(dir, 'fx'), '--path-col', 'path', '--mask-col', 'mask', '--mask-value-col', 'value', '--label-col', 'label', '--split-col', 'split', '--window', '-100,330', '--out', join(dir, 'vols.npz'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.dim).toBe(3);
    expect(j.n).toEqual({ train: 0, val: 0, test: 2 });
    const info = runCli(['data', 'info', join(dir, 'vols.npz'), '--json']);
    expect(JSON.parse(info.stdout).imported.classNames).toEqual(['a', 'b']);
  });
});
