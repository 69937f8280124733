/**
 * What each task's data file is, for the report's caveats, decided by the file's content: the
 * official MD5s of src/data/registry.ts, the project's known files (known_data.ts, by SHA-256), the
 * synthetic marker of `stmedfm data synth`; anything else is "user-supplied, not verified".
 * File names are never trusted: a renamed file keeps its description.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DATASETS, DataError, getDataset, isSynthetic, resolveDataFile, type DataSourceOptions } from '../data/index.js';
import type { DataNote } from '../report/types.js';
import { KNOWN_FILES } from './known_data.js';

export type DataKind = DataNote['kind'];
export type { DataNote };

/** One task's data file and its content hashes: part of every run's identity. */
export interface DataFingerprint {
  task: string;
  file: string;
  sha256: string;
  md5: string;
  /** The file's 2D image size, in protocols with an image-size axis (one file per task and size; volumes 28). */
  image_size?: number;
}

/** Which file of `data` a task uses at a 2D image size (volumes: their one 28^3 file). */
export function fingerprintFor(data: readonly DataFingerprint[], task: string, imageSize: number): DataFingerprint | undefined {
  return data.find((d) => d.task === task && (d.image_size === undefined || d.image_size === imageSize || getDataset(task).dim === 3));
}

export function fingerprintFile(file: string): { sha256: string; md5: string } {
  const bytes = readFileSync(file);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), md5: createHash('md5').update(bytes).digest('hex') };
}

/**
 * The data files of `tasks`; with `imageSizes` (an image-size axis) one per task and size, each
 * recorded with its size (a 3D task once, at 28: volumes are 28^3 at every size).
 */
export function fingerprintData(tasks: readonly string[], data: DataSourceOptions, imageSizes?: readonly number[]): DataFingerprint[] {
  if (!imageSizes) {
    return tasks.map((t) => {
      const name = getDataset(t).name;
      const file = resolveDataFile(name, data);
      return { task: name, file, ...fingerprintFile(file) };
    });
  }
  const out: DataFingerprint[] = [];
  const problems: string[] = [];
  for (const size of imageSizes) {
    for (const t of tasks) {
      const info = getDataset(t);
      if (info.dim === 3 && size !== imageSizes[0]) continue;
      try {
        const file = resolveDataFile(info.name, data, size);
        out.push({ task: info.name, file, ...fingerprintFile(file), image_size: info.dim === 3 ? 28 : size });
      } catch (e) {
        if ((e as Error).name !== 'DataError') throw e;
        problems.push((e as Error).message);
      }
    }
  }
  // Every missing (task, size) at once, so one run of the command lists all there is to fix.
  if (problems.length) throw new DataError(problems.join('; '));
  return out;
}

/** Which official MedMNIST file (current or legacy release) has this MD5, if any. */
function officialByMd5(md5: string): { dataset: string; legacy: boolean } | undefined {
  for (const info of Object.values(DATASETS)) {
    if (info.md5 === md5) return { dataset: info.name, legacy: false };
    if (info.legacy?.md5 === md5) return { dataset: info.name, legacy: true };
  }
  return undefined;
}

const mismatch = (content: string, task: string) =>
  content === task ? '' : ` WARNING: its content is ${content} data, but it was used for the task ${task}; these numbers are not ${task} results.`;

export function describeFile(fp: DataFingerprint): DataNote {
  const base = { task: fp.task, file: fp.file, sha256: fp.sha256 };
  const official = officialByMd5(fp.md5);
  if (official) {
    const release = official.legacy ? 'an earlier MedMNIST release' : 'MedMNIST v2';
    return { ...base, kind: 'official', note: `the official ${official.dataset}.npz of ${release} (MD5 verified).${mismatch(official.dataset, fp.task)}` };
  }
  const known = KNOWN_FILES[fp.sha256];
  if (known) return { ...base, kind: known.kind, note: `${known.note} (recognised by content: ${known.origin}).${mismatch(known.dataset, fp.task)}` };
  if (isSynthetic(fp.file)) return { ...base, kind: 'synthetic', note: 'synthetic data written by `stmedfm data synth` (marker found in the file): numbers say nothing about medical images' };
  return { ...base, kind: 'user-supplied', note: 'user-supplied, not verified: its content matches no official MedMNIST MD5 and no file this project knows' };
}

export function describeData(fingerprints: readonly DataFingerprint[]): DataNote[] {
  return fingerprints.map(describeFile);
}
