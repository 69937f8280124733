/**
 * NumPy unicode string arrays (`<U{n}`: fixed-width UTF-32LE), for the extra keys of an imported
 * `.npz` (`class_names`, `{split}_sources`, `preprocessing`). `np.load(...)['class_names']` reads
 * them as ordinary `str` arrays, no pickle involved.
 */
import { DataError } from '../errors.js';

export function encodeUnicodeNpy(strings: readonly string[]): Uint8Array {
  const cps = strings.map((s) => Array.from(s, (c) => c.codePointAt(0)!));
  const width = Math.max(1, ...cps.map((c) => c.length));
  let header = `{'descr': '<U${width}', 'fortran_order': False, 'shape': (${strings.length},), }`;
  const pre = 10;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + strings.length * width * 4);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  const dv = new DataView(out.buffer, total);
  cps.forEach((c, i) => c.forEach((cp, j) => dv.setUint32((i * width + j) * 4, cp, true)));
  return out;
}

/** Reads a 1-D `<U{n}` array; `where` names it in messages. */
export function decodeUnicodeNpy(bytes: Uint8Array, where: string): string[] {
  if (bytes.length < 10 || bytes[0] !== 0x93) throw new DataError(`${where}: not an .npy array`);
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = new TextDecoder('latin1').decode(bytes.subarray(major === 1 ? 10 : 12, start));
  const m = /'descr':\s*'<U(\d+)'.*'shape':\s*\((\d*),?\)/.exec(header);
  if (!m) throw new DataError(`${where}: expected a 1-D unicode string array, found header ${header.trim()}`);
  const width = Number(m[1]);
  const n = m[2] === '' ? 1 : Number(m[2]);
  if (start + n * width * 4 > bytes.length) throw new DataError(`${where}: truncated string array`);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    for (let j = 0; j < width; j++) {
      const cp = dv.getUint32(start + (i * width + j) * 4, true);
      if (cp === 0) break;
      s += String.fromCodePoint(cp);
    }
    out.push(s);
  }
  return out;
}
