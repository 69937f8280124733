/**
 * On-disk cache of ONNX Runtime-optimised graphs (Node only; registered by node.ts).
 *
 * Creating a session is mostly ORT's graph optimisation (3D full fine-tuning: 4.2 s with it,
 * 0.63 s loading a model ORT optimised earlier). Training graphs take their parameters, class
 * weights and optimizer state as inputs, so one graph serves every run of the same shape, in
 * every process: the first session writes its optimised model here, later ones load it with
 * optimisation off.
 *
 * An entry is named by the sha256 of everything that decides ORT's optimised output: the model
 * bytes, the ORT version, the optimisation level and the CPU ('all' applies CPU-specific layout
 * transforms; the intra-op thread count does not change the output, checked by test). Its file
 * is a header (magic + sha256 of the payload) and the optimised model, so a truncated or damaged
 * entry is detected and replaced, never loaded. Entries are written to a temp file and renamed
 * into place, so processes racing on one entry each see a whole file. The folder keeps the
 * newest MAX_ENTRIES entries.
 *
 * Location: $STMEDFM_CACHE_DIR, else $XDG_CACHE_HOME/stmedfm/ort, else ~/.cache/stmedfm/ort.
 * STMEDFM_GRAPH_CACHE=0 turns it (and in-process session reuse) off. Clearing it is deleting the folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { arch, cpus, homedir, platform } from 'node:os';
import { join } from 'node:path';
import type { GraphCache, GraphCacheEntry } from './ort.js';

/** Bump when the entry format changes. */
const FORMAT = 'stmedfm-ort-cache/1';
const MAGIC = Buffer.from('STMGRPH1', 'latin1');
const HEADER = MAGIC.length + 32;
/** Entries kept (an optimised training graph is ~0.1-1 MB). */
export const MAX_ENTRIES = 200;
/** Temp files older than this were left by a killed process. */
const STALE_TEMP_MS = 3600_000;

/** Whether STMEDFM_GRAPH_CACHE allows caching (anything but 0/false/off/no). */
export function graphCacheEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.STMEDFM_GRAPH_CACHE ?? '').trim().toLowerCase();
  return !['0', 'false', 'off', 'no'].includes(v);
}

/** The cache folder by STMEDFM_CACHE_DIR, XDG_CACHE_HOME or the home folder. */
export function graphCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STMEDFM_CACHE_DIR) return env.STMEDFM_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'stmedfm', 'ort');
}

/** The CPU an optimised model was made for. */
export function cpuIdentity(): string {
  return `${platform()}-${arch()}-${cpus()[0]?.model ?? 'unknown'}`;
}

/** The entry name: sha256 over the format, every key part and the model bytes. */
export function graphCacheKey(model: Uint8Array, parts: Readonly<Record<string, string>>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([FORMAT, cpuIdentity(), Object.entries(parts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]));
  h.update(model);
  return h.digest('hex');
}

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/** The optimised model in an entry file, or undefined when the header or checksum does not match. */
export function decodeEntry(file: Uint8Array): Uint8Array | undefined {
  if (file.length < HEADER) return undefined;
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const payload = buf.subarray(HEADER);
  if (!sha256(payload).equals(buf.subarray(MAGIC.length, HEADER))) return undefined;
  return payload;
}

export function encodeEntry(model: Uint8Array): Buffer {
  return Buffer.concat([MAGIC, sha256(model), model]);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone (another process evicted or replaced it)
  }
}

/** Keeps the newest MAX_ENTRIES entries (by last use) and removes temp files a killed process left. */
function evict(dir: string): void {
  const now = Date.now();
  const entries: { path: string; mtime: number }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    try {
      const mtime = statSync(path).mtimeMs;
      if (name.endsWith('.tmp')) {
        if (now - mtime > STALE_TEMP_MS) removeQuietly(path);
      } else if (name.endsWith('.onnx')) entries.push({ path, mtime });
    } catch {
      // removed meanwhile
    }
  }
  entries.sort((a, b) => b.mtime - a.mtime);
  for (const e of entries.slice(MAX_ENTRIES)) removeQuietly(e.path);
}

class DiskEntry implements GraphCacheEntry {
  constructor(
    readonly key: string,
    private readonly dir: string,
  ) {}

  private get path(): string {
    return join(this.dir, `${this.key}.onnx`);
  }

  read(): Uint8Array | undefined {
    let file: Buffer;
    try {
      file = readFileSync(this.path);
    } catch {
      return undefined;
    }
    const model = decodeEntry(file);
    if (!model) {
      this.drop();
      return undefined;
    }
    try {
      const now = new Date();
      utimesSync(this.path, now, now); // eviction keeps recently used entries
    } catch {
      // evicted meanwhile; the bytes are already read
    }
    return model;
  }

  stagingPath(): string {
    // Dot-prefixed, unique per process and call, in the cache folder (rename stays on one file system).
    return join(this.dir, `.${this.key}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  }

  commit(staged: string): void {
    try {
      const model = readFileSync(staged);
      if (model.length === 0) return;
      const tmp = this.stagingPath();
      try {
        writeFileSync(tmp, encodeEntry(model), { flag: 'wx' });
        renameSync(tmp, this.path);
      } catch (err) {
        removeQuietly(tmp);
        throw err;
      }
      evict(this.dir);
    } finally {
      removeQuietly(staged);
    }
  }

  discard(staged: string): void {
    removeQuietly(staged);
  }

  drop(): void {
    removeQuietly(this.path);
  }
}

/** The Node graph cache: an entry in the configured folder, or undefined when off or the folder cannot be made. */
export const diskGraphCache: GraphCache = {
  key: graphCacheKey,
  enabled: () => graphCacheEnabled(),
  entry(key) {
    if (!graphCacheEnabled()) return undefined;
    const dir = graphCacheDir();
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      return undefined; // an unwritable cache folder only costs the compile time
    }
    return new DiskEntry(key, dir);
  },
};
