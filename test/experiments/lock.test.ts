/** The folder/run lock: exclusive, names its holder, taken over only from a dead holder. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockOrFail, tryLock } from '../../src/experiments/lock.js';
import { makeTmpDir } from '../helpers/synth.js';

const holder = (pid: number, host = hostname()) => JSON.stringify({ pid, host, started: 'then', what: 'test' });

describe('lock files', () => {
  it('is exclusive while held and gone when released', () => {
    const path = join(makeTmpDir().dir, '.lock');
    const a = tryLock(path, 'first');
    expect('release' in a).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname(), what: 'first' });
    const b = tryLock(path, 'second');
    expect(b).toEqual({ holder: expect.objectContaining({ pid: process.pid, what: 'first' }) });
    expect(() => lockOrFail(path, 'third', 'the folder X')).toThrow(`the folder X is in use by process ${process.pid} on host ${hostname()} (first, since `);
    if ('release' in a) a.release();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over the lock of a process that is no longer running on this host', () => {
    const path = join(makeTmpDir().dir, '.lock');
    writeFileSync(path, holder(spawnSync(process.execPath, ['-e', '0']).pid!));
    const l = tryLock(path, 'me');
    expect('release' in l).toBe(true);
    if ('release' in l) l.release();
  });

  it('waits for another host\'s heartbeat: a fresh lock holds, one silent for minutes is stale', () => {
    const path = join(makeTmpDir().dir, '.lock');
    writeFileSync(path, holder(1, 'some-other-node'));
    expect('release' in tryLock(path, 'me')).toBe(false);
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(path, old, old);
    const l = tryLock(path, 'me');
    expect('release' in l).toBe(true);
    if ('release' in l) l.release();
  });
});
