/**
 * `data info`: what is in a data file (per split: N, shapes, class counts, label names), checked
 * against the registry when the task is known. Problems are collected, not thrown, so one call
 * reports everything wrong with a file.
 */
import { statSync } from 'node:fs';
import { DataError } from './errors.js';
import { formatShape, toIntArray, type NpyDtype } from './npy.js';
import { NpzFile } from './npz.js';
import { validateSplit } from './dataset.js';
import { decodeUnicodeNpy } from './import/npy_unicode.js';
import { SPLITS, datasetFromFileName, getDataset, isMultiLabel, type DatasetInfo, type DatasetName, type Split } from './registry.js';

export interface ArraySummary {
  readonly key: string;
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
}

export interface SplitSummary {
  readonly split: Split;
  readonly n: number;
  readonly imageShape: readonly number[];
  readonly labelShape: readonly number[];
  /** Samples per class (single-label) or positives per label (multi-label). */
  readonly counts: number[];
  /** Registry size of this split (official file), for comparison. */
  readonly officialN?: number;
  /** Mean and standard deviation of pixel values / 255, per channel. */
  readonly pixelMean: number[];
  readonly pixelStd: number[];
}

export interface DataFileSummary {
  readonly file: string;
  readonly bytes: number;
  readonly task?: DatasetName;
  /** How the task was determined. */
  readonly taskFrom?: 'given' | 'file name';
  readonly taskType?: DatasetInfo['task'];
  readonly labelNames?: readonly string[];
  readonly arrays: ArraySummary[];
  readonly splits: SplitSummary[];
  /** Everything that would make loading fail, one message each. */
  readonly problems: string[];
  /** Provenance of a file written by `stmedfm data import`. */
  readonly imported?: { classNames: string[]; taskType?: string; dim?: string; preprocessing?: unknown; splitMethod?: string; splitSeed?: number };
}

function importedInfo(npz: NpzFile, file: string): DataFileSummary['imported'] {
  if (!npz.has('class_names')) return undefined;
  const str = (k: string): string[] | undefined => (npz.has(k) ? decodeUnicodeNpy(npz.memberBytes(k), `${file}, ${k}`) : undefined);
  const pre = str('preprocessing')?.[0];
  return {
    classNames: str('class_names')!,
    ...(str('task_type') ? { taskType: str('task_type')![0]! } : {}),
    ...(str('dim') ? { dim: str('dim')![0]! } : {}),
    ...(pre ? { preprocessing: JSON.parse(pre) as unknown } : {}),
    ...(str('split_method') ? { splitMethod: str('split_method')![0]! } : {}),
    ...(npz.has('split_seed') ? { splitSeed: Number((npz.read('split_seed').data as Int32Array)[0]) } : {}),
  };
}

function pixelStats(images: Uint8Array, channels: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const sq = new Float64Array(channels);
  for (let i = 0; i < images.length; i++) {
    const v = images[i]! / 255;
    const c = i % channels;
    sum[c]! += v;
    sq[c]! += v * v;
  }
  const n = images.length / channels;
  const mean = Array.from(sum, (s) => s / n);
  return { mean, std: Array.from(sq, (s, c) => Math.sqrt(Math.max(0, s / n - mean[c]! ** 2))) };
}

/** Summarises an `.npz`; `task` defaults to the one the file name points to (if any). */
export function summarizeDataFile(file: string, task?: string): DataFileSummary {
  const info = task !== undefined ? getDataset(task) : (() => {
    const t = datasetFromFileName(file);
    return t ? getDataset(t) : undefined;
  })();
  const npz = NpzFile.open(file, info ? { hint: `re-download it with \`stmedfm data fetch ${info.name}\`` } : {});
  const problems: string[] = [];
  const arrays: ArraySummary[] = [];
  let imported: DataFileSummary['imported'];
  try {
    imported = importedInfo(npz, file);
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    problems.push(e.message);
  }
  for (const k of npz.keys()) {
    if (k.endsWith('_sources') || ['class_names', 'task_type', 'dim', 'preprocessing', 'split_method'].includes(k)) {
      arrays.push({ key: k, dtype: 'uint32' as NpyDtype, shape: [] });
      continue;
    }
    try {
      const h = npz.header(k);
      arrays.push({ key: k, dtype: h.dtype, shape: h.shape });
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      problems.push(e.message);
    }
  }
  const splits: SplitSummary[] = [];
  for (const split of SPLITS) {
    const ik = `${split}_images`;
    const lk = `${split}_labels`;
    if (!npz.has(ik) || !npz.has(lk)) {
      problems.push(`${file}: split ${split} is missing (${[ik, lk].filter((k) => !npz.has(k)).join(', ')} not in the file)`);
      continue;
    }
    try {
      const images = npz.read(ik);
      const labels = npz.read(lk);
      let counts: number[];
      let channels = 1;
      if (info) {
        const s = validateSplit(info, split, file, images, labels);
        channels = info.dim === 2 && info.channels === 3 ? 3 : 1;
        counts = new Array<number>(info.labels.length).fill(0);
        if (isMultiLabel(info)) s.labels.forEach((v, i) => (counts[i % s.labelWidth]! += v));
        else s.labels.forEach((v) => counts[v]!++);
      } else {
        const values = toIntArray(labels, `${file}, ${lk}`);
        const hi = values.reduce((a, b) => Math.max(a, b), -1);
        counts = new Array<number>(hi + 1).fill(0);
        values.forEach((v) => v >= 0 && counts[v]!++);
        const last = images.shape[images.shape.length - 1];
        channels = images.shape.length === 4 && last === 3 ? 3 : 1;
      }
      const st = pixelStats(images.data as Uint8Array, channels);
      if ((images.shape[0] ?? 0) === 0) problems.push(`${file}: split ${split} is empty (0 samples); training needs train, temperature scaling val, and \`evaluate\` the split it scores`);
      splits.push({
        split,
        n: images.shape[0] ?? 0,
        imageShape: images.shape,
        labelShape: labels.shape,
        counts,
        ...(info ? { officialN: info.nSamples[split] } : {}),
        pixelMean: st.mean,
        pixelStd: st.std,
      });
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      problems.push(e.message);
    }
  }
  return {
    file,
    bytes: statSync(file).size,
    ...(info
      ? { task: info.name, taskFrom: task !== undefined ? ('given' as const) : ('file name' as const), taskType: info.task, labelNames: info.labels }
      : {}),
    ...(!info && imported ? { labelNames: imported.classNames, ...(imported.taskType ? { taskType: imported.taskType as DatasetInfo['task'] } : {}) } : {}),
    arrays,
    splits,
    // One message per problem: a key that fails as an array and again as a split is said once.
    problems: [...new Set(problems)],
    ...(imported ? { imported } : {}),
  };
}

/** Human-readable text for `data info`. */
export function formatDataSummary(s: DataFileSummary): string {
  const lines: string[] = [];
  lines.push(`${s.file} (${s.bytes.toLocaleString('en-US')} bytes)`);
  if (s.task) lines.push(`task: ${s.task} (${s.taskType}; from ${s.taskFrom})`);
  else lines.push('task: unknown (name the task to check the file against the registry)');
  if (s.imported) {
    lines.push(`imported by stmedfm data import: ${s.imported.dim ?? '?'}, ${s.imported.taskType ?? '?'}, ${s.imported.classNames.length} classes (${s.imported.classNames.join(', ')})`);
    if (s.imported.splitMethod) lines.push(`  splits: ${s.imported.splitMethod}`);
    if (s.imported.preprocessing) lines.push(`  preprocessing: ${JSON.stringify((s.imported.preprocessing as { steps?: unknown }).steps ?? s.imported.preprocessing)}`);
    lines.push('  sources: {train,val,test}_sources (one path per sample)');
  }
  lines.push('arrays:');
  for (const a of s.arrays.filter((x) => x.shape.length > 0 || !s.imported)) lines.push(`  ${a.key.padEnd(14)} ${a.dtype.padEnd(8)} ${formatShape(a.shape)}`);
  for (const sp of s.splits) {
    const off = sp.officialN !== undefined && sp.officialN !== sp.n ? ` (official file: ${sp.officialN})` : '';
    lines.push(`${sp.split}: N = ${sp.n}${off}; images ${formatShape(sp.imageShape)}, labels ${formatShape(sp.labelShape)}`);
    if (sp.n > 0) lines.push(`  pixel mean ${sp.pixelMean.map((v) => v.toFixed(4)).join(' ')}, std ${sp.pixelStd.map((v) => v.toFixed(4)).join(' ')}`);
    sp.counts.forEach((c, i) => {
      const name = s.labelNames?.[i];
      lines.push(`  ${String(i).padStart(3)} ${String(c).padStart(7)}${name !== undefined ? `  ${name}` : ''}`);
    });
  }
  if (s.problems.length) {
    lines.push('problems:');
    for (const p of s.problems) lines.push(`  - ${p}`);
  } else if (s.task) {
    lines.push(`ok: the file has the layout ${s.task} needs`);
  }
  return lines.join('\n');
}
