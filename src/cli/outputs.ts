/**
 * One check of a command's outputs, run before any work: an output may never be an input,
 * must have an extension that fits what is written, must not be an existing folder (or, for a
 * folder output, an existing file), and its folder must be writable with room for the result.
 * Missing parent folders are not created here: every writer creates them when it writes (and
 * removes them again if the write fails), so a refused or failed command leaves nothing behind.
 */
import { existsSync, realpathSync, statSync, statfsSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { probeWritable } from '../io/atomic.js';
import { UserError } from '../training/errors.js';

export type OutputKind = 'checkpoint' | 'log' | 'onnx' | 'folder' | 'npz' | 'json';

/** File name extensions accepted per kind of output (documented in each command's --help). */
export const OUTPUT_EXTENSIONS: Record<Exclude<OutputKind, 'folder'>, readonly string[]> = {
  checkpoint: ['.safetensors'],
  // JSON lines: one object per step. Not .json (the file as a whole is not one JSON value).
  log: ['.jsonl', '.ndjson', '.log', '.txt'],
  onnx: ['.onnx'],
  npz: ['.npz'],
  json: ['.json'],
};

export interface PlannedOutput {
  /** The flag that names it, for messages (e.g. '--out'). */
  flag: string;
  path: string;
  kind: OutputKind;
  /** Further files this output writes (an optimizer sidecar, the files inside an output folder). */
  also?: readonly string[];
  /** Input flags whose files this output may replace (an interrupted run's state replacing the one it resumed from). */
  mayReplace?: readonly string[];
  /** Checked for clashes but not for its extension (files derived from another output's name). */
  derived?: boolean;
}

export interface NamedInput {
  flag: string;
  path: string;
}

/** The path with symlinks resolved, also for files (and folders) that do not exist yet. */
export function realPath(p: string): string {
  let head = resolve(p);
  const tail: string[] = [];
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) break;
    tail.unshift(basename(head));
    head = up;
  }
  try {
    return join(realpathSync(head), ...tail);
  } catch {
    return resolve(p);
  }
}

/** The deepest folder of `p`'s parents that exists (where writing must be possible). */
function existingAncestor(p: string): string {
  let d = dirname(resolve(p));
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

const REASONS: Record<string, string> = {
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  // e.g. /proc, /sys: folders that exist but take no new files
  ENOENT: 'this folder does not take new files',
};

function extensionProblem(o: PlannedOutput): string | undefined {
  if (o.kind === 'folder' || o.derived) return undefined;
  const allowed = OUTPUT_EXTENSIONS[o.kind];
  const ext = extname(o.path).toLowerCase();
  if (allowed.includes(ext)) return undefined;
  const what = { checkpoint: 'a checkpoint', log: 'a JSON-lines log', onnx: 'an ONNX model', npz: 'a data file', json: 'a JSON file' }[o.kind];
  return `${o.flag} ${o.path}: this writes ${what}, so the file name must end in ${allowed.join(', ')}${ext ? ` (not ${ext})` : ''}`;
}

/**
 * Refuses, with one clear line, outputs that would destroy an input, clash with each other,
 * have the wrong extension, or cannot be written. `bytesNeeded` (optional) is checked against
 * the free space of each output's file system.
 */
export function checkOutputs(outputs: readonly PlannedOutput[], inputs: readonly NamedInput[], opts: { bytesNeeded?: number } = {}): void {
  for (const o of outputs) {
    const p = extensionProblem(o);
    if (p) throw new UserError(p);
  }
  const realInputs = inputs.map((i) => ({ ...i, real: realPath(i.path) }));
  const written = new Map<string, { flag: string; path: string }>();
  for (const o of outputs) {
    for (const path of [o.path, ...(o.also ?? [])]) {
      const real = realPath(path);
      const derived = path === o.path ? '' : ` (written with ${o.path})`;
      for (const i of realInputs) {
        if (i.real === real && !(o.mayReplace ?? []).includes(i.flag)) {
          throw new UserError(`${o.flag} ${path}${derived} is also an input (${i.flag} ${i.path}); writing it would destroy the input: choose another output name`);
        }
      }
      const other = written.get(real);
      if (other) throw new UserError(`${o.flag} ${path}${derived} is the same file as ${other.flag} ${other.path}; give them different names`);
      written.set(real, { flag: o.flag, path });
    }
  }
  for (const o of outputs) {
    const isFolder = o.kind === 'folder';
    if (existsSync(o.path)) {
      const dir = statSync(o.path).isDirectory();
      if (dir && !isFolder) throw new UserError(`${o.flag} ${o.path} is an existing folder; give a file name (e.g. ${join(o.path, `model${OUTPUT_EXTENSIONS[o.kind as 'checkpoint'][0] ?? ''}`)})`);
      if (!dir && isFolder) throw new UserError(`${o.flag} ${o.path} is an existing file, but a folder is written there; give a folder name`);
    }
    for (const f of o.also ?? []) {
      if (existsSync(f) && statSync(f).isDirectory()) throw new UserError(`${o.flag} ${o.path}: ${f}, which it writes, is an existing folder; remove it or choose another name`);
    }
    const base = existingAncestor(isFolder ? join(o.path, 'x') : o.path);
    if (!statSync(base).isDirectory()) throw new UserError(`${o.flag} ${o.path}: ${base} is a file, so no folder can be created in it`);
    try {
      probeWritable(base);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      throw new UserError(`${o.flag} ${o.path}: cannot write in ${base} (${REASONS[code] ?? (e as Error).message}${code && REASONS[code] ? `, ${code}` : ''})`);
    }
    if (opts.bytesNeeded) {
      let free: number | undefined;
      try {
        const s = statfsSync(base);
        free = s.bavail * s.bsize;
      } catch {
        // statfs is not available everywhere; the write itself still reports a full disk
      }
      if (free !== undefined && free < opts.bytesNeeded) {
        throw new UserError(`${o.flag} ${o.path}: only ${(free / 1e6).toFixed(1)} MB free in ${base}, and this run writes about ${(opts.bytesNeeded / 1e6).toFixed(1)} MB; free some space or write elsewhere`);
      }
    }
  }
}

/** One clear line for a file-system error (full disk, read-only, permissions), or undefined for other errors. */
export function diskErrorMessage(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err.code !== 'string' || !err.syscall) return undefined;
  const what: Record<string, string> = {
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is exhausted',
    EROFS: 'the file system is read-only',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'it is a folder',
    ENOENT: 'no such file or folder',
    ENOTDIR: 'a part of the path is a file, not a folder',
    EIO: 'an input/output error of the disk',
    EMFILE: 'too many open files',
    ENAMETOOLONG: 'the name is too long',
  };
  const reason = what[err.code];
  if (!reason) return undefined;
  const reading = ['read', 'stat', 'lstat', 'scandir', 'access'].includes(err.syscall);
  return `cannot ${reading ? 'read' : 'write'} ${err.path ?? 'a file'}: ${reason} (${err.code})`;
}
