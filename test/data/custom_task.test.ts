/** Defining a task from a file's own metadata, and refusing files that contradict a registry task. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NpzFile, checkRegistryTaskFile, clearCustomTasks, getDataset, registerCustomTask, taskInfoFromHead, taskInfoFromNpz } from '../../src/data/index.js';
import { errorOf } from '../helpers/errors.js';
import { writeTaskNpz } from '../helpers/custom_task.js';

let dir: string;
const open = (name: string) => NpzFile.open(join(dir, name));
const small = { train: 8, val: 4, test: 4 };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stmedfm-task-'));
  writeTaskNpz(join(dir, 'rgb.npz'), { classNames: ['benign', 'malignant'], channels: 3, n: small });
  writeTaskNpz(join(dir, 'gray.npz'), { classNames: ['a', 'b', 'c'], channels: 1, n: small });
  writeTaskNpz(join(dir, 'vol.npz'), { classNames: ['a', 'b', 'c', 'd'], dim: 3, n: small });
  writeTaskNpz(join(dir, 'multi.npz'), { classNames: ['x', 'y', 'z', 'w', 'v'], multiLabel: true, n: small });
  writeTaskNpz(join(dir, 'nonames.npz'), { classNames: ['a', 'b', 'c', 'd', 'e', 'f'], omitNames: true, n: small });
  writeTaskNpz(join(dir, 'blood.npz'), { classNames: [...getDataset('bloodmnist').labels], channels: 3, n: small });
});

afterEach(() => clearCustomTasks());

describe('taskInfoFromNpz', () => {
  it('reads classes, 2D/3D, colour and the task type from the file', () => {
    const rgb = taskInfoFromNpz('lesions', open('rgb.npz'), 'rgb.npz').info;
    expect(rgb).toMatchObject({ name: 'lesions', dim: 2, channels: 3, labels: ['benign', 'malignant'], task: 'binary-class', nSamples: small });
    expect(taskInfoFromNpz('g', open('gray.npz'), 'gray.npz').info).toMatchObject({ dim: 2, channels: 1, task: 'multi-class', labels: ['a', 'b', 'c'] });
    expect(taskInfoFromNpz('v', open('vol.npz'), 'vol.npz').info).toMatchObject({ dim: 3, channels: 1, labels: ['a', 'b', 'c', 'd'] });
    expect(taskInfoFromNpz('m', open('multi.npz'), 'multi.npz').info).toMatchObject({ task: 'multi-label, binary-class', labels: ['x', 'y', 'z', 'w', 'v'] });
  });

  it('without class_names: classes from the label values, with a note', () => {
    const t = taskInfoFromNpz('n', open('nonames.npz'), 'nonames.npz');
    expect(t.info.labels).toEqual(['class 0', 'class 1', 'class 2', 'class 3', 'class 4', 'class 5']);
    expect(t.notes.join('\n')).toMatch(/no class_names: 6 classes from the label values 0\.\.5/);
  });

  it('refuses task names that cannot be tensor or file names', () => {
    for (const bad of ['Has Space', '1abc', 'a.b', 'x/y', '']) expect(errorOf(() => taskInfoFromNpz(bad, open('rgb.npz'), 'rgb.npz')).message).toMatch(/a task name is 1-40 lowercase letters/);
  });

  it('a registered task is looked up like a registry task', () => {
    expect(() => getDataset('lesions')).toThrow(/unknown MedMNIST dataset 'lesions'/);
    registerCustomTask(taskInfoFromNpz('lesions', open('rgb.npz'), 'rgb.npz').info);
    expect(getDataset('lesions').labels).toEqual(['benign', 'malignant']);
    expect(() => registerCustomTask({ ...getDataset('lesions'), name: 'bloodmnist' })).toThrow(/registry task/);
  });

  it('a head with class names rebuilds its task (predict without a data file)', () => {
    const info = taskInfoFromHead({ name: 'lesions', numClasses: 2, modality: '2d', classNames: ['benign', 'malignant'], channels: 1 });
    expect(info).toMatchObject({ name: 'lesions', dim: 2, channels: 1, labels: ['benign', 'malignant'], task: 'binary-class' });
    expect(taskInfoFromHead({ name: 't', numClasses: 3, modality: '3d', multiLabel: true })).toMatchObject({ dim: 3, channels: 1, task: 'multi-label, binary-class', labels: ['class 0', 'class 1', 'class 2'] });
  });
});

describe('checkRegistryTaskFile', () => {
  it('accepts a file whose classes are the registry task\'s', () => {
    expect(() => checkRegistryTaskFile(getDataset('bloodmnist'), open('blood.npz'), 'blood.npz')).not.toThrow();
  });

  it('refuses other class names, another count, or another label kind', () => {
    expect(errorOf(() => checkRegistryTaskFile(getDataset('bloodmnist'), open('gray.npz'), 'gray.npz')).message).toMatch(/its classes \(3: a, b, c\) are not those of the MedMNIST task bloodmnist \(8:/);
    expect(errorOf(() => checkRegistryTaskFile(getDataset('bloodmnist'), open('multi.npz'), 'multi.npz')).message).toMatch(/the file is multi-label \(5 0\/1 labels per sample\), but bloodmnist .* single-label/);
    expect(errorOf(() => checkRegistryTaskFile(getDataset('chestmnist'), open('gray.npz'), 'gray.npz')).message).toMatch(/single-label \(one class id per sample\), but chestmnist .* multi-label \(14 labels\)/);
  });
});
