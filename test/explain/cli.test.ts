/** `stmedfm explain` end to end: the PNG it writes, and bad input as one clear line, exit 2, no output touched. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { npyArray, writeNpy } from '../../src/data/index.js';
import { STMEDFM_TINY } from '../../src/model/config.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { saveModel } from '../../src/training/checkpoint.js';
import { Rng } from '../../src/util/rng.js';
import { runCli } from '../helpers/cli.js';
import { HEADS } from './helpers.js';

let dir: string;
let ckpt: string;

function expectCleanFailure(r: { code: number; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^stmedfm: error: /);
  expect(lines[0]).toMatch(pattern);
}

function pixels(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stmedfm-explain-'));
  const model = new STMedFM(STMEDFM_TINY, HEADS);
  ckpt = join(dir, 'model.safetensors');
  await saveModel(ckpt, model, ParamStore.init(model.specs(), 0));
  writeFileSync(join(dir, 'images.npy'), writeNpy(npyArray('uint8', [3, 28, 28, 3], pixels(3 * 28 * 28 * 3, 1))));
  writeFileSync(join(dir, 'volume.npy'), writeNpy(npyArray('uint8', [28, 28, 28], pixels(28 ** 3, 2))));
  writeFileSync(join(dir, 'small.npy'), writeNpy(npyArray('uint8', [27, 27, 3], pixels(27 * 27 * 3, 3))));
});

const base = (task: string, input: string, out: string) => ['explain', '--checkpoint', ckpt, '--task', task, '--input', join(dir, input), '--out', join(dir, out)];

describe('stmedfm explain', () => {
  it('writes an 8x overlay PNG of an image for a class given by name, and the 7x7 map as JSON', () => {
    const r = runCli([...base('bloodmnist', 'images.npy', 'blood.png'), '--index', '1', '--class', 'eosinophil', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.method).toBe('grad-cam');
    expect(j.class).toMatchObject({ index: 1, name: 'eosinophil' });
    expect(j.grid).toEqual([7, 7]);
    expect(j.cam).toHaveLength(49);
    expect(Math.min(...j.cam)).toBeGreaterThanOrEqual(0);
    expect(j.probabilities).toHaveLength(8);
    const png = PNG.sync.read(readFileSync(join(dir, 'blood.png')));
    expect([png.width, png.height]).toEqual([224, 224]);
  });

  it('writes a montage of the 28 slices of a volume (7 per row) for the predicted class', () => {
    const r = runCli([...base('organmnist3d', 'volume.npy', 'organ.png'), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.grid).toEqual([7, 7, 7]);
    expect(j.cam).toHaveLength(343);
    expect(j.class.index).toBe(j.predicted.index);
    const png = PNG.sync.read(readFileSync(join(dir, 'organ.png')));
    expect([png.width, png.height]).toEqual([7 * 112 + 6 * 2, 4 * 112 + 3 * 2]);
  });

  it('replaces an existing PNG atomically (a new file renamed over it, no temp files left)', () => {
    const out = join(dir, 'replace', 'map.png');
    const folder = join(dir, 'replace');
    mkdirSync(folder);
    writeFileSync(out, 'old contents');
    const inode = statSync(out).ino;
    const r = runCli([...base('bloodmnist', 'images.npy', 'replace/map.png'), '--index', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^explained '.+' \(\d+\.\d%; predicted '.+' \d+\.\d%\) -> /);
    expect(statSync(out).ino).not.toBe(inode); // written beside and renamed, not rewritten in place
    expect(PNG.sync.read(readFileSync(out)).width).toBe(224);
    expect(readdirSync(folder)).toEqual(['map.png']);
  });

  it('bad input: one line, exit 2, and an existing output left as it was', () => {
    const out = join(dir, 'untouched.png');
    writeFileSync(out, 'old contents');
    const cases: [string[], RegExp][] = [
      [['--class', 'neutrophilz'], /--class 'neutrophilz' is not a class of bloodmnist; give an index or a name: 0 'basophil'/],
      [[], /images\.npy: holds 3 samples; choose one with --index 0\.\.2/],
    ];
    for (const [extra, pattern] of cases) {
      expectCleanFailure(runCli([...base('bloodmnist', 'images.npy', 'untouched.png'), ...extra]), pattern);
    }
    expectCleanFailure(runCli(base('bloodmnist', 'small.npy', 'untouched.png')), /small\.npy: shape \[27,27,3\] does not fit bloodmnist, which takes \[28,28,3\]/);
    expect(readFileSync(out, 'utf8')).toBe('old contents');
    expectCleanFailure(runCli(base('bloodmnist', 'images.npy', 'nowhere/x.png')), /--out .*nowhere\/x\.png: the folder .*nowhere does not exist/);
    expect(existsSync(join(dir, 'nowhere'))).toBe(false);
  });
});
