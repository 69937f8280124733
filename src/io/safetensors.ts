/**
 * The safetensors file format (https://github.com/huggingface/safetensors), written byte for
 * byte as the reference Rust implementation writes it, and read strictly:
 *
 *   [8 bytes] N, unsigned little-endian: length of the header
 *   [N bytes] UTF-8 JSON header, padded with spaces to a multiple of 8 bytes:
 *             {"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
 *   [rest]    tensor data, little-endian, row-major; offsets are relative to the end of the header
 *
 * Like the reference writer, tensors are laid out sorted by dtype (largest alignment first, in
 * the reference's Dtype enum order) then by name, with no gaps; the header lists `__metadata__`
 * first, then the tensors in that order, as compact JSON. The reference serialises metadata from a
 * hash map (arbitrary order); we sort its keys so our files are reproducible.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';

/** Element types, in the reference's `Dtype` enum order (increasing alignment). */
export const SAFETENSORS_DTYPES = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'] as const;
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

const DTYPE_RANK = new Map<string, number>(SAFETENSORS_DTYPES.map((d, i) => [d, i]));

const DTYPE_SIZE: Record<SafetensorsDType, number> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** The reference refuses headers above 100 MB (a corrupt length would otherwise allocate gigabytes). */
const MAX_HEADER_SIZE = 100_000_000;

/** A tensor to write. Integer dtypes take integral numbers (I64/U64 may also be bigint arrays). */
export interface SafeTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number> | BigInt64Array | BigUint64Array;
}

/** A tensor read from a file: values as float64 plus the raw little-endian bytes. */
export interface LoadedTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Decoded values (F16/BF16 widened; I64/U64 must be within +-2^53, else read `bytes`). */
  readonly data: Float64Array;
  /** The tensor's bytes exactly as stored (a copy, independent of the file buffer). */
  readonly bytes: Uint8Array;
}

export interface SafetensorsFile {
  /** The `__metadata__` map, or null if the file has none. */
  readonly metadata: Readonly<Record<string, string>> | null;
  /** Tensors in file (offset) order. */
  readonly tensors: ReadonlyMap<string, LoadedTensor>;
}

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    what: string,
  ) {
    super(`${file}: ${what}`);
    this.name = 'SafetensorsError';
  }
}

export type TensorDict = Readonly<Record<string, SafeTensor>> | ReadonlyMap<string, SafeTensor>;

function entriesOf(tensors: TensorDict): [string, SafeTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, SafeTensor>);
}

const utf8 = new TextEncoder();

/** Rust compares `String`s bytewise (UTF-8); JS `<` compares UTF-16 units. They differ only beyond the BMP. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------- half-precision formats

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Encodes a double as a small IEEE-style float (F16: 5 exponent / 10 mantissa bits, BF16: 8 / 7),
 * rounding to nearest-even directly from float64 (no double rounding through float32).
 */
function encodeMinifloat(v: number, expBits: number, manBits: number): number {
  const bias = (1 << (expBits - 1)) - 1;
  const expMax = (1 << expBits) - 1;
  const signBit = 1 << (expBits + manBits);
  if (Number.isNaN(v)) return (expMax << manBits) | (1 << (manBits - 1));
  const sign = v < 0 || Object.is(v, -0) ? signBit : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | (expMax << manBits);
  const minNormal = 2 ** (1 - bias);
  if (a < minNormal) {
    // subnormal: a multiple of 2^(1 - bias - manBits); rounding up to 2^manBits gives the smallest normal
    return sign | roundHalfEven(a / 2 ** (1 - bias - manBits));
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 2 ** manBits);
  if (m === 2 ** manBits) {
    m = 0;
    e++;
  }
  if (e + bias >= expMax) return sign | (expMax << manBits);
  return sign | ((e + bias) << manBits) | m;
}

function decodeMinifloat(bits: number, expBits: number, manBits: number): number {
  const bias = (1 << (expBits - 1)) - 1;
  const expMax = (1 << expBits) - 1;
  const sign = bits & (1 << (expBits + manBits)) ? -1 : 1;
  const e = (bits >> manBits) & expMax;
  const m = bits & ((1 << manBits) - 1);
  if (e === 0) return sign * m * 2 ** (1 - bias - manBits);
  if (e === expMax) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 2 ** manBits) * 2 ** (e - bias);
}

export const float16 = {
  encode: (v: number): number => encodeMinifloat(v, 5, 10),
  decode: (bits: number): number => decodeMinifloat(bits, 5, 10),
};
export const bfloat16 = {
  encode: (v: number): number => encodeMinifloat(v, 8, 7),
  decode: (bits: number): number => decodeMinifloat(bits, 8, 7),
};

// ---------------------------------------------------------------- writing

const INT_RANGE: Partial<Record<SafetensorsDType, [number, number]>> = {
  BOOL: [0, 1], U8: [0, 255], I8: [-128, 127], I16: [-32768, 32767], U16: [0, 65535],
  I32: [-(2 ** 31), 2 ** 31 - 1], U32: [0, 2 ** 32 - 1],
  I64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], U64: [0, Number.MAX_SAFE_INTEGER],
};

function encodeTensor(name: string, t: SafeTensor, out: DataView, offset: number): void {
  const n = t.data.length;
  const fail = (i: number, why: string): never => {
    throw new Error(`safetensors: tensor "${name}" (${t.dtype}) element ${i} = ${String(t.data[i])} ${why}`);
  };
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) {
    if (t.dtype !== 'I64' && t.dtype !== 'U64') throw new Error(`safetensors: tensor "${name}" has bigint data but dtype ${t.dtype}`);
    for (let i = 0; i < n; i++) {
      const v = t.data[i]!;
      if (t.dtype === 'I64') {
        if (v < -(2n ** 63n) || v >= 2n ** 63n) fail(i, 'is out of the I64 range');
        out.setBigInt64(offset + 8 * i, v, true);
      } else {
        if (v < 0n || v >= 2n ** 64n) fail(i, 'is out of the U64 range');
        out.setBigUint64(offset + 8 * i, v, true);
      }
    }
    return;
  }
  const data = t.data as ArrayLike<number>;
  const range = INT_RANGE[t.dtype];
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    const at = offset + DTYPE_SIZE[t.dtype] * i;
    if (range) {
      if (!Number.isInteger(v)) fail(i, 'is not an integer');
      if (v < range[0] || v > range[1]) fail(i, `is out of the ${t.dtype} range`);
    }
    switch (t.dtype) {
      case 'F64': out.setFloat64(at, v, true); break;
      case 'F32': out.setFloat32(at, v, true); break;
      case 'F16': out.setUint16(at, float16.encode(v), true); break;
      case 'BF16': out.setUint16(at, bfloat16.encode(v), true); break;
      case 'I64': out.setBigInt64(at, BigInt(v), true); break;
      case 'U64': out.setBigUint64(at, BigInt(v), true); break;
      case 'I32': out.setInt32(at, v, true); break;
      case 'U32': out.setUint32(at, v, true); break;
      case 'I16': out.setInt16(at, v, true); break;
      case 'U16': out.setUint16(at, v, true); break;
      case 'I8': out.setInt8(at, v); break;
      case 'U8':
      case 'BOOL': out.setUint8(at, v); break;
    }
  }
}

function checkTensor(name: string, t: SafeTensor): void {
  if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
  if (!DTYPE_RANK.has(t.dtype)) throw new Error(`safetensors: tensor "${name}" has unsupported dtype ${String(t.dtype)}`);
  for (const d of t.shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`safetensors: tensor "${name}" has invalid shape [${t.shape.join(', ')}]`);
  }
  if (numel(t.shape) !== t.data.length) {
    throw new Error(`safetensors: tensor "${name}" shape [${t.shape.join(', ')}] needs ${numel(t.shape)} values, data has ${t.data.length}`);
  }
}

/** Serialises tensors (and optional string metadata) to the bytes of a .safetensors file. */
export function serializeSafetensors(tensors: TensorDict, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const entries = entriesOf(tensors);
  for (const [name, t] of entries) checkTensor(name, t);
  entries.sort(([an, a], [bn, b]) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || compareUtf8(an, bn));

  // serde_json compact output; built by hand because JS objects reorder integer-like keys
  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    for (const k of keys) {
      if (typeof metadata[k] !== 'string') throw new Error(`safetensors: metadata "${k}" must be a string, got ${typeof metadata[k]}`);
    }
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const [name, t] of entries) {
    const nbytes = t.data.length * DTYPE_SIZE[t.dtype];
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + nbytes}]}`);
    offsets.push(offset);
    offset += nbytes;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const headerLen = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  entries.forEach(([name, t], k) => encodeTensor(name, t, view, 8 + headerLen + offsets[k]!));
  return out;
}

/** Writes a .safetensors file atomically (temp file + rename). */
export async function saveSafetensors(path: string, tensors: TensorDict, metadata?: Readonly<Record<string, string>>): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

/** Synchronous variant of {@link saveSafetensors}. */
export function saveSafetensorsSync(path: string, tensors: TensorDict, metadata?: Readonly<Record<string, string>>): void {
  writeFileAtomicSync(path, serializeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------- reading

function decodeTensor(file: string, name: string, dtype: SafetensorsDType, bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = DTYPE_SIZE[dtype];
  const n = bytes.length / size;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * size;
    switch (dtype) {
      case 'F64': out[i] = view.getFloat64(at, true); break;
      case 'F32': out[i] = view.getFloat32(at, true); break;
      case 'F16': out[i] = float16.decode(view.getUint16(at, true)); break;
      case 'BF16': out[i] = bfloat16.decode(view.getUint16(at, true)); break;
      case 'I64':
      case 'U64': {
        const v = dtype === 'I64' ? view.getBigInt64(at, true) : view.getBigUint64(at, true);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new SafetensorsError(file, `tensor "${name}" element ${i} = ${v} does not fit a float64 exactly; read its bytes instead`);
        }
        out[i] = Number(v);
        break;
      }
      case 'I32': out[i] = view.getInt32(at, true); break;
      case 'U32': out[i] = view.getUint32(at, true); break;
      case 'I16': out[i] = view.getInt16(at, true); break;
      case 'U16': out[i] = view.getUint16(at, true); break;
      case 'I8': out[i] = view.getInt8(at); break;
      case 'U8':
      case 'BOOL': out[i] = view.getUint8(at); break;
    }
  }
  return out;
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates the bytes of a .safetensors file. `file` names the source in errors.
 * Checks, as the reference reader does: header length within the file and <= 100 MB, header is
 * UTF-8 JSON starting with "{", metadata is a string map, every dtype known, offsets contiguous
 * from 0 with end - begin = numel * itemsize, and the data ends exactly at the end of the file.
 */
export function parseSafetensors(buf: Uint8Array, file = '<buffer>'): SafetensorsFile {
  const bad = (what: string): never => {
    throw new SafetensorsError(file, what);
  };
  if (buf.length < 8) bad(`not a safetensors file: ${buf.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_SIZE)) bad(`header length ${n64} exceeds the 100 MB limit (corrupt or not a safetensors file)`);
  const n = Number(n64);
  if (8 + n > buf.length) bad(`truncated: header claims ${n} bytes but the file has only ${buf.length - 8} after the length`);

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    bad('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) bad('header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('header is not a JSON object');

  let metadata: Record<string, string> | null = null;
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) bad('__metadata__ is not an object');
      metadata = {};
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(`__metadata__ "${k}" is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof info !== 'object' || info === null) bad(`tensor "${name}": entry is not an object`);
    const { dtype, shape, data_offsets: off } = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !DTYPE_RANK.has(dtype)) bad(`tensor "${name}": unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) bad(`tensor "${name}": invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isNonNegInt)) {
      bad(`tensor "${name}": invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    entries.push({ name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + n;
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected || e.end < e.begin) {
      bad(`tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] leave a gap or overlap (expected to start at ${expected})`);
    }
    const nbytes = numel(e.shape) * DTYPE_SIZE[e.dtype];
    if (e.end - e.begin !== nbytes) {
      bad(`tensor "${e.name}": ${e.dtype} [${e.shape.join(', ')}] needs ${nbytes} bytes but data_offsets span ${e.end - e.begin}`);
    }
    expected = e.end;
  }
  const dataLen = buf.length - dataStart;
  if (expected > dataLen) bad(`truncated: tensors need ${expected} data bytes but the file has ${dataLen}`);
  if (expected < dataLen) bad(`${dataLen - expected} unexpected bytes after the last tensor`);

  const tensors = new Map<string, LoadedTensor>();
  for (const e of entries) {
    const bytes = new Uint8Array(buf.subarray(dataStart + e.begin, dataStart + e.end));
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decodeTensor(file, e.name, e.dtype, bytes), bytes });
  }
  return { metadata, tensors };
}

/** Reads and validates a .safetensors file. */
export async function loadSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFile(path), path);
}

/** Synchronous variant of {@link loadSafetensors}. */
export function loadSafetensorsSync(path: string): SafetensorsFile {
  return parseSafetensors(readFileSync(path), path);
}
