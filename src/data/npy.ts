/**
 * Strict reader and writer for NumPy's `.npy` format (versions 1.0, 2.0 and 3.0).
 *
 * Strict on purpose: a MedMNIST file that parses "almost" right (a wrong dtype, a header whose
 * shape does not match the bytes that follow) would otherwise turn into silently wrong training
 * data. Every refusal names the array and says what was found and what was expected.
 *
 * Format: magic `\x93NUMPY`, major, minor, header length (uint16 LE in 1.0, uint32 LE in 2.0/3.0),
 * then a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded
 * with spaces and a final newline, then the raw C-order data.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../io/atomic.js';
import { DataError } from './errors.js';

export type NpyDtype =
  | 'bool'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64';

export type NpyTypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** A dense C-order array. `bool` is held as 0/1 bytes; 64-bit integers as bigint arrays. */
export interface NpyArray {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly data: NpyTypedArray;
}

interface DtypeSpec {
  readonly kind: 'b' | 'u' | 'i' | 'f';
  readonly size: number;
  readonly make: (buf: ArrayBuffer, offset: number, length: number) => NpyTypedArray;
  readonly ctor: { BYTES_PER_ELEMENT: number; name: string };
}

const DTYPES: Readonly<Record<NpyDtype, DtypeSpec>> = {
  bool: { kind: 'b', size: 1, make: (b, o, n) => new Uint8Array(b, o, n), ctor: Uint8Array },
  uint8: { kind: 'u', size: 1, make: (b, o, n) => new Uint8Array(b, o, n), ctor: Uint8Array },
  int8: { kind: 'i', size: 1, make: (b, o, n) => new Int8Array(b, o, n), ctor: Int8Array },
  uint16: { kind: 'u', size: 2, make: (b, o, n) => new Uint16Array(b, o, n), ctor: Uint16Array },
  int16: { kind: 'i', size: 2, make: (b, o, n) => new Int16Array(b, o, n), ctor: Int16Array },
  uint32: { kind: 'u', size: 4, make: (b, o, n) => new Uint32Array(b, o, n), ctor: Uint32Array },
  int32: { kind: 'i', size: 4, make: (b, o, n) => new Int32Array(b, o, n), ctor: Int32Array },
  int64: { kind: 'i', size: 8, make: (b, o, n) => new BigInt64Array(b, o, n), ctor: BigInt64Array },
  uint64: { kind: 'u', size: 8, make: (b, o, n) => new BigUint64Array(b, o, n), ctor: BigUint64Array },
  float32: { kind: 'f', size: 4, make: (b, o, n) => new Float32Array(b, o, n), ctor: Float32Array },
  float64: { kind: 'f', size: 8, make: (b, o, n) => new Float64Array(b, o, n), ctor: Float64Array },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64; // numpy pads headers so the data starts on a 64-byte boundary
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function itemSize(dtype: NpyDtype): number {
  return DTYPES[dtype].size;
}

/** The numpy `descr` string for a dtype, as numpy itself writes it ('|u1', '<f4', ...). */
export function descrOf(dtype: NpyDtype): string {
  const s = DTYPES[dtype];
  return `${s.size === 1 ? '|' : '<'}${s.kind}${s.size}`;
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

const SUPPORTED = (Object.keys(DTYPES) as NpyDtype[]).map(descrOf).join(', ');

/** Maps a descr string to a dtype or explains why it is refused. */
function dtypeFromDescr(descr: string, where: string): NpyDtype {
  const m = /^([<>|=])([biuf])(\d+)$/.exec(descr);
  if (!m) {
    const hint = descr.includes('O')
      ? ' (object arrays need pickle, which is never loaded)'
      : /[US]/.test(descr)
        ? ' (string arrays are not numeric data)'
        : '';
    throw new DataError(`${where}: unsupported dtype '${descr}'${hint}; supported: ${SUPPORTED}`);
  }
  const [, order, kind, sizeText] = m as unknown as [string, string, string, string];
  const size = Number(sizeText);
  const dtype = (Object.keys(DTYPES) as NpyDtype[]).find((d) => DTYPES[d].kind === kind && DTYPES[d].size === size);
  if (dtype === undefined) throw new DataError(`${where}: unsupported dtype '${descr}'; supported: ${SUPPORTED}`);
  if (size > 1) {
    if (order === '>')
      throw new DataError(
        `${where}: big-endian data ('${descr}') is not supported; convert it in numpy with ` +
          `arr.astype('<${kind}${size}') and save again`,
      );
    if (order !== '<')
      throw new DataError(`${where}: byte order '${order}' in dtype '${descr}' is not explicit; expected '<${kind}${size}'`);
  }
  return dtype;
}

// ---- the header dict: a tiny parser for exactly the Python literal numpy writes ----

type PyValue = string | boolean | number[] | { list: true };

class HeaderParser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly where: string,
  ) {}

  private fail(what: string): never {
    const near = JSON.stringify(this.s.slice(this.i, this.i + 24));
    throw new DataError(`${this.where}: malformed header: ${what} at offset ${this.i} (near ${near}); header was ${JSON.stringify(this.s.trimEnd())}`);
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  private eat(ch: string): boolean {
    this.ws();
    if (this.s[this.i] === ch) {
      this.i++;
      return true;
    }
    return false;
  }

  private expect(ch: string): void {
    if (!this.eat(ch)) this.fail(`expected '${ch}'`);
  }

  private string(): string {
    this.ws();
    const q = this.s[this.i];
    if (q !== "'" && q !== '"') this.fail('expected a quoted string');
    const end = this.s.indexOf(q, this.i + 1);
    if (end < 0) this.fail('unterminated string');
    const v = this.s.slice(this.i + 1, end);
    if (v.includes('\\')) this.fail('escapes in strings are not supported');
    this.i = end + 1;
    return v;
  }

  private int(): number {
    this.ws();
    const m = /^\d+L?/.exec(this.s.slice(this.i)); // Python 2 numpy wrote longs as `3L`
    if (!m) this.fail('expected a non-negative integer');
    this.i += m[0].length;
    const v = Number(m[0].replace('L', ''));
    if (!Number.isSafeInteger(v)) this.fail(`dimension ${m[0]} is too large`);
    return v;
  }

  private value(): PyValue {
    this.ws();
    const c = this.s[this.i];
    if (c === "'" || c === '"') return this.string();
    if (this.s.startsWith('True', this.i)) {
      this.i += 4;
      return true;
    }
    if (this.s.startsWith('False', this.i)) {
      this.i += 5;
      return false;
    }
    if (c === '[') return { list: true }; // structured dtype: reported by the caller
    if (c === '(') {
      this.i++;
      const dims: number[] = [];
      if (this.eat(')')) return dims;
      for (;;) {
        dims.push(this.int());
        if (this.eat(')')) return dims;
        this.expect(',');
        if (this.eat(')')) return dims;
      }
    }
    return this.fail('expected a string, True/False or a tuple');
  }

  dict(): Map<string, PyValue> {
    const out = new Map<string, PyValue>();
    this.expect('{');
    if (!this.eat('}')) {
      for (;;) {
        const key = this.string();
        if (out.has(key)) this.fail(`duplicate key '${key}'`);
        this.expect(':');
        const v = this.value();
        out.set(key, v);
        if (typeof v === 'object' && !Array.isArray(v)) return out; // stop at a structured descr
        if (this.eat('}')) break;
        this.expect(',');
        if (this.eat('}')) break;
      }
    }
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected text after the dict');
    return out;
  }
}

export interface NpyHeader {
  readonly version: string;
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  /** Byte offset of the first data byte. */
  readonly dataOffset: number;
}

/** Parses and checks the header only (magic, version, dict). */
export function parseNpyHeader(bytes: Uint8Array, name = '<npy>'): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new DataError(`${name}: not a .npy array (bad magic; expected the bytes \\x93NUMPY at the start)`);
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (minor !== 0 || major < 1 || major > 3) {
    throw new DataError(`${name}: unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new DataError(`${name}: truncated .npy header`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  const dataOffset = start + headerLen;
  if (dataOffset > bytes.length) {
    throw new DataError(`${name}: truncated .npy header (header length ${headerLen} runs past the end of ${bytes.length} bytes)`);
  }
  const raw = bytes.subarray(start, dataOffset);
  // Versions 1.0/2.0 are latin-1; 3.0 allows utf-8. Our dicts are ASCII either way.
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(raw);
  const dict = new HeaderParser(text, name).dict();

  for (const k of dict.keys()) {
    if (k !== 'descr' && k !== 'fortran_order' && k !== 'shape') {
      throw new DataError(`${name}: unexpected key '${k}' in the .npy header (expected exactly 'descr', 'fortran_order', 'shape')`);
    }
  }
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (descr !== undefined && typeof descr !== 'string') {
    throw new DataError(`${name}: structured dtypes (record arrays) are not supported; expected a plain numeric dtype (${SUPPORTED})`);
  }
  if (descr === undefined || fortran === undefined || shape === undefined) {
    const missing = ['descr', 'fortran_order', 'shape'].filter((k) => !dict.has(k));
    throw new DataError(`${name}: .npy header is missing ${missing.map((k) => `'${k}'`).join(', ')}`);
  }
  if (typeof fortran !== 'boolean') throw new DataError(`${name}: 'fortran_order' must be True or False`);
  if (!Array.isArray(shape)) throw new DataError(`${name}: 'shape' must be a tuple of integers`);
  if (fortran) {
    throw new DataError(
      `${name}: Fortran-order (column-major) arrays are not supported; save it C-ordered ` +
        `(np.ascontiguousarray(arr)) and try again`,
    );
  }
  const dtype = dtypeFromDescr(descr, name);
  return { version: `${major}.0`, dtype, shape, dataOffset };
}

/**
 * Parses a whole `.npy`. The returned array may share memory with `bytes` (1-byte dtypes and
 * aligned multi-byte data); copy it if `bytes` is going to be reused.
 */
export function parseNpy(bytes: Uint8Array, name = '<npy>'): NpyArray {
  const h = parseNpyHeader(bytes, name);
  const spec = DTYPES[h.dtype];
  const count = numelOf(h.shape);
  const expected = count * spec.size;
  if (!Number.isSafeInteger(expected)) throw new DataError(`${name}: shape ${formatShape(h.shape)} is too large`);
  const actual = bytes.length - h.dataOffset;
  if (actual !== expected) {
    throw new DataError(
      `${name}: the header does not match the data: shape ${formatShape(h.shape)} of '${descrOf(h.dtype)}' needs ` +
        `${expected} bytes but ${actual} bytes follow the header ` +
        `(${actual < expected ? 'truncated file or wrong shape' : 'extra trailing bytes or wrong shape'})`,
    );
  }
  if (spec.size > 1 && !LITTLE_ENDIAN_HOST) {
    throw new DataError(`${name}: reading multi-byte .npy data needs a little-endian host`);
  }
  const abs = bytes.byteOffset + h.dataOffset;
  let data: NpyTypedArray;
  if (abs % spec.size === 0) {
    data = spec.make(bytes.buffer as ArrayBuffer, abs, count);
  } else {
    // Typed arrays need aligned offsets; copy the (rare) unaligned payload. (Not bytes.slice:
    // on a Node Buffer that is a view, not a copy.)
    const copy = new Uint8Array(expected);
    copy.set(bytes.subarray(h.dataOffset, h.dataOffset + expected));
    data = spec.make(copy.buffer, 0, count);
  }
  if (h.dtype === 'bool') {
    const d = data as Uint8Array;
    for (let i = 0; i < d.length; i++) {
      if (d[i]! > 1) throw new DataError(`${name}: bool array holds byte value ${d[i]} at flat index ${i} (expected 0 or 1)`);
    }
  }
  return { dtype: h.dtype, shape: h.shape, data };
}

const TYPED_FOR: Readonly<Record<NpyDtype, string>> = {
  bool: 'Uint8Array',
  uint8: 'Uint8Array',
  int8: 'Int8Array',
  uint16: 'Uint16Array',
  int16: 'Int16Array',
  uint32: 'Uint32Array',
  int32: 'Int32Array',
  int64: 'BigInt64Array',
  uint64: 'BigUint64Array',
  float32: 'Float32Array',
  float64: 'Float64Array',
};

/** Builds an NpyArray, checking that the typed array matches the dtype and the shape. */
export function npyArray(dtype: NpyDtype, shape: readonly number[], data: NpyTypedArray): NpyArray {
  if (data.constructor.name !== TYPED_FOR[dtype]) {
    throw new DataError(`npyArray: dtype ${dtype} needs a ${TYPED_FOR[dtype]}, got a ${data.constructor.name}`);
  }
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new DataError(`npyArray: bad dimension ${d} in shape ${formatShape(shape)}`);
  }
  if (data.length !== numelOf(shape)) {
    throw new DataError(`npyArray: shape ${formatShape(shape)} needs ${numelOf(shape)} elements, data has ${data.length}`);
  }
  return { dtype, shape: [...shape], data };
}

/** Serialises to `.npy` bytes exactly as numpy would (version 1.0 unless the header needs 2.0). */
export function writeNpy(arr: NpyArray): Uint8Array {
  const spec = DTYPES[arr.dtype];
  const checked = npyArray(arr.dtype, arr.shape, arr.data);
  const dict = `{'descr': '${descrOf(checked.dtype)}', 'fortran_order': False, 'shape': ${formatShape(checked.shape)}, }`;
  let major = 1;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / ALIGN) * ALIGN;
  if (total - pre > 0xffff) {
    major = 2;
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / ALIGN) * ALIGN;
  }
  const header = dict + ' '.repeat(total - pre - dict.length - 1) + '\n';
  const payload = new Uint8Array(checked.data.buffer, checked.data.byteOffset, checked.data.length * spec.size);
  const out = new Uint8Array(total + payload.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  if (spec.size > 1 && !LITTLE_ENDIAN_HOST) throw new DataError('writeNpy: writing multi-byte data needs a little-endian host');
  out.set(payload, total);
  return out;
}

/**
 * Integer values of an array as plain numbers (labels are stored as uint8 in MedMNIST, but
 * other writers use int32/int64). Refuses non-integers and 64-bit values beyond 2^53.
 */
export function toIntArray(arr: NpyArray, name = '<npy>'): Int32Array {
  const n = arr.data.length;
  const out = new Int32Array(n);
  const d = arr.data;
  for (let i = 0; i < n; i++) {
    const raw = d[i]!;
    const v = typeof raw === 'bigint' ? Number(raw) : raw;
    if (!Number.isInteger(v) || v > 0x7fffffff || v < -0x80000000) {
      throw new DataError(`${name}: value ${String(raw)} at flat index ${i} is not a 32-bit integer`);
    }
    out[i] = v;
  }
  return out;
}

/** Reads a `.npy` file from disk. */
export function readNpy(path: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(`${path}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(e)})`}`);
  }
  return parseNpy(bytes, path);
}

/** Writes a `.npy` file atomically. */
export function writeNpyFile(path: string, arr: NpyArray): void {
  writeFileAtomicSync(path, writeNpy(arr), { mkdir: true });
}
