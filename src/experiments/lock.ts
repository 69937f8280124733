/**
 * An exclusive lock file (pid, host, start time) so that two processes never write into the same
 * results (a whole `reproduce` folder, or one run of it). The file is created whole with link(2),
 * which fails if it exists, so two processes cannot both take it. A lock left by a process that
 * died is taken over: on the same host when its pid is gone; from another host (a cluster node)
 * when its heartbeat, the file's mtime refreshed while held, is older than `staleAfterMs`.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../training/errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  what: string;
}

export interface Lock {
  path: string;
  release(): void;
}

const HEARTBEAT_MS = 30_000;
const STALE_AFTER_MS = 5 * 60_000;

export function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the holder no longer holds the lock, or undefined when it is (probably) alive. */
function staleReason(path: string, h: LockHolder | undefined, staleAfterMs: number): string | undefined {
  let age: number;
  try {
    age = Date.now() - statSync(path).mtimeMs;
  } catch {
    return 'gone';
  }
  if (!h) return age > 10_000 ? 'unreadable' : undefined;
  if (h.host === hostname()) return pidAlive(h.pid) ? undefined : `process ${h.pid} is not running`;
  return age > staleAfterMs ? `no heartbeat from ${h.host} for ${Math.round(age / 1000)} s` : undefined;
}

export function describeHolder(h: LockHolder | undefined): string {
  return h ? `process ${h.pid} on host ${h.host} (${h.what}, since ${h.started})` : 'another process';
}

/** Takes the lock or returns the live holder. */
export function tryLock(path: string, what: string, opts: { staleAfterMs?: number } = {}): Lock | { holder: LockHolder | undefined } {
  const me: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString(), what };
  const text = `${JSON.stringify(me)}\n`;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(tmp, text);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, path);
        return held(path, text);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = readHolder(path);
      if (!staleReason(path, holder, opts.staleAfterMs ?? STALE_AFTER_MS)) return { holder };
      // A dead holder's lock: remove it (only if it is still that same lock) and try again.
      const again = readHolder(path);
      if (JSON.stringify(again) === JSON.stringify(holder)) rmSync(path, { force: true });
    }
    return { holder: readHolder(path) };
  } finally {
    rmSync(tmp, { force: true });
  }
}

function held(path: string, text: string): Lock {
  const mine = () => {
    try {
      return readFileSync(path, 'utf8') === text;
    } catch {
      return false;
    }
  };
  const beat = setInterval(() => {
    try {
      if (mine()) utimesSync(path, new Date(), new Date());
    } catch {
      // a missing lock is noticed by the next holder; the heartbeat is best effort
    }
  }, HEARTBEAT_MS);
  beat.unref();
  const release = () => {
    clearInterval(beat);
    if (mine()) rmSync(path, { force: true });
    process.off('exit', release);
  };
  process.on('exit', release);
  return { path, release };
}

/** Takes the lock or fails with one line naming the holder. */
export function lockOrFail(path: string, what: string, subject: string): Lock {
  const r = tryLock(path, what);
  if ('release' in r) return r;
  throw new UserError(
    `${subject} is in use by ${describeHolder(r.holder)}; wait for it to finish, or if that process is gone for good, delete ${path}`,
  );
}
