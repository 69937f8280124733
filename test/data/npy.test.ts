import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/errors.js';
import { npyArray, parseNpy, parseNpyHeader, readNpy, toIntArray, writeNpy, writeNpyFile, type NpyArray } from '../../src/data/npy.js';
import { makeTmpDir } from '../helpers/synth.js';
import { NUMPY_NPY_BIG_ENDIAN, NUMPY_NPY_BOOL, NUMPY_NPY_V2, NUMPY_NPY_V3, b64 } from './fixtures.js';

/** A .npy with an arbitrary header dict (padded as numpy pads) and payload. */
function rawNpy(dict: string, payload: Uint8Array, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = dict + ' '.repeat(total - pre - dict.length - 1) + '\n';
  const out = new Uint8Array(total + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const v = new DataView(out.buffer);
  if (major === 1) v.setUint16(8, header.length, true);
  else v.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(payload, total);
  return out;
}

const f32 = (xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);

function expectDataError(fn: () => unknown, ...patterns: RegExp[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DataError);
  for (const p of patterns) expect((err as Error).message).toMatch(p);
}

describe('npy round trips', () => {
  const cases: NpyArray[] = [
    npyArray('uint8', [2, 3], Uint8Array.of(0, 1, 2, 253, 254, 255)),
    npyArray('float32', [2, 2], Float32Array.of(1.5, -2.25, 3, 1e-3)),
    npyArray('int64', [3], BigInt64Array.of(7n, -1n, 2n ** 40n)),
    npyArray('float64', [], Float64Array.of(Math.PI)),
    npyArray('int32', [1, 0, 2], new Int32Array(0)),
    npyArray('bool', [3], Uint8Array.of(1, 0, 1)),
    npyArray('int16', [2], Int16Array.of(-300, 300)),
  ];
  for (const a of cases) {
    it(`${a.dtype} shape [${a.shape.join(',')}]`, () => {
      const bytes = writeNpy(a);
      const hdr = parseNpyHeader(bytes, 'x.npy');
      expect(hdr.dataOffset % 64).toBe(0);
      const back = parseNpy(bytes, 'x.npy');
      expect(back.dtype).toBe(a.dtype);
      expect(back.shape).toEqual(a.shape);
      expect(Array.from(back.data as ArrayLike<number | bigint>)).toEqual(Array.from(a.data as ArrayLike<number | bigint>));
    });
  }

  it('writes the exact header numpy writes', () => {
    // The first bytes of train_labels.npy in an np.savez_compressed file: uint8 (701, 1).
    const bytes = writeNpy(npyArray('uint8', [701, 1], new Uint8Array(701)));
    const header = new TextDecoder('latin1').decode(bytes.subarray(10, 128));
    expect(Array.from(bytes.subarray(0, 10))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0x76, 0]);
    expect(header).toBe(`{'descr': '|u1', 'fortran_order': False, 'shape': (701, 1), }${' '.repeat(56)}\n`);
    expect(bytes.length).toBe(128 + 701);
  });

  it('reads numpy format versions 2.0 and 3.0', () => {
    for (const [s, v] of [
      [NUMPY_NPY_V2, '2.0'],
      [NUMPY_NPY_V3, '3.0'],
    ] as const) {
      const bytes = b64(s);
      expect(parseNpyHeader(bytes).version).toBe(v);
      const a = parseNpy(bytes);
      expect(a.dtype).toBe('float32');
      expect(a.shape).toEqual([2, 2]);
      expect(Array.from(a.data as Float32Array)).toEqual([1.5, -2.25, 3, Math.fround(1e-3)]);
    }
  });

  it('reads numpy bool arrays and unaligned payloads', () => {
    const a = parseNpy(b64(NUMPY_NPY_BOOL));
    expect(a.dtype).toBe('bool');
    expect(Array.from(a.data as Uint8Array)).toEqual([1, 0, 1]);
    // The same float32 array starting at an odd byte offset of a larger buffer.
    const src = writeNpy(npyArray('float32', [3], Float32Array.of(1, 2, 3)));
    const big = new Uint8Array(src.length + 1);
    big.set(src, 1);
    expect(Array.from(parseNpy(big.subarray(1)).data as Float32Array)).toEqual([1, 2, 3]);
  });

  it('accepts Python 2 long dimensions and a trailing-comma-free dict', () => {
    const a = parseNpy(rawNpy("{'shape': (2L,), 'fortran_order': False, 'descr': '<f4'}", f32([1, 2])));
    expect(a.shape).toEqual([2]);
  });

  it('reads and writes files', () => {
    const file = join(makeTmpDir().dir, 'v.npy');
    writeNpyFile(file, npyArray('float32', [2], Float32Array.of(0.25, 4)));
    expect(Array.from(readNpy(file).data as Float32Array)).toEqual([0.25, 4]);
    expectDataError(() => readNpy(join(file, '..', 'missing.npy')), /missing\.npy: no such file/);
  });

  it('converts integer arrays to Int32Array', () => {
    expect(Array.from(toIntArray(npyArray('int64', [2], BigInt64Array.of(3n, -4n))))).toEqual([3, -4]);
    expectDataError(() => toIntArray(npyArray('float32', [1], Float32Array.of(0.5)), 'y'), /y: value 0.5 at flat index 0/);
  });
});

describe('npy refusals', () => {
  it('bad magic', () => {
    expectDataError(() => parseNpy(new TextEncoder().encode('PK\u0003\u0004 not an npy'), 'a.npy'), /a\.npy: not a \.npy array \(bad magic/);
  });

  it('unsupported format version', () => {
    const bytes = writeNpy(npyArray('uint8', [1], Uint8Array.of(1)));
    bytes[6] = 4;
    expectDataError(() => parseNpy(bytes, 'v.npy'), /unsupported \.npy format version 4\.0/);
  });

  it('Fortran order', () => {
    const bytes = rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f32([1, 2]));
    expectDataError(() => parseNpy(bytes, 'f.npy'), /f\.npy: Fortran-order/, /ascontiguousarray/);
  });

  it('big-endian data (as numpy writes it)', () => {
    expectDataError(() => parseNpy(b64(NUMPY_NPY_BIG_ENDIAN), 'be.npy'), /be\.npy: big-endian data \('>f4'\) is not supported/, /astype\('<f4'\)/);
  });

  it('unsupported dtypes', () => {
    for (const [descr, extra] of [
      ['<c8', /unsupported dtype '<c8'/],
      ['|O', /object arrays/],
      ['<U5', /string arrays/],
      ['<f2', /unsupported dtype '<f2'/],
      ['=f4', /byte order '=' .* not explicit/],
    ] as const) {
      const bytes = rawNpy(`{'descr': '${descr}', 'fortran_order': False, 'shape': (0,), }`, new Uint8Array(0));
      expectDataError(() => parseNpy(bytes, 'd.npy'), /d\.npy: /, extra);
    }
  });

  it('structured dtypes', () => {
    const bytes = rawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", f32([1]));
    expectDataError(() => parseNpy(bytes, 's.npy'), /structured dtypes/);
  });

  it('a header that lies about the data length', () => {
    const short = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", f32([1, 2, 3, 4, 5]));
    expectDataError(
      () => parseNpy(short, 'lie.npy'),
      /lie\.npy: the header does not match the data: shape \(3, 2\) of '<f4' needs 24 bytes but 20 bytes follow/,
      /truncated file or wrong shape/,
    );
    const long = rawNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", Uint8Array.of(1, 2, 3));
    expectDataError(() => parseNpy(long, 'lie.npy'), /needs 2 bytes but 3 bytes follow/, /extra trailing bytes/);
  });

  it('missing, extra and duplicate keys; malformed dicts', () => {
    const p = f32([1]);
    expectDataError(() => parseNpy(rawNpy("{'descr': '<f4', 'shape': (1,), }", p), 'm.npy'), /missing 'fortran_order'/);
    expectDataError(
      () => parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", p), 'm.npy'),
      /malformed header|unexpected key/,
    );
    expectDataError(
      () => parseNpy(rawNpy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", p), 'm.npy'),
      /duplicate key 'descr'/,
    );
    expectDataError(() => parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", p), 'm.npy'), /non-negative integer/);
    expectDataError(() => parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", p), 'm.npy'), /malformed header/);
    expectDataError(() => parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", p), 'm.npy'), /unexpected text after the dict/);
  });

  it('a truncated header', () => {
    const bytes = writeNpy(npyArray('uint8', [4], new Uint8Array(4)));
    expectDataError(() => parseNpy(bytes.subarray(0, 40), 't.npy'), /t\.npy: truncated \.npy header/);
  });

  it('bool bytes other than 0/1', () => {
    const bytes = rawNpy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", Uint8Array.of(1, 2));
    expectDataError(() => parseNpy(bytes, 'b.npy'), /byte value 2 at flat index 1/);
  });

  it('npyArray checks dtype, shape and length', () => {
    expectDataError(() => npyArray('float32', [2], Float64Array.of(1, 2)), /needs a Float32Array, got a Float64Array/);
    expectDataError(() => npyArray('uint8', [2, 2], new Uint8Array(3)), /needs 4 elements, data has 3/);
  });
});
