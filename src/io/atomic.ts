/**
 * Atomic file replacement: write a temporary file in the destination's folder, fsync it, then
 * rename it over the destination. rename(2) within one file system is atomic, so a reader (or a
 * run resumed after a crash) sees either the old complete file or the new complete file, never a
 * truncated checkpoint. The temporary file is removed if anything fails.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function tempPath(path: string): string {
  // same folder (rename across file systems is not atomic); dot-prefixed so globs skip it
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** Flushes the folder entry so the rename itself survives a power loss (best effort: not every OS allows it). */
function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Atomically replaces `path` with `data` (bytes, or a string written as UTF-8)). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPath(path);
  const bytes = toBytes(data);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      let off = 0;
      while (off < bytes.length) {
        const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
        off += bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  fsyncDirSync(dirname(path));
}

/** Synchronous variant of {@link writeFileAtomic}; `mkdir` creates missing parent folders first. */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, opts: { mkdir?: boolean } = {}): void {
  if (opts.mkdir) mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  const bytes = toBytes(data);
  try {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file was never created, or is already gone
    }
    throw err;
  }
  fsyncDirSync(dirname(path));
}
