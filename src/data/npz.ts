/**
 * `.npz` archives: a zip of `<key>.npy` members, stored or deflated (np.savez / np.savez_compressed).
 *
 * The zip directory is parsed here (zip64-aware, as numpy always writes zip64 local headers) so
 * that every failure gets a precise message: not a zip at all, truncated (the usual interrupted
 * download), a member running past the end of the file, corrupt deflate data, a CRC mismatch.
 * Decompression is fflate's; CRCs are checked with zlib's native crc32.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import { Inflate, inflateSync, zipSync, type Zippable } from 'fflate';
import { writeFileAtomicSync } from '../io/atomic.js';
import { DataError } from './errors.js';
import { parseNpy, parseNpyHeader, writeNpy, type NpyArray, type NpyHeader } from './npy.js';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_EOCD64 = 0x06064b50;
const U32_MAX = 0xffffffff;

export interface NpzEntry {
  /** Array name: the member name without `.npy`. */
  readonly key: string;
  readonly memberName: string;
  /** 0 = stored, 8 = deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly dataStart: number;
}

export interface NpzOpenOptions {
  /** Appended to corruption errors, e.g. "re-download it with `stmedfm data fetch pathmnist`". */
  readonly hint?: string;
}

function hex4(b: Uint8Array): string {
  return Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** Guesses what a non-zip file is, because "bad signature" alone rarely helps. */
function sniff(b: Uint8Array): string {
  const head = new TextDecoder('latin1').decode(b.subarray(0, 64)).trimStart().toLowerCase();
  if (b[0] === 0x93 && head.includes('numpy')) return '; it is a single .npy array, not an .npz archive';
  if (head.startsWith('<!doctype') || head.startsWith('<html') || head.startsWith('<?xml'))
    return '; it looks like an HTML/XML page (an error page saved by a failed download?)';
  if (b[0] === 0x1f && b[1] === 0x8b) return '; it is gzip data (gunzip it first?)';
  if (b[0] === 0x80 && b[1] !== undefined && b[1] <= 5) return '; it looks like a Python pickle, which is never loaded';
  return '';
}

/** A parsed `.npz` held in memory; members are inflated on demand. */
export class NpzFile {
  readonly entries: ReadonlyMap<string, NpzEntry>;

  private constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
    entries: Map<string, NpzEntry>,
    private readonly hint: string,
  ) {
    this.entries = entries;
  }

  /** Reads a file from disk and parses its zip directory (members are not inflated yet). */
  static open(path: string, opts: NpzOpenOptions = {}): NpzFile {
    let bytes: Uint8Array;
    try {
      if (statSync(path).isDirectory()) throw new DataError(`${path}: is a directory, expected an .npz file`);
      bytes = readFileSync(path);
    } catch (e) {
      if (e instanceof DataError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new DataError(`${path}: no such file${opts.hint ? `; ${opts.hint}` : ''}`);
      throw new DataError(`${path}: cannot read (${code ?? String(e)})`);
    }
    return NpzFile.parse(bytes, path, opts);
  }

  /** Parses in-memory bytes; `name` is used in messages. */
  static parse(bytes: Uint8Array, name = '<npz>', opts: NpzOpenOptions = {}): NpzFile {
    const hint = opts.hint ? `; ${opts.hint}` : '';
    const label = basename(name) === name ? name : `${basename(name)} (${name})`;
    const fail = (what: string): never => {
      throw new DataError(`${label}: ${what}${hint}`);
    };
    if (bytes.length === 0) fail('empty file (0 bytes)');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const u16 = (o: number): number => view.getUint16(o, true);
    const u32 = (o: number): number => view.getUint32(o, true);
    const u64 = (o: number): number => Number(view.getBigUint64(o, true));

    const first = bytes.length >= 4 ? u32(0) : -1;
    if (first !== SIG_LOCAL && first !== SIG_EOCD) {
      fail(`not a zip archive (bad signature ${hex4(bytes)}, expected 50 4b 03 04)${sniff(bytes)}`);
    }

    // End of central directory: 22 bytes plus a comment of at most 65535 bytes, at the very end.
    let eocd = -1;
    for (let o = bytes.length - 22; o >= 0 && o >= bytes.length - 22 - 0xffff; o--) {
      if (u32(o) === SIG_EOCD) {
        eocd = o;
        break;
      }
    }
    if (eocd < 0) {
      fail(`truncated zip archive: no end-of-central-directory record in ${bytes.length} bytes (an interrupted download?)`);
    }
    let count = u16(eocd + 10);
    let cdSize = u32(eocd + 12);
    let cdOffset = u32(eocd + 16);
    if (eocd >= 20 && u32(eocd - 20) === SIG_EOCD64_LOCATOR) {
      const z = u64(eocd - 12);
      if (z + 56 > bytes.length || u32(z) !== SIG_EOCD64) fail('corrupt zip64 end-of-central-directory record');
      count = u64(z + 32);
      cdSize = u64(z + 40);
      cdOffset = u64(z + 48);
    }
    if (cdOffset + cdSize > bytes.length) {
      fail(`truncated zip archive: the central directory (offset ${cdOffset}, ${cdSize} bytes) lies past the end of the ${bytes.length}-byte file`);
    }

    const entries = new Map<string, NpzEntry>();
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.length || u32(p) !== SIG_CENTRAL) fail(`corrupt central directory (entry ${i} of ${count})`);
      const flags = u16(p + 8);
      const method = u16(p + 10);
      const crc = u32(p + 16);
      let csize = u32(p + 20);
      let usize = u32(p + 24);
      const nameLen = u16(p + 28);
      const extraLen = u16(p + 30);
      const commentLen = u16(p + 32);
      let localOffset = u32(p + 42);
      const memberName = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(bytes.subarray(p + 46, p + 46 + nameLen));
      // zip64 extra field (id 1): only the fields whose 32-bit slot is saturated, in this order.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = u16(e);
        const len = u16(e + 2);
        if (id === 1) {
          let q = e + 4;
          if (usize === U32_MAX) {
            usize = u64(q);
            q += 8;
          }
          if (csize === U32_MAX) {
            csize = u64(q);
            q += 8;
          }
          if (localOffset === U32_MAX) localOffset = u64(q);
        }
        e += 4 + len;
      }
      p = eEnd + commentLen;
      if (flags & 1) fail(`member ${memberName} is encrypted`);
      if (method !== 0 && method !== 8) fail(`member ${memberName} uses compression method ${method} (only stored and deflated are supported)`);
      if (localOffset + 30 > bytes.length || u32(localOffset) !== SIG_LOCAL) fail(`member ${memberName}: bad local header at offset ${localOffset}`);
      const dataStart = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28);
      if (dataStart + csize > bytes.length) {
        fail(`member ${memberName}: its ${csize} bytes run past the end of the ${bytes.length}-byte file (truncated)`);
      }
      if (!memberName.endsWith('.npy')) continue; // numpy itself ignores non-array members too
      const key = memberName.slice(0, -4);
      if (entries.has(key)) fail(`duplicate member ${memberName}`);
      entries.set(key, { key, memberName, method, compressedSize: csize, size: usize, crc32: crc, dataStart });
    }
    return new NpzFile(name, bytes, entries, hint);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  private entry(key: string): NpzEntry {
    const e = this.entries.get(key);
    if (!e) {
      const have = this.keys().join(', ') || '(none)';
      throw new DataError(`${this.name}: no array '${key}' (arrays in this file: ${have})`);
    }
    return e;
  }

  /** Raw `.npy` bytes of one member, CRC-checked. */
  memberBytes(key: string): Uint8Array {
    const e = this.entry(key);
    const where = `${this.name}, member ${e.memberName}`;
    const raw = this.bytes.subarray(e.dataStart, e.dataStart + e.compressedSize);
    let out: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.size) throw new DataError(`${where}: stored member has compressed size ${e.compressedSize} != size ${e.size}${this.hint}`);
      out = raw;
    } else {
      try {
        out = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (err) {
        throw new DataError(`${where}: corrupt deflate data (${(err as Error).message})${this.hint}`);
      }
      if (out.length !== e.size) throw new DataError(`${where}: inflated to ${out.length} bytes, the directory says ${e.size}${this.hint}`);
    }
    const got = crc32(out) >>> 0;
    if (got !== e.crc32) {
      throw new DataError(`${where}: CRC mismatch (stored ${e.crc32.toString(16)}, computed ${got.toString(16)}): the file is corrupt${this.hint}`);
    }
    return out;
  }

  /** Reads one array. */
  read(key: string): NpyArray {
    const e = this.entry(key);
    return parseNpy(this.memberBytes(key), `${this.name}, array '${e.key}'`);
  }

  /** Dtype and shape of one array without inflating all of it. */
  header(key: string): NpyHeader {
    const e = this.entry(key);
    const where = `${this.name}, array '${e.key}'`;
    const raw = this.bytes.subarray(e.dataStart, e.dataStart + e.compressedSize);
    if (e.method === 0) return parseNpyHeader(raw, where);
    // Inflate just enough of the stream to cover the header (a few hundred bytes at most).
    const chunks: Uint8Array[] = [];
    let have = 0;
    const inf = new Inflate((chunk) => {
      chunks.push(chunk);
      have += chunk.length;
    });
    try {
      for (let o = 0; o < raw.length && have < 4096; o += 4096) {
        inf.push(raw.subarray(o, Math.min(raw.length, o + 4096)), o + 4096 >= raw.length);
      }
    } catch (err) {
      throw new DataError(`${where}: corrupt deflate data (${(err as Error).message})${this.hint}`);
    }
    const head = new Uint8Array(have);
    let o = 0;
    for (const c of chunks) {
      head.set(c, o);
      o += c.length;
    }
    return parseNpyHeader(head, where);
  }
}

/** Reads every array of an `.npz` (or just `keys`) into memory. */
export function readNpz(path: string, opts: NpzOpenOptions & { keys?: readonly string[] } = {}): Record<string, NpyArray> {
  const f = NpzFile.open(path, opts);
  const out: Record<string, NpyArray> = {};
  for (const k of opts.keys ?? f.keys()) out[k] = f.read(k);
  return out;
}

export interface NpzWriteOptions {
  /** Deflate members like np.savez_compressed (default true); false stores them like np.savez. */
  readonly compress?: boolean;
}

/** Encodes arrays as `.npz` bytes; members are named `<key>.npy`. */
export function encodeNpz(arrays: Readonly<Record<string, NpyArray>>, opts: NpzWriteOptions = {}): Uint8Array {
  const files: Zippable = {};
  for (const [k, a] of Object.entries(arrays)) files[`${k}.npy`] = writeNpy(a);
  // A fixed DOS date keeps the bytes (and so the MD5) of a synthetic file reproducible.
  return zipSync(files, { level: opts.compress === false ? 0 : 6, mtime: new Date(1980, 0, 1, 0, 0, 0) });
}

/** Writes an `.npz` atomically (temp file + rename). */
export function writeNpz(path: string, arrays: Readonly<Record<string, NpyArray>>, opts: NpzWriteOptions = {}): void {
  writeFileAtomicSync(path, encodeNpz(arrays, opts), { mkdir: true });
}
