/**
 * Data files this project knows by content (SHA-256), with what each one is. The report describes
 * a task's file by this table (or by the official MD5s in src/data/registry.ts), never by its name:
 * a renamed file keeps its description and a file named like an official one gains none.
 *
 * Hashes computed with `sha256sum` on the files themselves (data/demo, and the project's MedMNIST
 * folder described in its SOURCES.md); test/experiments/data_notes.test.ts checks the demo rows
 * against the shipped files, so rebuilding the demo pack fails that test until this table follows.
 */
import type { DataNote } from '../report/types.js';

export interface KnownFile {
  /** The MedMNIST dataset the content belongs to. */
  dataset: string;
  kind: DataNote['kind'];
  /** Where the file is known from. */
  origin: string;
  note: string;
}

const PATHMNIST_SUBSET1000 = {
  dataset: 'pathmnist',
  kind: 'official-subset',
  note: 'the first 1,000 official PathMNIST train images (official pixels and labels), split 70/10/20 by us: val and test are NOT the official test set (which comes from another centre)',
} as const;

export const KNOWN_FILES: Readonly<Record<string, KnownFile>> = {
  // data/demo (the built-in demo pack; data/demo/README.md)
  '69b3d6e80523e46cbc36eacba9715d4d2937c09d8d44b7a0f04c7196ccc30692': { ...PATHMNIST_SUBSET1000, origin: 'demo pack pathmnist.npz = pathmnist-subset1000.npz' },
  '941f1d809d6c0e8737e52b6c95ea6ecec691b4ba5d95319ed6463f4233f0bb92': {
    dataset: 'bloodmnist',
    kind: 're-created',
    origin: 'demo pack bloodmnist.npz',
    note: 'a class-stratified subset (1,000/200/500) of BloodMNIST re-created from the PBC source images with MedMNIST\'s recipe and our own seeded split; not the official file',
  },
  '906ac4d78ae43013f8b7203b223818ce91d0404ae02baedf1062b2d882927ffe': {
    dataset: 'dermamnist',
    kind: 're-created',
    origin: 'demo pack dermamnist.npz',
    note: 'a class-stratified subset (1,000/200/500) of DermaMNIST re-created from HAM10000 with MedMNIST\'s recipe and a lesion-grouped split of our own; not the official file (CC BY-NC 4.0)',
  },
  eb71d8ef764925a272b5408a8d878c738c3b0f69cdc1741ae7f6a353f360c07c: {
    dataset: 'organmnist3d',
    kind: 'official-subset',
    origin: 'demo pack organmnist3d.npz',
    note: 'a class-stratified subset (170/40/120) of the official OrganMNIST3D splits, each split cut from its own official split',
  },
  // the project's MedMNIST folder (its SOURCES.md gives provenance and checks)
  cbf3c7e4699089ded53880e98356d673680ba225b773a85d6e6fb91bcaf22b0b: {
    dataset: 'organmnist3d',
    kind: 'official',
    origin: 'organmnist3d.npz of the project\'s MedMNIST folder',
    note: 'the official OrganMNIST3D data and splits (971/161/610) re-assembled from an export; sample order within a split differs from the official file',
  },
  beb1f29b4ecee66cad62d04f5de722b3e2033996273bc94b86771e4144797c3a: {
    dataset: 'bloodmnist',
    kind: 're-created',
    origin: 'bloodmnist-source28.npz of the project\'s MedMNIST folder',
    note: 'BloodMNIST re-created from the PBC source dataset with MedMNIST\'s recipe and our own seeded split (11,961/1,711/3,420); comparable with, not equal to, the official file',
  },
  '171d8f2d19de2b6c4686215c2d691604a1ff07640095fbe6b4ccb1e09ce5a4c2': {
    dataset: 'dermamnist',
    kind: 're-created',
    origin: 'dermamnist-source28.npz of the project\'s MedMNIST folder',
    note: 'DermaMNIST re-created from HAM10000 with MedMNIST\'s recipe and our own lesion-grouped split (7,008/1,003/2,004); comparable with, not equal to, the official file',
  },
};
