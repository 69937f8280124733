/**
 * What each task's data file is, for the report's caveats: official splits, an official subset,
 * a re-creation from the source dataset, or something else. Known files are recognised by their
 * MD5 (official downloads) or by the names the project's data pack and shared data use.
 */
import { basename, resolve } from 'node:path';
import { getDataset, isSynthetic, md5File, resolveDataFile, type DataSourceOptions } from '../data/index.js';

export type DataKind = 'official' | 'official-subset' | 're-created' | 'synthetic';

export interface DataNote {
  task: string;
  file: string;
  kind: DataKind;
  note: string;
}

const DEMO: Record<string, { kind: DataKind; note: string }> = {
  pathmnist: { kind: 'official-subset', note: 'the first 1,000 official PathMNIST train images, split 70/10/20 by us: val and test are NOT the official test set (which comes from another centre)' },
  bloodmnist: { kind: 're-created', note: 'a class-stratified subset of BloodMNIST re-created from the PBC source images with MedMNIST\'s recipe and our own seeded split; not the official file' },
  dermamnist: { kind: 're-created', note: 'a class-stratified subset of DermaMNIST re-created from HAM10000 with MedMNIST\'s recipe and a lesion-grouped split of our own; not the official file (CC BY-NC 4.0)' },
  organmnist3d: { kind: 'official-subset', note: 'a class-stratified subset of the official OrganMNIST3D splits (each split cut from its own official split)' },
};

export async function describeData(tasks: readonly string[], data: DataSourceOptions, demoDir: string): Promise<DataNote[]> {
  const notes: DataNote[] = [];
  for (const t of tasks) {
    const info = getDataset(t);
    const file = resolveDataFile(info.name, data);
    const name = basename(file);
    let n: { kind: DataKind; note: string };
    if (isSynthetic(file)) n = { kind: 'synthetic', note: 'synthetic data written by `stmedfm data synth`: numbers say nothing about medical images' };
    else if (resolve(file).startsWith(resolve(demoDir))) n = DEMO[info.name] ?? { kind: 'official-subset', note: 'built-in demo pack' };
    else if (/source28/.test(name)) n = { kind: 're-created', note: 're-created from the source dataset with MedMNIST\'s recipe and an own split; comparable with, not equal to, the official file' };
    else if (/subset/.test(name)) n = { kind: 'official-subset', note: 'a subset of official images with an own split' };
    else if ((await md5File(file)) === info.md5) n = { kind: 'official', note: 'the official MedMNIST v2 file (MD5 verified)' };
    else if (info.name === 'organmnist3d' && name === 'organmnist3d.npz') n = { kind: 'official', note: 'the official OrganMNIST3D splits re-assembled from an export (sample order differs from the official file)' };
    else n = { kind: 'official', note: `not verified: its MD5 differs from the official ${info.name}.npz` };
    notes.push({ task: info.name, file, ...n });
  }
  return notes;
}
