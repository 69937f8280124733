/**
 * Downloading MedMNIST files into a cache folder, with MD5 verification and resume.
 *
 * Bytes go to `<cache>/<name>.npz.part`; an interrupted download leaves that file in place and
 * the next run asks for the rest with an HTTP Range request. Only a file whose MD5 matches the
 * registry is renamed to `<cache>/<name>.npz`, so a file under the final name is always whole.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DataError } from './errors.js';
import { getDataset, type DatasetInfo } from './registry.js';

/** $STMEDFM_CACHE, else $XDG_CACHE_HOME/stmedfm, else ~/.cache/stmedfm. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STMEDFM_CACHE) return env.STMEDFM_CACHE;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'stmedfm');
  return join(homedir(), '.cache', 'stmedfm');
}

export interface FetchOptions {
  readonly cacheDir?: string;
  /**
   * Download from `<baseUrl>/<name>.npz` instead of the registry URL (a mirror, or a test
   * server); default $STMEDFM_DATA_URL.
   */
  readonly baseUrl?: string;
  /** Expected MD5; default the registry's. `null` skips verification (reported in the result). */
  readonly md5?: string | null;
  /** Download again even if a verified file is in the cache. */
  readonly force?: boolean;
  /** Called as bytes arrive; `total` is the full file size when the server says it. */
  readonly onProgress?: (received: number, total: number | undefined) => void;
  /** Abort when no byte arrives for this long (default 60 s). */
  readonly stallTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface FetchResult {
  readonly name: string;
  readonly file: string;
  readonly url: string;
  readonly bytes: number;
  readonly md5: string;
  /** cached: already present and verified; downloaded: fetched whole; resumed: continued a .part. */
  readonly status: 'cached' | 'downloaded' | 'resumed';
  readonly verified: boolean;
  /** Set when the cached file is the earlier MedMNIST release's (see registry.ts). */
  readonly note?: string;
}

export function dataUrl(info: DatasetInfo, opts: Pick<FetchOptions, 'baseUrl' | 'env'> = {}): string {
  const base = opts.baseUrl ?? (opts.env ?? process.env).STMEDFM_DATA_URL;
  return base ? `${base.replace(/\/+$/, '')}/${info.name}.npz` : info.url;
}

export async function md5File(path: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

const NETWORK_CODES: Readonly<Record<string, string>> = {
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection lost',
};

function describeNetworkError(e: unknown): string {
  const err = e as { cause?: { code?: string; message?: string }; code?: string; message?: string; name?: string };
  const code = err.cause?.code ?? err.code;
  if (code && NETWORK_CODES[code]) return `${NETWORK_CODES[code]} (${code})`;
  return err.cause?.message ?? err.message ?? String(e);
}

/** Parses `bytes a-b/total` or `bytes * /total`. */
function parseContentRange(v: string | null): { start?: number; total?: number } {
  if (!v) return {};
  const m = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(v.trim());
  if (!m) return {};
  return {
    ...(m[1] !== undefined ? { start: Number(m[1]) } : {}),
    ...(m[2] !== '*' ? { total: Number(m[2]) } : {}),
  };
}

/**
 * Downloads a registry dataset into the cache (or returns the cached copy), verifying its MD5.
 * Errors are DataErrors that say what happened and what to do next.
 */
export async function fetchDataset(name: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const info = getDataset(name);
  const env = opts.env ?? process.env;
  const dir = opts.cacheDir ?? defaultCacheDir(env);
  const url = dataUrl(info, { ...(opts.baseUrl !== undefined ? { baseUrl: opts.baseUrl } : {}), env });
  const expected = opts.md5 === null ? undefined : (opts.md5 ?? info.md5).toLowerCase();
  const accepted = new Set([expected, opts.md5 === undefined ? info.legacy?.md5 : undefined].filter((x): x is string => !!x));
  const file = join(dir, `${info.name}.npz`);
  const part = `${file}.part`;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new DataError(`cannot create cache folder ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)}); set STMEDFM_CACHE to a writable folder`);
  }

  if (!opts.force && existsSync(file)) {
    const md5 = await md5File(file);
    if (accepted.size === 0 || accepted.has(md5)) {
      const legacy = md5 === info.legacy?.md5 && md5 !== expected;
      return {
        name: info.name,
        file,
        url,
        bytes: fileSize(file),
        md5,
        status: 'cached',
        verified: accepted.size > 0,
        ...(legacy ? { note: `this is the earlier MedMNIST release of ${info.name} (${info.legacy!.url}); re-download with --force for the current one` } : {}),
      };
    }
    // A cached file with the wrong MD5 is replaced once a good download is verified.
  }

  let offset = fileSize(part);
  const resumedFrom = offset;
  let total: number | undefined;
  const stallMs = opts.stallTimeoutMs ?? 60_000;

  for (let attempt = 0; ; attempt++) {
    const ctrl = new AbortController();
    let stalled = false;
    let timer = setTimeout(() => ((stalled = true), ctrl.abort()), stallMs);
    const rearm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => ((stalled = true), ctrl.abort()), stallMs);
    };
    try {
      let res: Response;
      try {
        res = await fetch(url, {
          headers: { ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}), 'Accept-Encoding': 'identity' },
          signal: ctrl.signal,
          redirect: 'follow',
        });
      } catch (e) {
        const why = stalled ? `no response for ${stallMs / 1000} s` : describeNetworkError(e);
        throw new DataError(
          `cannot download ${info.name} from ${url}: ${why}. No network? Copy ${info.name}.npz into a data ` +
            `folder (--data-dir) or map the task to a local file with --data ${info.name}=FILE`,
        );
      }
      const range = parseContentRange(res.headers.get('content-range'));
      if (res.status === 416) {
        // Nothing left to send: either the part is complete or it is longer than the file.
        await res.body?.cancel();
        if (range.total !== undefined && range.total === offset) {
          total = offset;
          break;
        }
        rmSync(part, { force: true });
        if (attempt > 0) throw new DataError(`cannot download ${info.name} from ${url}: the server refuses byte ranges (HTTP 416)`);
        offset = 0;
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel();
        const keep = offset > 0 ? `; the partial download ${part} (${offset} bytes) is kept for a later resume` : '';
        throw new DataError(`cannot download ${info.name} from ${url}: HTTP ${res.status} ${res.statusText}${keep}`);
      }
      let append = false;
      if (res.status === 206) {
        if (range.start !== offset) {
          await res.body?.cancel();
          rmSync(part, { force: true });
          if (attempt > 0) throw new DataError(`cannot download ${info.name} from ${url}: the server resumed at byte ${range.start}, expected ${offset}`);
          offset = 0;
          continue;
        }
        append = true;
        total = range.total;
      } else {
        // 200: the server ignored the Range header and sends the whole file.
        offset = 0;
        const len = res.headers.get('content-length');
        total = len !== null ? Number(len) : undefined;
      }
      if (!res.body) throw new DataError(`cannot download ${info.name} from ${url}: empty response body`);

      const fh = await open(part, append ? 'a' : 'w');
      let received = offset;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          rearm();
          await fh.write(chunk);
          received += chunk.length;
          opts.onProgress?.(received, total);
        }
      } catch (e) {
        const why = stalled ? `no data for ${stallMs / 1000} s` : describeNetworkError(e);
        throw new DataError(
          `download of ${info.name} from ${url} interrupted after ${received} bytes${total !== undefined ? ` of ${total}` : ''} ` +
            `(${why}); the partial file ${part} is kept: run the same command again to resume`,
        );
      } finally {
        await fh.close();
      }
      if (total !== undefined && received !== total) {
        throw new DataError(
          `download of ${info.name} from ${url} ended early at ${received} of ${total} bytes; the partial file ` +
            `${part} is kept: run the same command again to resume`,
        );
      }
      total = received;
      break;
    } finally {
      clearTimeout(timer);
    }
  }

  const md5 = await md5File(part);
  if (expected !== undefined && md5 !== expected) {
    rmSync(part, { force: true });
    throw new DataError(
      `MD5 mismatch for ${info.name} downloaded from ${url}: expected ${expected}, got ${md5}; ` +
        `the corrupt download ${part} was deleted, run the command again to download it afresh`,
    );
  }
  renameSync(part, file);
  return {
    name: info.name,
    file,
    url,
    bytes: total,
    md5,
    status: resumedFrom > 0 && offset > 0 ? 'resumed' : 'downloaded',
    verified: expected !== undefined,
  };
}
