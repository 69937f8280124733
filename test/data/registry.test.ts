import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/errors.js';
import {
  DATASETS,
  DATASET_NAMES,
  datasetFromFileName,
  fileImageShape,
  getDataset,
  labelWidth,
  numClasses,
} from '../../src/data/registry.js';

describe('registry', () => {
  it('holds the 18 MedMNIST v2 datasets, 12 2D and 6 3D', () => {
    expect(DATASET_NAMES).toHaveLength(18);
    expect(DATASET_NAMES.filter((n) => DATASETS[n].dim === 2)).toHaveLength(12);
    expect(DATASET_NAMES.filter((n) => DATASETS[n].dim === 3).every((n) => n.endsWith('3d'))).toBe(true);
  });

  it('every entry is consistent', () => {
    for (const n of DATASET_NAMES) {
      const d = DATASETS[n];
      expect(d.name).toBe(n);
      expect(d.md5).toMatch(/^[0-9a-f]{32}$/);
      expect(d.url).toBe(`https://zenodo.org/records/10519652/files/${n}.npz?download=1`);
      expect(new Set(d.labels).size).toBe(d.labels.length);
      if (d.task === 'binary-class') expect(d.labels).toHaveLength(2);
      if (d.dim === 3) expect(d.channels).toBe(1);
      if (d.legacy) expect(d.legacy.md5).not.toBe(d.md5);
    }
  });

  it('pins values from medmnist/info.py', () => {
    const p = getDataset('pathmnist');
    expect(p).toMatchObject({ task: 'multi-class', channels: 3, dim: 2, md5: 'a8b06965200029087d5bd730944a56c1' });
    expect(p.nSamples).toEqual({ train: 89996, val: 10004, test: 7180 });
    expect(p.labels[8]).toBe('colorectal adenocarcinoma epithelium');
    expect(getDataset('bloodmnist').nSamples).toEqual({ train: 11959, val: 1712, test: 3421 });
    expect(getDataset('dermamnist').labels).toHaveLength(7);
    const o = getDataset('organmnist3d');
    expect(o.nSamples).toEqual({ train: 971, val: 161, test: 610 });
    expect(o.labels.slice(0, 3)).toEqual(['liver', 'kidney-right', 'kidney-left']);
    expect(o.legacy).toMatchObject({ md5: '21f0a239e7f502e6eca33c3fc453c0b6', nSamples: { train: 972, val: 161, test: 610 } });
    expect(getDataset('chestmnist').task).toBe('multi-label, binary-class');
    expect(getDataset('retinamnist').task).toBe('ordinal-regression');
  });

  it('derives file shapes and label widths', () => {
    expect(fileImageShape(getDataset('pathmnist'))).toEqual([28, 28, 3]);
    expect(fileImageShape(getDataset('pneumoniamnist'))).toEqual([28, 28]);
    expect(fileImageShape(getDataset('vesselmnist3d'))).toEqual([28, 28, 28]);
    expect(labelWidth(getDataset('chestmnist'))).toBe(14);
    expect(labelWidth(getDataset('octmnist'))).toBe(1);
    expect(numClasses(getDataset('organamnist'))).toBe(11);
  });

  it('suggests a name for a typo', () => {
    expect(getDataset('PathMNIST').name).toBe('pathmnist');
    expect(() => getDataset('pathmnst')).toThrow(DataError);
    expect(() => getDataset('pathmnst')).toThrow(/unknown MedMNIST dataset 'pathmnst'\. Did you mean 'pathmnist'\?/);
  });

  it('recognises tasks from file names', () => {
    expect(datasetFromFileName('/x/bloodmnist-source28.npz')).toBe('bloodmnist');
    expect(datasetFromFileName('organmnist3d.npz')).toBe('organmnist3d');
    expect(datasetFromFileName('pathmnist_subset.npz')).toBe('pathmnist');
    expect(datasetFromFileName('organmnist3dx.npz')).toBeUndefined();
    expect(datasetFromFileName('data.npz')).toBeUndefined();
  });
});
