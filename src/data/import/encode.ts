/**
 * The pure half of `stmedfm data import`: from preprocessed samples (uint8 pixels, labels,
 * content hashes) to the MedMNIST-layout `.npz` bytes with provenance keys. No file system: the
 * CLI (importer.ts) and the browser app (class folders dropped on the page) both call it, so a
 * folder gives the same splits and the same file in either place.
 */
import { zipSync, type Zippable } from 'fflate';
import { DataError } from '../errors.js';
import type { Pipeline } from '../imaging/index.js';
import { writeNpy } from '../npy.js';
import { SPLITS, type Split } from '../registry.js';
import { encodeUnicodeNpy } from './npy_unicode.js';
import { assignSplits } from './splits.js';

export interface EncodedSample {
  /** As recorded in `{split}_sources`: relative to the images folder / manifest root. */
  readonly source: string;
  readonly label: number;
  /** Content hash (identical images are kept in one split). */
  readonly hash: string;
  readonly group?: string;
  readonly split?: Split;
}

export interface EncodeImportInput {
  readonly dim: 2 | 3;
  readonly classNames: readonly string[];
  readonly pipeline: Pipeline;
  /** Per-sample shape in the file layout (outputShape(pipeline)). */
  readonly per: readonly number[];
  readonly samples: readonly EncodedSample[];
  /** pixels of sample k at [k * prod(per), (k + 1) * prod(per)). */
  readonly pixels: Uint8Array;
  readonly seed: number;
  /** Splits come from the samples' `split` (a manifest column of this name). */
  readonly splitCol?: string;
  /** Samples sharing `group` stay in one split (a manifest column of this name). */
  readonly groupCol?: string;
  readonly onWarning?: (msg: string) => void;
}

export interface EncodedImport {
  readonly bytes: Uint8Array;
  readonly counts: Record<Split, number[]>;
  readonly n: Record<Split, number>;
  readonly splitMethod: string;
}

function taskType(classes: number): string {
  return classes === 2 ? 'binary-class' : 'multi-class';
}

export function encodeImport(inp: EncodeImportInput): EncodedImport {
  const { samples, classNames, per, seed } = inp;
  const perBytes = per.reduce((a, b) => a * b, 1);
  let splits: Split[];
  let splitMethod: string;
  if (inp.splitCol) {
    splits = samples.map((s) => s.split!);
    splitMethod = `manifest column ${inp.splitCol}`;
  } else {
    splits = assignSplits({
      labels: samples.map((s) => s.label),
      classNames,
      ...(inp.groupCol ? { groups: samples.map((s) => s.group) } : {}),
      hashes: samples.map((s) => s.hash),
      seed,
    });
    splitMethod = `stratified 70/10/20, seed ${seed}${inp.groupCol ? `, grouped by ${inp.groupCol}` : ''}, identical images kept together`;
  }
  // only --classes can name a class without samples (e.g. a test-only file for prediction): say so
  const empty = classNames.filter((_, c) => !samples.some((s) => s.label === c));
  if (empty.length) inp.onWarning?.(`no samples for ${empty.length} class(es) of --classes: ${empty.join(', ')}`);

  const members: Zippable = {};
  const counts = {} as Record<Split, number[]>;
  const n = {} as Record<Split, number>;
  for (const split of SPLITS) {
    const idx = samples.map((_, k) => k).filter((k) => splits[k] === split);
    const imgs = new Uint8Array(idx.length * perBytes);
    const labs = new Uint8Array(idx.length);
    idx.forEach((i, k) => {
      imgs.set(inp.pixels.subarray(i * perBytes, (i + 1) * perBytes), k * perBytes);
      labs[k] = samples[i]!.label;
    });
    members[`${split}_images.npy`] = writeNpy({ dtype: 'uint8', shape: [idx.length, ...per], data: imgs });
    members[`${split}_labels.npy`] = writeNpy({ dtype: 'uint8', shape: [idx.length, 1], data: labs });
    members[`${split}_sources.npy`] = encodeUnicodeNpy(idx.map((i) => samples[i]!.source));
    counts[split] = classNames.map((_, c) => idx.filter((i) => samples[i]!.label === c).length);
    n[split] = idx.length;
  }
  if (classNames.length > 255) throw new DataError(`${classNames.length} classes: at most 255 fit the uint8 labels of the MedMNIST layout`);
  members['class_names.npy'] = encodeUnicodeNpy(classNames);
  members['task_type.npy'] = encodeUnicodeNpy([taskType(classNames.length)]);
  members['dim.npy'] = encodeUnicodeNpy([`${inp.dim}D`]);
  members['preprocessing.npy'] = encodeUnicodeNpy([JSON.stringify(inp.pipeline)]);
  members['split_seed.npy'] = writeNpy({ dtype: 'int32', shape: [1], data: Int32Array.of(seed) });
  members['split_method.npy'] = encodeUnicodeNpy([splitMethod]);
  const bytes = zipSync(members, { level: 6, mtime: new Date(1980, 0, 1, 0, 0, 0) });
  return { bytes, counts, n, splitMethod };
}
