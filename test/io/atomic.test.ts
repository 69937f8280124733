import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeWritable, writeFileAtomic, writeFileAtomicSync, writeFileGroupAtomic } from '../../src/io/atomic.js';

const root = mkdtempSync(join(tmpdir(), 'stmedfm-atomic-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshDir(): string {
  const d = join(root, `case${counter++}`);
  mkdirSync(d);
  return d;
}

const variants = [
  ['async', writeFileAtomic],
  ['sync', async (p: string, d: Uint8Array | string) => writeFileAtomicSync(p, d)],
] as const;

describe.each(variants)('writeFileAtomic (%s)', (_name, write) => {
  it('writes bytes and strings and replaces an existing file', async () => {
    const dir = freshDir();
    const p = join(dir, 'out.bin');
    await write(p, Uint8Array.of(1, 2, 3));
    expect([...readFileSync(p)]).toEqual([1, 2, 3]);
    await write(p, 'héllo');
    expect(readFileSync(p, 'utf8')).toBe('héllo');
    expect(readdirSync(dir)).toEqual(['out.bin']); // no temp file left behind
  });

  it('leaves the old file intact and removes its temp file when the rename fails', async () => {
    const dir = freshDir();
    const target = join(dir, 'target');
    mkdirSync(target); // renaming a file over a directory fails (EISDIR)
    writeFileSync(join(target, 'keep'), 'x');
    await expect(write(target, 'new')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['target']);
    expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('x');
  });

  it('fails cleanly when the folder does not exist', async () => {
    const dir = freshDir();
    await expect(write(join(dir, 'missing', 'f'), 'x')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('writeFileGroupAtomic: files that belong together', () => {
  const withFault = async (fault: string, fn: () => Promise<void>) => {
    process.env.STMEDFM_FAULT = fault;
    try {
      await fn();
    } finally {
      delete process.env.STMEDFM_FAULT;
    }
  };

  it('writes every file, creating missing folders, and leaves no temp files', async () => {
    const dir = freshDir();
    await writeFileGroupAtomic([
      { path: join(dir, 'sub', 'a.bin'), data: 'A1' },
      { path: join(dir, 'b.bin'), data: 'B1' },
    ]);
    expect(readFileSync(join(dir, 'sub', 'a.bin'), 'utf8')).toBe('A1');
    expect(readdirSync(dir).sort()).toEqual(['b.bin', 'sub']);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['a.bin']);
  });

  it.each([
    ['a full disk while writing the second file', 'write:ENOSPC:b.bin', /ENOSPC/],
    ['a failed rename of the last file, after the first was renamed', 'rename:EIO:b.bin', /EIO/],
    ['a failed rename of the first file', 'rename:EROFS:a.bin', /EROFS/],
  ])('%s keeps the previous group whole', async (_what, fault, code) => {
    const dir = freshDir();
    const files = (v: string) => [
      { path: join(dir, 'a.bin'), data: `A${v}` },
      { path: join(dir, 'b.bin'), data: `B${v}` },
    ];
    await writeFileGroupAtomic(files('1'));
    await withFault(fault, () => expect(writeFileGroupAtomic(files('2'))).rejects.toThrow(code));
    expect(readFileSync(join(dir, 'a.bin'), 'utf8')).toBe('A1');
    expect(readFileSync(join(dir, 'b.bin'), 'utf8')).toBe('B1');
    expect(readdirSync(dir).sort()).toEqual(['a.bin', 'b.bin']); // no temp or backup files
  });

  it('a failed first write removes the folders it created and names the destination, not the temp file', async () => {
    const dir = freshDir();
    let err: Error | undefined;
    await withFault('write:ENOSPC:a.bin', () => writeFileGroupAtomic([{ path: join(dir, 'new', 'deeper', 'a.bin'), data: 'x'.repeat(1000) }]).catch((e) => void (err = e)));
    expect(err?.message).toMatch(/ENOSPC/);
    expect((err as NodeJS.ErrnoException).path).toBe(join(dir, 'new', 'deeper', 'a.bin'));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('probeWritable reports a read-only folder and leaves nothing', async () => {
    const dir = freshDir();
    expect(() => probeWritable(dir)).not.toThrow();
    await withFault('probe:EROFS:', async () => expect(() => probeWritable(dir)).toThrow(/EROFS/));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes the temp file of a write cut short by process.exit (a second Ctrl-C)', () => {
    const dir = freshDir();
    const script = `import { writeFileAtomic } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/io/atomic.ts'))};
      writeFileAtomic(${JSON.stringify(join(dir, 'big.bin'))}, new Uint8Array(64 << 20)); setImmediate(() => process.exit(130));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: resolve(import.meta.dirname, '../..'), encoding: 'utf8' });
    expect(r.status).toBe(130);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
