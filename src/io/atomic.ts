/**
 * Atomic file replacement: write a temporary file in the destination's folder, fsync it, then
 * rename it over the destination. rename(2) within one file system is atomic, so a reader (or a
 * run resumed after a crash) sees either the old complete file or the new complete file, never a
 * truncated checkpoint. The temporary file is removed if anything fails, and on process exit
 * (a second Ctrl-C during a write) if it is still there.
 *
 * Files that belong together (a checkpoint, its optimizer state, its adapter files) are written
 * as a group: every file is first written in full to its temp file (the step that can run out of
 * space), and only then renamed into place, in order. If a rename fails, the files already
 * renamed are put back from hard-link backups, so the previous group stays whole.
 */
import { randomBytes } from 'node:crypto';
import { close, closeSync, copyFileSync, existsSync, fsync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmdirSync, unlinkSync, write, writeSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

function tempPath(path: string, tag = 'tmp'): string {
  // same folder (rename across file systems is not atomic); dot-prefixed so globs skip it
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.${tag}`);
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

// Temp files of writes in flight, removed on exit so that even `process.exit` leaves none behind.
const inFlight = new Set<string>();
let exitHookInstalled = false;
function track(tmp: string): void {
  inFlight.add(tmp);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const t of inFlight) {
        try {
          unlinkSync(t);
        } catch {
          // already gone
        }
      }
    });
  }
}

/**
 * Test-only fault injection, so that tests can show what a full or read-only disk leaves behind:
 * `STMEDFM_FAULT=<stage>:<CODE>:<substring>` makes the stage ('write' of a temp file, 'rename'
 * into place, or 'probe' of a folder's writability) fail with errno CODE for every path
 * containing <substring>. Unset, this costs one environment lookup per write.
 */
export function injectedFault(stage: 'write' | 'rename' | 'probe', path: string): void {
  const spec = process.env.STMEDFM_FAULT;
  if (!spec) return;
  for (const one of spec.split(',')) {
    const [s, code, sub = ''] = one.split(':');
    if (s === stage && code && basename(path).includes(sub)) {
      const messages: Record<string, string> = { ENOSPC: 'no space left on device', EROFS: 'read-only file system', EACCES: 'permission denied', EIO: 'i/o error' };
      const err = new Error(`${code}: ${messages[code] ?? 'injected fault'}, ${stage} '${path}'`) as NodeJS.ErrnoException;
      err.code = code;
      err.syscall = stage === 'rename' ? 'rename' : 'write';
      err.path = path;
      throw err;
    }
  }
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

/** Errors name the destination, not the temp file the user never asked for. */
function aboutDestination(err: unknown, path: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.path === 'string' && e.path !== path) {
    e.message = e.message.split(e.path).join(path);
    e.path = path;
    delete (e as { dest?: string }).dest;
  }
  return err;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never created, or already gone
  }
  inFlight.delete(path);
}

const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);

/**
 * Writes `bytes` to a fresh temp file next to `path` (fsynced); returns the temp file's name.
 * The file is created synchronously, so that the exit hook, which runs synchronously, never
 * races an `open` still pending in the thread pool.
 */
async function stage(path: string, data: Uint8Array | string): Promise<string> {
  const tmp = tempPath(path);
  const bytes = toBytes(data);
  track(tmp);
  try {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      let off = 0;
      while (off < bytes.length) {
        const { bytesWritten } = await writeAsync(fd, bytes, off, Math.min(bytes.length - off, 1 << 24));
        off += bytesWritten;
        if (off >= bytes.length / 2) injectedFault('write', path);
      }
      if (bytes.length === 0) injectedFault('write', path);
      await fsyncAsync(fd);
    } finally {
      await closeAsync(fd);
    }
  } catch (err) {
    removeQuietly(tmp);
    throw aboutDestination(err, path);
  }
  return tmp;
}

/** Atomically replaces `path` with `data` (bytes, or a string written as UTF-8)). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = await stage(path, data);
  try {
    injectedFault('rename', path);
    await rename(tmp, path);
    inFlight.delete(tmp);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    inFlight.delete(tmp);
    throw aboutDestination(err, path);
  }
  fsyncDirSync(dirname(path));
}

/** Synchronous variant of {@link writeFileAtomic}; `mkdir` creates missing parent folders first. */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, opts: { mkdir?: boolean } = {}): void {
  if (opts.mkdir) mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  const bytes = toBytes(data);
  track(tmp);
  try {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      injectedFault('write', path);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    injectedFault('rename', path);
    renameSync(tmp, path);
    inFlight.delete(tmp);
  } catch (err) {
    removeQuietly(tmp);
    throw aboutDestination(err, path);
  }
  fsyncDirSync(dirname(path));
}

/** Creates `dir` and its missing parents; returns the folders it created, outermost first. */
export function makeDirs(dir: string): string[] {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  mkdirSync(dir, { recursive: true });
  return missing;
}

/** Removes folders created by {@link makeDirs} if they are (still) empty, innermost first. */
export function removeDirsIfEmpty(created: readonly string[]): void {
  for (const d of [...created].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // not empty (something else was written there), or already gone
    }
  }
}

export interface GroupFile {
  path: string;
  data: Uint8Array | string;
}

/**
 * Writes files that belong together so that the old group stays whole whatever fails.
 * 1. Missing parent folders are created.
 * 2. Every file is written in full to a temp file and fsynced (a full disk fails here, before
 *    anything is replaced).
 * 3. The temp files are renamed into place in the given order (put the file that marks the
 *    group as complete last); an existing file is first hard-linked to a backup. If a rename
 *    fails, the files already renamed are restored from their backups (or removed if they are
 *    new), and folders created in step 1 are removed again.
 * Only a hard kill between two renames can leave a mixed group; readers detect that by an id
 * shared by the group's headers (see training/checkpoint.ts).
 */
export async function writeFileGroupAtomic(files: readonly GroupFile[]): Promise<void> {
  const created: string[] = [];
  const staged: { path: string; tmp: string }[] = [];
  const done: { path: string; backup: string | null }[] = [];
  try {
    for (const f of files) created.push(...makeDirs(dirname(f.path)));
    for (const f of files) staged.push({ path: f.path, tmp: await stage(f.path, f.data) });
    for (const s of staged) {
      let backup: string | null = null;
      if (existsSync(s.path)) {
        backup = tempPath(s.path, 'bak');
        track(backup);
        try {
          linkSync(s.path, backup);
        } catch {
          copyFileSync(s.path, backup); // a file system without hard links
        }
      }
      try {
        injectedFault('rename', s.path);
        renameSync(s.tmp, s.path);
        inFlight.delete(s.tmp);
      } catch (err) {
        if (backup) removeQuietly(backup);
        throw aboutDestination(err, s.path);
      }
      done.push({ path: s.path, backup });
    }
  } catch (err) {
    for (const d of done.reverse()) {
      try {
        if (d.backup) {
          renameSync(d.backup, d.path);
          inFlight.delete(d.backup);
        } else unlinkSync(d.path);
      } catch {
        // best effort: the header ids still reveal a mixed group
      }
    }
    for (const s of staged) removeQuietly(s.tmp);
    removeDirsIfEmpty(created);
    throw err;
  }
  for (const d of done) if (d.backup) removeQuietly(d.backup);
  for (const dir of new Set(files.map((f) => dirname(f.path)))) fsyncDirSync(dir);
}

/**
 * Checks that a file can be created in `dir` (which must exist) by creating and removing one:
 * this catches read-only file systems, permissions and quotas before any work is done.
 */
export function probeWritable(dir: string): void {
  const probe = tempPath(join(dir, 'write-probe'));
  track(probe);
  try {
    injectedFault('probe', join(dir, 'write-probe'));
    const fd = openSync(probe, 'wx', 0o644);
    closeSync(fd);
  } finally {
    removeQuietly(probe);
  }
}
