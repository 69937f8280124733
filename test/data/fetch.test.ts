import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/errors.js';
import { dataUrl, defaultCacheDir, fetchDataset } from '../../src/data/fetch.js';
import { getDataset } from '../../src/data/registry.js';
import { makeTmpDir } from '../helpers/synth.js';

/** The served "dataset": 200 kB of seeded bytes. */
const BODY = Buffer.from(Uint8Array.from({ length: 200_000 }, (_, i) => (i * 2654435761) >>> 24));
const MD5 = createHash('md5').update(BODY).digest('hex');

interface Behaviour {
  /** Cut the connection after this many body bytes (once). */
  cutAfter?: number;
  /** Answer 200 with the whole body even when a Range is asked for. */
  ignoreRange?: boolean;
  /** Serve different bytes (MD5 mismatch). */
  corrupt?: boolean;
  status?: number;
}

let server: Server;
let base = '';
let behaviour: Behaviour = {};
const requests: { url: string; range: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    requests.push({ url: req.url ?? '', range: req.headers.range });
    if (behaviour.status) {
      res.writeHead(behaviour.status, { 'Content-Type': 'text/plain' });
      res.end('nope');
      return;
    }
    const body = behaviour.corrupt ? Buffer.from(BODY).fill(1, 1000, 1010) : BODY;
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !behaviour.ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'Content-Length': String(body.length - start),
        'Accept-Ranges': 'bytes',
      });
    } else {
      res.writeHead(200, { 'Content-Length': String(body.length), 'Accept-Ranges': 'bytes' });
    }
    const cut = behaviour.cutAfter;
    if (cut !== undefined) {
      behaviour = { ...behaviour, cutAfter: undefined };
      res.write(body.subarray(start, start + cut), () => res.destroy());
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/files`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function setup(b: Behaviour = {}): { cacheDir: string } {
  behaviour = b;
  requests.length = 0;
  return { cacheDir: makeTmpDir().dir };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as Error;
  }
  throw new Error('expected a DataError');
}

describe('fetch', () => {
  it('downloads, verifies the MD5, and then serves the cached copy without a request', async () => {
    const { cacheDir } = setup();
    const seen: number[] = [];
    const r = await fetchDataset('bloodmnist', { cacheDir, baseUrl: base, md5: MD5, onProgress: (n) => seen.push(n) });
    expect(r).toMatchObject({ status: 'downloaded', verified: true, md5: MD5, bytes: BODY.length, url: `${base}/bloodmnist.npz` });
    expect(readFileSync(join(cacheDir, 'bloodmnist.npz')).equals(BODY)).toBe(true);
    expect(readdirSync(cacheDir)).toEqual(['bloodmnist.npz']);
    expect(seen.at(-1)).toBe(BODY.length);
    expect(requests).toEqual([{ url: '/files/bloodmnist.npz', range: undefined }]);

    const again = await fetchDataset('bloodmnist', { cacheDir, baseUrl: base, md5: MD5 });
    expect(again.status).toBe('cached');
    expect(requests).toHaveLength(1);
  });

  it('resumes an interrupted download with an HTTP Range request', async () => {
    const { cacheDir } = setup({ cutAfter: 70_000 });
    const part = join(cacheDir, 'pathmnist.npz.part');
    const e = await rejection(fetchDataset('pathmnist', { cacheDir, baseUrl: base, md5: MD5 }));
    expect(e.message).toMatch(/download of pathmnist from .* interrupted after \d+ bytes of 200000/);
    expect(e.message).toContain(`the partial file ${part} is kept: run the same command again to resume`);
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(BODY.length);
    expect(existsSync(join(cacheDir, 'pathmnist.npz'))).toBe(false);

    const r = await fetchDataset('pathmnist', { cacheDir, baseUrl: base, md5: MD5 });
    expect(r.status).toBe('resumed');
    expect(requests.at(-1)!.range).toBe(`bytes=${kept}-`);
    expect(readFileSync(r.file).equals(BODY)).toBe(true);
    expect(existsSync(part)).toBe(false);
  });

  it('finishes a part that is already complete (HTTP 416)', async () => {
    const { cacheDir } = setup();
    writeFileSync(join(cacheDir, 'dermamnist.npz.part'), BODY);
    const r = await fetchDataset('dermamnist', { cacheDir, baseUrl: base, md5: MD5 });
    expect(r.status).toBe('resumed');
    expect(requests[0]!.range).toBe(`bytes=${BODY.length}-`);
    expect(readFileSync(r.file).equals(BODY)).toBe(true);
  });

  it('starts over when the server ignores the Range header', async () => {
    const { cacheDir } = setup({ ignoreRange: true });
    writeFileSync(join(cacheDir, 'dermamnist.npz.part'), BODY.subarray(0, 5000));
    const r = await fetchDataset('dermamnist', { cacheDir, baseUrl: base, md5: MD5 });
    expect(r.status).toBe('downloaded');
    expect(readFileSync(r.file).equals(BODY)).toBe(true);
  });

  it('deletes the download and says so on an MD5 mismatch', async () => {
    const { cacheDir } = setup({ corrupt: true });
    const e = await rejection(fetchDataset('organmnist3d', { cacheDir, baseUrl: base, md5: MD5 }));
    expect(e.message).toMatch(new RegExp(`MD5 mismatch for organmnist3d downloaded from .*: expected ${MD5}, got [0-9a-f]{32}`));
    expect(e.message).toMatch(/organmnist3d\.npz\.part was deleted/);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('re-downloads a cached file whose MD5 is wrong', async () => {
    const { cacheDir } = setup();
    writeFileSync(join(cacheDir, 'bloodmnist.npz'), 'stale');
    const r = await fetchDataset('bloodmnist', { cacheDir, baseUrl: base, md5: MD5 });
    expect(r.status).toBe('downloaded');
    expect(readFileSync(r.file).equals(BODY)).toBe(true);
  });

  it('reports HTTP errors with the status', async () => {
    const { cacheDir } = setup({ status: 404 });
    const e = await rejection(fetchDataset('bloodmnist', { cacheDir, baseUrl: base, md5: MD5 }));
    expect(e.message).toBe(`cannot download bloodmnist from ${base}/bloodmnist.npz: HTTP 404 Not Found`);
  });

  it('reports an unreachable host as a network problem with the offline alternatives', async () => {
    const { cacheDir } = setup();
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const e = await rejection(fetchDataset('bloodmnist', { cacheDir, baseUrl: `http://127.0.0.1:${port}`, md5: MD5 }));
    expect(e.message).toMatch(/cannot download bloodmnist from http:\/\/127\.0\.0\.1:\d+\/bloodmnist\.npz: connection refused \(ECONNREFUSED\)/);
    expect(e.message).toMatch(/--data bloodmnist=FILE/);
  });

  it('uses the registry URL and MD5 by default, and the environment for overrides', () => {
    const info = getDataset('pathmnist');
    expect(dataUrl(info, { env: {} })).toBe(info.url);
    expect(dataUrl(info, { env: { STMEDFM_DATA_URL: 'http://mirror/x/' } })).toBe('http://mirror/x/pathmnist.npz');
    expect(defaultCacheDir({ STMEDFM_CACHE: '/c' })).toBe('/c');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'stmedfm'));
    expect(defaultCacheDir({})).toMatch(/\.cache[\\/]stmedfm$/);
  });

  it('verifies against the registry MD5 when none is given', async () => {
    const { cacheDir } = setup();
    const e = await rejection(fetchDataset('pathmnist', { cacheDir, baseUrl: base }));
    expect(e.message).toContain(`expected ${getDataset('pathmnist').md5}, got ${MD5}`);
  });
});
