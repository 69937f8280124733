/**
 * The report's data caveats come from a file's content, never its name: known files keep their
 * description when renamed, a file named like a known one gains none, and anything unknown is
 * "user-supplied, not verified".
 */
import { copyFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpz } from '../../src/data/npz.js';
import { DATASETS } from '../../src/data/registry.js';
import { synthesize } from '../../src/data/synth.js';
import { describeFile, fingerprintFile, type DataFingerprint } from '../../src/experiments/data_notes.js';
import { KNOWN_FILES } from '../../src/experiments/known_data.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

const DEMO = resolve(import.meta.dirname, '..', '..', 'data', 'demo');
const fp = (task: string, file: string): DataFingerprint => ({ task, file, ...fingerprintFile(file) });

describe('data notes by content', () => {
  it('knows every file of the shipped demo pack by its hash (update known_data.ts when the pack is rebuilt)', () => {
    const files = readdirSync(DEMO).filter((f) => f.endsWith('.npz'));
    expect(files.length).toBe(4);
    for (const f of files) {
      const known = KNOWN_FILES[fingerprintFile(join(DEMO, f)).sha256];
      expect(known, `${f} is not in KNOWN_FILES`).toBeDefined();
      expect(known!.dataset).toBe(f.replace('.npz', ''));
    }
  });

  it('describes a renamed file by what it is: bloodmnist data named pathmnist_subset.npz is not a PathMNIST subset', () => {
    const { dir } = makeTmpDir();
    const renamed = join(dir, 'pathmnist_subset.npz');
    copyFileSync(join(DEMO, 'bloodmnist.npz'), renamed);
    const n = describeFile(fp('pathmnist', renamed));
    expect(n.kind).toBe('re-created');
    expect(n.note).toMatch(/BloodMNIST re-created from the PBC/);
    expect(n.note).toMatch(/WARNING: its content is bloodmnist data, but it was used for the task pathmnist/);
    // The same content under its own task: no warning.
    expect(describeFile(fp('bloodmnist', renamed)).note).not.toMatch(/WARNING/);
  });

  it('recognises the official PathMNIST subset under any name', () => {
    const { dir } = makeTmpDir();
    const renamed = join(dir, 'my-data.npz');
    copyFileSync(join(DEMO, 'pathmnist.npz'), renamed);
    const n = describeFile(fp('pathmnist', renamed));
    expect(n.kind).toBe('official-subset');
    expect(n.sha256).toBe('69b3d6e80523e46cbc36eacba9715d4d2937c09d8d44b7a0f04c7196ccc30692');
  });

  it('calls synthetic data synthetic, whatever its name', () => {
    const { file } = synthDataFile('pathmnist', { fileName: 'pathmnist-subset1000.npz', sizes: { train: 9, val: 9, test: 9 } });
    expect(describeFile(fp('pathmnist', file)).kind).toBe('synthetic');
  });

  it('calls an unknown file user-supplied, not verified, even under an official or "subset" name', () => {
    const { dir } = makeTmpDir();
    for (const name of ['pathmnist.npz', 'pathmnist_subset.npz', 'bloodmnist-source28.npz']) {
      const file = join(dir, name);
      writeNpz(file, synthesize('pathmnist', { sizes: { train: 9, val: 9, test: 9 }, seed: 3 }).arrays);
      const n = describeFile(fp('pathmnist', file));
      expect(n.kind).toBe('user-supplied');
      expect(n.note).toMatch(/user-supplied, not verified/);
    }
  });

  it('keeps the official MD5s of the registry distinct from the known-file table', () => {
    // An official file is recognised by the registry's MD5, so no known-file entry may claim one.
    const official = new Set(Object.values(DATASETS).flatMap((d) => [d.md5, d.legacy?.md5]));
    for (const f of readdirSync(DEMO).filter((x) => x.endsWith('.npz'))) expect(official.has(fingerprintFile(join(DEMO, f)).md5)).toBe(false);
  });
});
