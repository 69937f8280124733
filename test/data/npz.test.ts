import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { npyArray } from '../../src/data/npy.js';
import { NpzFile, encodeNpz, readNpz, writeNpz } from '../../src/data/npz.js';
import { errorOf } from '../helpers/errors.js';
import { makeTmpDir } from '../helpers/synth.js';
import { NUMPY_SAVEZ_COMPRESSED, NUMPY_SAVEZ_STORED, b64 } from './fixtures.js';


const arrays = {
  train_images: npyArray('uint8', [2, 2, 2], Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 255])),
  train_labels: npyArray('uint8', [2, 1], Uint8Array.of(1, 0)),
  weights: npyArray('float32', [3], Float32Array.of(0.5, -1, 2)),
  steps: npyArray('int64', [2], BigInt64Array.of(1n, 2n ** 35n)),
};

describe('npz', () => {
  for (const compress of [true, false]) {
    it(`round trips (${compress ? 'deflated' : 'stored'})`, () => {
      const { dir } = makeTmpDir();
      const file = join(dir, 'a.npz');
      writeNpz(file, arrays, { compress });
      const f = NpzFile.open(file);
      expect(f.keys()).toEqual(Object.keys(arrays));
      expect([...f.entries.values()].every((e) => e.method === (compress ? 8 : 0))).toBe(true);
      const back = readNpz(file);
      for (const [k, a] of Object.entries(arrays)) {
        expect(back[k]!.dtype).toBe(a.dtype);
        expect(back[k]!.shape).toEqual(a.shape);
        expect(Array.from(back[k]!.data as ArrayLike<number | bigint>)).toEqual(Array.from(a.data as ArrayLike<number | bigint>));
      }
      // Headers are readable without inflating whole members.
      expect(f.header('train_images').shape).toEqual([2, 2, 2]);
      // The write was atomic: no temp file is left behind.
      expect(readdirSync(dir)).toEqual(['a.npz']);
    });
  }

  it('is deterministic byte for byte (a fixed zip timestamp)', () => {
    expect(Buffer.from(encodeNpz(arrays)).equals(Buffer.from(encodeNpz(arrays)))).toBe(true);
  });

  it('reads what numpy writes (savez_compressed and savez, zip64 local headers)', () => {
    for (const s of [NUMPY_SAVEZ_COMPRESSED, NUMPY_SAVEZ_STORED]) {
      const f = NpzFile.parse(b64(s), 'numpy.npz');
      expect(f.keys()).toEqual(['a', 'b', 'c']);
      expect(Array.from(f.read('a').data as Uint8Array)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(f.read('a').shape).toEqual([2, 3]);
      expect(Array.from(f.read('b').data as Float32Array)).toEqual([1.5, -2.25, 3, Math.fround(1e-3)]);
      expect(Array.from(f.read('c').data as BigInt64Array)).toEqual([7n, -1n, 2n ** 40n]);
      expect(f.header('c')).toMatchObject({ dtype: 'int64', shape: [3] });
    }
  });

  it('refuses a file that is not a zip, saying what it looks like', () => {
    const { dir } = makeTmpDir();
    const html = join(dir, 'pathmnist.npz');
    writeFileSync(html, '<!DOCTYPE html><html><body>Too many requests</body></html>');
    const e = errorOf(() => NpzFile.open(html, { hint: 're-download it with `stmedfm data fetch pathmnist`' }));
    expect(e.message).toMatch(/pathmnist\.npz \(.*\): not a zip archive \(bad signature 3c 21 44 4f, expected 50 4b 03 04\)/);
    expect(e.message).toMatch(/HTML/);
    expect(e.message).toMatch(/re-download it with `stmedfm data fetch pathmnist`$/);

    const npy = encodeNpz(arrays).subarray(0, 0);
    expect(errorOf(() => NpzFile.parse(npy, 'empty.npz')).message).toMatch(/empty\.npz: empty file/);
    const single = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
    expect(errorOf(() => NpzFile.parse(single, 'x.npz')).message).toMatch(/single \.npy array, not an \.npz/);
  });

  it('refuses a truncated archive (an interrupted download)', () => {
    const bytes = encodeNpz(arrays);
    for (const cut of [Math.floor(bytes.length / 2), bytes.length - 10]) {
      const e = errorOf(() => NpzFile.parse(bytes.subarray(0, cut), 'bloodmnist.npz'));
      expect(e.message).toMatch(/^bloodmnist\.npz: truncated zip archive/);
      expect(e.message).toContain(`${cut} bytes`);
    }
  });

  it('refuses a member whose data is cut off, even with an intact directory', () => {
    // An intact directory whose entry claims more bytes than the file holds.
    const bytes = encodeNpz({ a: npyArray('uint8', [4000], new Uint8Array(4000)) }, { compress: false });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const eocd = bytes.length - 22;
    const cd = view.getUint32(eocd + 16, true);
    view.setUint32(cd + 20, bytes.length, true);
    expect(errorOf(() => NpzFile.parse(bytes, 'cut.npz')).message).toMatch(/cut\.npz: member a\.npy: its \d+ bytes run past the end/);
  });

  it('detects corrupt member data (CRC and deflate errors)', () => {
    const stored = encodeNpz({ a: npyArray('uint8', [64], new Uint8Array(64).fill(7)) }, { compress: false });
    stored[stored.length - 200] ^= 0xff; // inside the payload of the only member
    const f = NpzFile.parse(stored, 'crc.npz');
    expect(errorOf(() => f.read('a')).message).toMatch(/crc\.npz, member a\.npy: CRC mismatch/);

    const deflated = encodeNpz({ a: npyArray('float32', [512], Float32Array.from({ length: 512 }, (_, i) => Math.sin(i))) });
    const g = NpzFile.parse(deflated, 'deflate.npz');
    const start = g.entries.get('a')!.dataStart;
    for (let i = 0; i < 40; i++) deflated[start + 20 + i] ^= 0x5a;
    expect(errorOf(() => NpzFile.parse(deflated, 'deflate.npz').read('a')).message).toMatch(
      /deflate\.npz, member a\.npy: (corrupt deflate data|CRC mismatch|inflated to)/,
    );
  });

  it('names the missing array and lists the ones present', () => {
    const f = NpzFile.parse(encodeNpz(arrays), 'k.npz');
    expect(errorOf(() => f.read('val_images')).message).toBe(
      "k.npz: no array 'val_images' (arrays in this file: train_images, train_labels, weights, steps)",
    );
  });

  it('reports a missing file with the hint', () => {
    expect(errorOf(() => NpzFile.open('/nonexistent/pathmnist.npz', { hint: 'fetch it' })).message).toBe(
      '/nonexistent/pathmnist.npz: no such file; fetch it',
    );
  });
});
