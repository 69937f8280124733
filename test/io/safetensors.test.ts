import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bfloat16,
  float16,
  loadSafetensors,
  loadSafetensorsSync,
  parseSafetensors,
  saveSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type SafeTensor,
} from '../../src/io/safetensors.js';
import { Rng } from '../../src/util/rng.js';

const root = mkdtempSync(join(tmpdir(), 'stmedfm-st-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function le64(n: number): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return [...b];
}
const ascii = (s: string): number[] => [...Buffer.from(s, 'utf8')];
const f32le = (xs: number[]): number[] => [...new Uint8Array(Float32Array.from(xs).buffer)];

/**
 * An independent minimal reader written from the format description alone: u64 header length,
 * JSON header, raw little-endian data at the given offsets. Decodes F32/F64/I64/U8 only.
 */
function minimalRead(buf: Uint8Array): { header: Record<string, unknown>; values: Map<string, number[]> } {
  const n = Number(Buffer.from(buf).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(buf.subarray(8, 8 + n)).toString('utf8')) as Record<string, unknown>;
  const values = new Map<string, number[]>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, data_offsets: [b, e] } = info as { dtype: string; data_offsets: [number, number] };
    const bytes = Buffer.from(buf.subarray(8 + n + b, 8 + n + e)); // a copy: aligned for typed arrays
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    const arr =
      dtype === 'F32' ? [...new Float32Array(ab)]
      : dtype === 'F64' ? [...new Float64Array(ab)]
      : dtype === 'I64' ? [...new BigInt64Array(ab)].map(Number)
      : dtype === 'U8' ? [...new Uint8Array(ab)]
      : [];
    values.set(name, arr);
  }
  return { header, values };
}

describe('safetensors writer matches the reference implementation byte for byte', () => {
  // the three byte-level cases of the reference's own unit tests (safetensors/src/tensor.rs)
  it('one F32 tensor whose header needs no padding', () => {
    const out = serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: [0, 1, 2, 3, 4, 5] } });
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(header.length).toBe(64);
    expect([...out]).toEqual([...le64(64), ...ascii(header), ...f32le([0, 1, 2, 3, 4, 5])]);
  });

  it('pads the header with spaces to a multiple of 8 (forced alignment)', () => {
    const out = serializeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: [0, 1, 2, 3, 4, 5] } });
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    expect(header.length).toBe(65);
    expect([...out]).toEqual([...le64(72), ...ascii(header), ...ascii(' '.repeat(7)), ...f32le([0, 1, 2, 3, 4, 5])]);
  });

  it('empty file, with and without metadata', () => {
    expect([...serializeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect([...serializeSafetensors({}, { framework: 'pt' })]).toEqual([
      ...le64(40),
      ...ascii('{"__metadata__":{"framework":"pt"}}'),
      ...ascii('     '),
    ]);
  });

  it('orders tensors by dtype alignment (reference enum order, descending) then by name', () => {
    const t = (dtype: SafeTensor['dtype'], n: number): SafeTensor => ({ dtype, shape: [n], data: new Array<number>(n).fill(1) });
    const out = serializeSafetensors(
      { b: t('F32', 3), '10': t('U8', 3), a: t('F32', 1), c: t('I64', 2), e: t('F64', 1), '2': t('U8', 1), h: t('F16', 1) },
      { z: '1', a: '2' },
    );
    const n = Number(Buffer.from(out).readBigUInt64LE(0));
    const text = Buffer.from(out.subarray(8, 8 + n)).toString('utf8');
    // key order in the header text itself (JSON.parse would hoist the integer-like names)
    const keys = [...text.matchAll(/"([^"]+)":\{"(?:dtype|a)/g)].map((m) => m[1]);
    expect(keys).toEqual(['__metadata__', 'c', 'e', 'a', 'b', 'h', '10', '2']);
    expect(text.startsWith('{"__metadata__":{"a":"2","z":"1"},"c":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}')).toBe(true);
    // every tensor starts at a multiple of its element size within the file
    const { header } = minimalRead(out);
    const size: Record<string, number> = { I64: 8, F64: 8, F32: 4, F16: 2, U8: 1 };
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const { dtype, data_offsets } = info as { dtype: string; data_offsets: [number, number] };
      expect((8 + n + data_offsets[0]) % size[dtype]!).toBe(0);
    }
  });
});

describe('safetensors round trip', () => {
  it('all dtypes survive write + read, and an independent reader agrees', async () => {
    const rng = new Rng(1);
    const f = Array.from({ length: 12 }, () => rng.normal());
    const tensors: Record<string, SafeTensor> = {
      'blocks.0.qkv.weight': { dtype: 'F32', shape: [3, 4], data: f },
      f64: { dtype: 'F64', shape: [2, 2, 3], data: f },
      scalar: { dtype: 'F32', shape: [], data: [2.5] },
      empty: { dtype: 'F32', shape: [0, 4], data: [] },
      i64: { dtype: 'I64', shape: [4], data: [0, -1, 2 ** 40, -(2 ** 53) + 1] },
      big: { dtype: 'I64', shape: [1], data: BigInt64Array.of(-(2n ** 40n)) },
      u8: { dtype: 'U8', shape: [3], data: [0, 7, 255] },
      i8: { dtype: 'I8', shape: [2], data: [-128, 127] },
      i16: { dtype: 'I16', shape: [2], data: [-32768, 32767] },
      u16: { dtype: 'U16', shape: [1], data: [65535] },
      i32: { dtype: 'I32', shape: [2], data: [-(2 ** 31), 2 ** 31 - 1] },
      u32: { dtype: 'U32', shape: [1], data: [2 ** 32 - 1] },
      u64: { dtype: 'U64', shape: [1], data: [2 ** 53 - 1] },
      bool: { dtype: 'BOOL', shape: [3], data: [1, 0, 1] },
      f16: { dtype: 'F16', shape: [4], data: [1, -0.5, 65504, 2 ** -24] },
      bf16: { dtype: 'BF16', shape: [3], data: [1, -3, 2 ** 100] },
    };
    const path = join(root, 'all.safetensors');
    await saveSafetensors(path, tensors, { format: 'pt', note: 'ünïcode ✓' });
    const back = await loadSafetensors(path);
    expect(back.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect([...back.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = back.tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      const want = t.dtype === 'F32' ? Array.from(t.data as number[], Math.fround) : Array.from(t.data as ArrayLike<number | bigint>, Number);
      expect([...got.data]).toEqual(want);
    }
    const ind = minimalRead(readFileSync(path));
    expect(ind.values.get('blocks.0.qkv.weight')).toEqual(f.map(Math.fround));
    expect(ind.values.get('f64')).toEqual(f);
    expect(ind.values.get('i64')).toEqual([0, -1, 2 ** 40, -(2 ** 53) + 1]);
    expect(ind.values.get('u8')).toEqual([0, 7, 255]);
    expect(back.tensors.get('f64')!.bytes.length).toBe(96);
  });

  it('integer-like and non-ASCII tensor names keep their order and content', () => {
    const out = serializeSafetensors({ '1': { dtype: 'F64', shape: [1], data: [1] }, 'é.0': { dtype: 'F64', shape: [1], data: [2] } });
    const back = parseSafetensors(out);
    expect(back.tensors.get('1')!.data[0]).toBe(1);
    expect(back.tensors.get('é.0')!.data[0]).toBe(2);
    expect(back.metadata).toBeNull();
  });

  it('refuses to write inconsistent tensors', () => {
    expect(() => serializeSafetensors({ x: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] } })).toThrow(/shape \[2, 2\] needs 4 values, data has 3/);
    expect(() => serializeSafetensors({ x: { dtype: 'U8', shape: [1], data: [256] } })).toThrow(/"x" \(U8\) element 0 = 256 is out of the U8 range/);
    expect(() => serializeSafetensors({ x: { dtype: 'I64', shape: [1], data: [0.5] } })).toThrow(/is not an integer/);
    expect(() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [0], data: [] } })).toThrow(/reserved/);
    expect(() => serializeSafetensors({ x: { dtype: 'F8' as 'F32', shape: [0], data: [] } })).toThrow(/unsupported dtype F8/);
  });
});

describe('safetensors reader rejects bad files with the file name in the message', () => {
  const good = serializeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] } }, { format: 'pt' });
  const headerLen = Number(Buffer.from(good).readBigUInt64LE(0));

  /** A file with the given header JSON (padded) and `dataBytes` zero bytes of data. */
  function craft(json: string, dataBytes: number, lenOverride?: number): Uint8Array {
    const h = Buffer.from(json, 'utf8');
    return Uint8Array.from([...le64(lenOverride ?? h.length), ...h, ...new Array<number>(dataBytes).fill(0)]);
  }

  function expectBad(bytes: Uint8Array, pattern: RegExp): void {
    const path = join(root, `bad-${Math.random().toString(36).slice(2)}.safetensors`);
    writeFileSync(path, bytes);
    let err: unknown;
    try {
      loadSafetensorsSync(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).message.startsWith(`${path}: `)).toBe(true);
    expect((err as Error).message).toMatch(pattern);
  }

  it('accepts the good file', () => {
    expect([...parseSafetensors(good).tensors.get('w')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('truncated data, truncated header, tiny file, trailing bytes', () => {
    expectBad(good.subarray(0, good.length - 1), /truncated: tensors need 24 data bytes but the file has 23/);
    expectBad(good.subarray(0, 8 + headerLen - 3), /truncated: header claims/);
    expectBad(good.subarray(0, 5), /shorter than the 8-byte header length/);
    expectBad(Uint8Array.from([...good, 0]), /1 unexpected bytes after the last tensor/);
  });

  it('corrupt header length, encoding or JSON', () => {
    expectBad(craft('{}', 0, 2 ** 31), /exceeds the 100 MB limit/);
    expectBad(Uint8Array.from([...le64(4), 0x7b, 0xff, 0xfe, 0x7d]), /not valid UTF-8/);
    expectBad(craft('[1,2,3] ', 0), /does not start with "\{"/);
    expectBad(craft('{"w": {', 0), /not valid JSON/);
  });

  it('inconsistent tensor entries', () => {
    expectBad(craft('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}', 12), /"w": F32 \[2\] needs 8 bytes but data_offsets span 12/);
    expectBad(
      craft('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 12),
      /"b": data_offsets \[8, 12\] leave a gap or overlap \(expected to start at 4\)/,
    );
    expectBad(craft('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', 4), /"w": data_offsets \[4, 0\]/);
    expectBad(craft('{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}', 1), /"w": unsupported dtype "Q4"/);
    expectBad(craft('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4), /"w": invalid shape \[-1\]/);
    expectBad(craft('{"w":{"dtype":"F32","shape":[1]}}', 4), /"w": invalid data_offsets undefined/);
    expectBad(craft('{"__metadata__":{"epoch":3}}', 0), /__metadata__ "epoch" is not a string/);
  });

  it('I64 values beyond 2^53 are refused as numbers rather than silently rounded', () => {
    const out = serializeSafetensors({ n: { dtype: 'I64', shape: [1], data: BigInt64Array.of(2n ** 60n) } });
    expect(() => parseSafetensors(out, 'x.safetensors')).toThrow(/x.safetensors: tensor "n" element 0 = 1152921504606846976 does not fit/);
  });
});

describe('half-precision codecs', () => {
  it('F16 known encodings, round to nearest even, overflow and specials', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00],
      [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [2 ** -14, 0x0400], [1 / 3, 0x3555],
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [-0, 0x8000], [Infinity, 0x7c00], [-Infinity, 0xfc00],
    ];
    for (const [v, bits] of cases) expect(float16.encode(v)).toBe(bits);
    expect(float16.encode(NaN)).toBe(0x7e00);
    expect(float16.decode(0x7e00)).toBeNaN();
  });

  it('F16 decode then encode is the identity on every non-NaN bit pattern', () => {
    const mismatches: number[] = [];
    let nans = 0;
    for (let b = 0; b < 65536; b++) {
      const v = float16.decode(b);
      if (Number.isNaN(v)) nans++;
      else if (float16.encode(v) !== b) mismatches.push(b);
    }
    expect(mismatches).toEqual([]);
    expect(nans).toBe(2 * 1023); // exponent all ones with a non-zero mantissa, both signs
  });

  it('F16 and BF16 encoding picks the nearest representable value', () => {
    const rng = new Rng(4);
    for (const codec of [float16, bfloat16]) {
      for (let k = 0; k < 2000; k++) {
        const v = rng.normal() * 2 ** Math.floor(rng.uniform(-20, 15));
        const bits = codec.encode(v);
        const err = Math.abs(codec.decode(bits) - v);
        for (const nb of [bits - 1, bits + 1]) {
          const alt = codec.decode(nb & 0xffff);
          if (Number.isFinite(alt) && Math.sign(alt) === Math.sign(v)) expect(err).toBeLessThanOrEqual(Math.abs(alt - v));
        }
      }
    }
  });

  it('BF16 equals round-to-nearest-even of the float32 bits for float32 inputs', () => {
    const rng = new Rng(8);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let k = 0; k < 2000; k++) {
      f[0] = rng.normal() * 1000;
      const b32 = u[0]!;
      expect(bfloat16.encode(f[0]!)).toBe((b32 + 0x7fff + ((b32 >>> 16) & 1)) >>> 16);
    }
    expect(bfloat16.encode(1)).toBe(0x3f80);
    expect(bfloat16.encode(1 / 3)).toBe(0x3eab);
  });
});
