/**
 * A `reproduce` output folder: config.json says what the folder's runs are (the protocol and the
 * content hashes of the data files); one process at a time coordinates the folder (.lock). Any
 * difference in config refuses the folder rather than mixing or relabelling results: re-running
 * into it would silently replace the finished runs of the other config, and a different --out
 * keeps both.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { UserError } from '../training/errors.js';
import type { DataFingerprint } from './data_notes.js';
import { type Lock, lockOrFail } from './lock.js';
import type { ProtocolConfig } from './protocol.js';

export interface FolderConfig {
  protocol: ProtocolConfig;
  data: DataFingerprint[];
}

export const SUBFOLDERS = ['checkpoints', 'rows', 'runs', 'locks', 'failed'] as const;

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
const short = (h: string) => h.slice(0, 12);

export function readFolderConfig(out: string): FolderConfig {
  const path = join(out, 'config.json');
  if (!existsSync(path)) throw new UserError(`${out} is not a reproduce folder (no config.json); run \`stmedfm reproduce --out ${out} ...\` (or with --plan-only) first`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as FolderConfig;
  } catch {
    throw new UserError(`${path} is not valid JSON; delete the folder to start over`);
  }
}

/** Why `prev` and `next` are different experiments, or undefined when they are the same. */
export function configDifference(prev: FolderConfig, next: FolderConfig): string | undefined {
  if (JSON.stringify(prev.protocol) !== JSON.stringify(next.protocol)) return 'a different protocol';
  // one file per task (and per image size, with an image-size axis)
  const key = (d: DataFingerprint) => (d.image_size === undefined ? d.task : `${d.task} at ${d.image_size} px`);
  const was = new Map((prev.data ?? []).map((d) => [key(d), d]));
  for (const d of next.data) {
    const p = was.get(key(d));
    if (p && p.sha256 !== d.sha256) {
      return `other data for ${key(d)}: its runs used ${p.file} (sha256 ${short(p.sha256)}...), now ${d.file} has sha256 ${short(d.sha256)}...`;
    }
  }
  if (was.size !== next.data.length || next.data.some((d) => !was.has(key(d)))) return 'a different set of data files';
  return undefined;
}

/**
 * Creates (or re-opens) the folder for `config`: takes the folder lock, then writes config.json
 * or checks it against the existing one. Call only after every flag and data file was checked.
 */
export function openFolder(out: string, config: FolderConfig): Lock {
  const abs: FolderConfig = { ...config, data: config.data.map((d) => ({ ...d, file: resolve(d.file) })) };
  mkdirSync(out, { recursive: true });
  const lock = lockOrFail(join(out, '.lock'), `reproduce into ${out}`, `the results folder ${out}`);
  try {
    const path = join(out, 'config.json');
    if (existsSync(path)) {
      const diff = configDifference(readFolderConfig(out), abs);
      if (diff) throw new UserError(`${out} holds results of a different configuration (${diff}; see ${path}); use another --out, or delete the folder to start over`);
    }
    // Written (again) while locked: same experiment, but data files may have moved.
    writeFileAtomicSync(path, json(abs));
    for (const sub of SUBFOLDERS) mkdirSync(join(out, sub), { recursive: true });
    // Leftover temp files of a killed write are never results; clear them.
    for (const sub of ['checkpoints', 'rows', 'runs']) {
      for (const f of readdirSync(join(out, sub))) if (f.endsWith('.tmp')) rmSync(join(out, sub, f), { force: true });
    }
    return lock;
  } catch (e) {
    lock.release();
    throw e;
  }
}
