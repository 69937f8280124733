import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.js';

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
