/**
 * `stmedfm data import`: class folders or a CSV manifest -> a MedMNIST-layout `.npz` with
 * provenance. Decoding and preprocessing are the pure imaging module's; this file walks the
 * sources, streams them one at a time into preallocated uint8 arrays (memory grows with the
 * output, not with the decoded full-size images), splits, and writes the file atomically.
 *
 * Corrupt or non-image files in a class folder FAIL the import by default (all of them listed in
 * the one error line): a data set that silently drops files differs from the folder it claims to
 * be, and its class counts shift without anyone noticing. `--skip-bad` skips them instead, with
 * one warning per file and the count in the summary.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { writeFileAtomicSync } from '../../io/atomic.js';
import { DataError } from '../errors.js';
import type { Split } from '../registry.js';
import { apply3d, checkAxisCodes, decodeImage, outputShape, pipeline2d, pipeline3d, type FitMode, type Pipeline, type Volume } from '../imaging/index.js';
import { encodeImport } from './encode.js';
import { readBytes, readVolume } from './read.js';
import { dimensionOf, listClassFolders, type ManifestOptions, readManifest, type SampleRef } from './sources.js';
import { apply2d } from '../imaging/pipeline.js';

/** The source is class folders (`images`) or a manifest (the manifest's own options). */
export interface ImportOptions extends Partial<ManifestOptions> {
  readonly images?: string;
  readonly size?: number;
  readonly fit?: FitMode;
  readonly centerCrop?: number;
  /** 1 or 3; default: 3 unless the first image is grayscale. */
  readonly channels?: 1 | 3;
  /** HU window; null = per-volume min-max (MR). */
  readonly window?: readonly [number, number] | null;
  readonly stretch?: boolean;
  /** 3D target axis codes (default: ORGANMNIST3D_AXES). */
  readonly axes?: string;
  readonly seed?: number;
  readonly skipBad?: boolean;
  readonly out: string;
  readonly onProgress?: (done: number, total: number) => void;
  readonly onWarning?: (msg: string) => void;
}

export interface ImportSummary {
  readonly out: string;
  readonly dim: 2 | 3;
  readonly classNames: string[];
  readonly counts: Record<Split, number[]>;
  readonly n: Record<Split, number>;
  readonly skipped: number;
  readonly pipeline: Pipeline;
  readonly splitMethod: string;
  readonly seconds: number;
}

export async function importDataset(o: ImportOptions): Promise<ImportSummary> {
  const t0 = performance.now();
  const warn = o.onWarning ?? (() => {});
  if (!!o.images === !!o.manifest) throw new DataError('give exactly one of --images DIR (class folders) or --manifest FILE.csv');
  if (!/\.npz$/i.test(o.out)) throw new DataError(`--out ${o.out}: the output is an .npz file; name it *.npz`);
  const size = o.size ?? 28;
  if (size !== 28 && size !== 64) throw new DataError(`--size ${size}: use 28 (MedMNIST) or 64 (MedMNIST+)`);
  const outAbs = resolve(o.out);
  let samples: SampleRef[];
  let classNames: string[];
  if (o.images) {
    const r = listClassFolders(o.images, o.classes);
    r.warnings.forEach(warn);
    ({ samples, classNames } = r);
  } else {
    if (!o.labelCol) throw new DataError('a manifest import needs --label-col C (the column with each row\'s class)');
    ({ samples, classNames } = readManifest({ ...o, manifest: o.manifest! }));
    if (resolve(o.manifest!) === outAbs) throw new DataError(`--out ${o.out} is the manifest itself; choose another output file`);
  }
  if (samples.some((s) => resolve(s.path) === outAbs || (s.mask && resolve(s.mask) === outAbs))) throw new DataError(`--out ${o.out} is one of the inputs; choose another output file`);
  const dim = dimensionOf(samples, o.images ?? o.manifest!);
  if (dim === 3 && (o.fit || o.centerCrop)) throw new DataError('--fit and --center-crop apply to 2D images; volumes are resized as a whole (or cropped to a mask label with --mask-col)');
  if (dim === 2 && o.maskCol) throw new DataError('--mask-col applies to 3D volumes (NIfTI or DICOM)');
  if (o.centerCrop !== undefined && (!Number.isInteger(o.centerCrop) || o.centerCrop < 1)) throw new DataError(`--center-crop ${o.centerCrop}: must be a positive integer`);

  // the pipeline is fixed before the first sample so every sample goes through the same steps
  let pipeline: Pipeline;
  if (dim === 2) {
    let channels = o.channels;
    // as the first image that decodes (bad files are reported by the main loop, all together)
    for (let i = 0; !channels && i < samples.length; i++) {
      try {
        channels = decodeImage(readBytes(samples[i]!.path), samples[i]!.source).channels;
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
      }
    }
    channels ??= 3;
    pipeline = pipeline2d({ size, channels, ...(o.fit ? { fit: o.fit } : {}), ...(o.centerCrop !== undefined ? { centerCrop: o.centerCrop } : {}) });
  } else {
    if (o.axes !== undefined) checkAxisCodes(o.axes.toUpperCase());
    pipeline = pipeline3d({ size, cropMask: !!o.maskCol, ...(o.axes ? { axes: o.axes.toUpperCase() } : {}), ...(o.window !== undefined ? { window: o.window } : {}), ...(o.stretch !== undefined ? { stretch: o.stretch } : {}) });
  }
  const per = outputShape(pipeline);
  const perBytes = per.reduce((a, b) => a * b, 1);
  const pixels = new Uint8Array(samples.length * perBytes);
  const hashes: string[] = new Array<string>(samples.length).fill('');
  const ok = new Uint8Array(samples.length);
  const bad: string[] = [];
  let lastVol: { path: string; vol: Volume } | undefined;
  let lastMask: { path: string; vol: Volume } | undefined;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    try {
      if (dim === 2) {
        const bytes = readBytes(s.path);
        hashes[i] = createHash('sha1').update(bytes).digest('hex');
        const img = decodeImage(bytes, s.source);
        if (img.note) warn(img.note);
        pixels.set(apply2d(pipeline, img), i * perBytes);
      } else {
        // rows of one scan (several organs) follow each other: keep only the last volume and mask
        if (lastVol?.path !== s.path) lastVol = { path: s.path, vol: await readVolume(s.path) };
        if (s.mask && lastMask?.path !== s.mask) lastMask = { path: s.mask, vol: await readVolume(s.mask) };
        const out = apply3d(pipeline, lastVol.vol, s.mask ? { volume: lastMask!.vol, value: s.maskValue!, name: s.mask } : undefined);
        hashes[i] = createHash('sha1').update(out).digest('hex');
        pixels.set(out, i * perBytes);
      }
      ok[i] = 1;
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      if (dim === 3) {
        bad.push(e.message); // a volume row was named on purpose: always an error
        break;
      }
      if (o.skipBad) warn(`skipped ${e.message}`);
      else bad.push(e.message);
    }
    o.onProgress?.(i + 1, samples.length);
  }
  if (bad.length) {
    throw new DataError(
      bad.length === 1
        ? `${bad[0]}${dim === 2 ? '; remove or fix the file (or pass --skip-bad to skip unreadable files with a warning)' : ''}`
        : `${bad.length} files cannot be decoded: ${bad.slice(0, 3).join('; ')}${bad.length > 3 ? '; ...' : ''}; remove or fix them (or pass --skip-bad to skip them with a warning)`,
    );
  }
  const kept = samples.map((_, i) => i).filter((i) => ok[i]);
  const skipped = samples.length - kept.length;
  const seed = o.seed ?? 0;
  let keptPixels = pixels;
  if (skipped) {
    keptPixels = new Uint8Array(kept.length * perBytes);
    kept.forEach((i, k) => keptPixels.set(pixels.subarray(i * perBytes, (i + 1) * perBytes), k * perBytes));
  }
  const { bytes, counts, n, splitMethod } = encodeImport({
    dim,
    classNames,
    pipeline,
    per,
    samples: kept.map((i) => ({ ...samples[i]!, hash: hashes[i]! })),
    pixels: keptPixels,
    seed,
    ...(o.splitCol ? { splitCol: o.splitCol } : {}),
    ...(o.groupCol ? { groupCol: o.groupCol } : {}),
    onWarning: warn,
  });
  try {
    writeFileAtomicSync(o.out, bytes, { mkdir: true });
  } catch (e) {
    throw new DataError(`--out ${o.out}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return { out: o.out, dim, classNames, counts, n, skipped, pipeline, splitMethod, seconds: (performance.now() - t0) / 1000 };
}

/** Class counts per split as a small table (printed by `data import`). */
export function formatImportSummary(s: ImportSummary): string {
  const w = Math.max(5, ...s.classNames.map((c) => c.length));
  const lines = [`wrote ${s.out}: ${s.dim}D, ${s.classNames.length} classes, train/val/test ${s.n.train}/${s.n.val}/${s.n.test}${s.skipped ? `, ${s.skipped} file(s) skipped` : ''} (${s.splitMethod})`];
  lines.push(`${'class'.padEnd(w)}  ${'train'.padStart(6)} ${'val'.padStart(6)} ${'test'.padStart(6)}`);
  s.classNames.forEach((c, i) => lines.push(`${c.padEnd(w)}  ${String(s.counts.train[i]).padStart(6)} ${String(s.counts.val[i]).padStart(6)} ${String(s.counts.test[i]).padStart(6)}`));
  return lines.join('\n');
}
