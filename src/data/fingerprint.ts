/**
 * A content fingerprint of a split (its images, labels and shapes), so that a resumed run can
 * tell that it is given the data the interrupted run trained on. Not a cryptographic hash: it
 * guards against mistakes (another file, a re-import, a changed subset), not against forgery,
 * and it is pure JS so the browser bundle can run the same training code.
 */
import type { TaskSplit } from './dataset.js';

/** Two 32-bit FNV-1a lanes with different offsets, read as one 64-bit hex string. */
function fnv64(chunks: readonly ArrayLike<number>[]): string {
  let a = 0x811c9dc5;
  let b = 0x2166136f;
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) {
      const v = c[i]! & 0xff;
      a = Math.imul(a ^ v, 0x01000193);
      b = Math.imul(b ^ v ^ (i & 0xff), 0x01000193);
    }
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** Fingerprint of a split's content: image bytes, label values, per-sample shape and count. */
export function splitFingerprint(s: TaskSplit): string {
  const labels = new Uint8Array(s.labels.buffer, s.labels.byteOffset, s.labels.byteLength);
  const header = new TextEncoder().encode(JSON.stringify({ n: s.n, shape: s.imageShape, labelWidth: s.labelWidth }));
  return fnv64([header, s.images, labels]);
}
