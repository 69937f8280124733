/**
 * Where samples come from: class folders and CSV manifests (csv-parse). Everything is checked
 * before any image is decoded, so a typo in row 900 fails in a second, not after minutes.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { DataError } from '../errors.js';
import type { Split } from '../registry.js';

export interface SampleRef {
  /** Absolute path: an image file, a NIfTI file or a DICOM series folder. */
  readonly path: string;
  /** As recorded in `{split}_sources`: relative to the root / images folder. */
  readonly source: string;
  readonly label: number;
  readonly group?: string;
  readonly split?: Split;
  readonly mask?: string;
  readonly maskValue?: number;
  /** 1-based manifest line, for messages. */
  readonly line?: number;
}

/** Files that operating systems and tools drop into folders; never samples. */
export function isJunkFile(name: string): boolean {
  return name.startsWith('.') || /^(thumbs\.db|desktop\.ini)$/i.test(name);
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface ClassFolder {
  readonly name: string;
  /** File names in the folder (junk files are dropped here). */
  readonly files: readonly string[];
}

export interface ClassFolderSample {
  readonly folder: string;
  readonly file: string;
  /** `class/file`, as recorded in `{split}_sources`. */
  readonly source: string;
  readonly label: number;
}

/**
 * Pure: class names (the sorted folder names, or `classes`) and samples (sorted file names) from
 * a listing of class folders. The CLI lists a folder on disk; the browser app a dropped folder.
 */
export function classFolderSamples(where: string, listing: readonly ClassFolder[], looseFiles: number, classes?: readonly string[]): { samples: ClassFolderSample[]; classNames: string[]; warnings: string[] } {
  const folders = listing.map((f) => f.name).filter((n) => !isJunkFile(n)).sort();
  if (!folders.length) throw new DataError(`--images ${where}: no class subfolders; put each class's images in a subfolder named after the class`);
  const warnings: string[] = [];
  if (looseFiles) warnings.push(`${where}: ${looseFiles} file(s) directly in the folder are ignored (only class subfolders are read)`);
  let classNames = folders;
  if (classes) {
    const missing = classes.filter((c) => !folders.includes(c));
    if (missing.length) throw new DataError(`--classes names ${missing.join(', ')}, but ${where} has no such subfolder (it has: ${folders.join(', ')})`);
    const extra = folders.filter((f) => !classes.includes(f));
    if (extra.length) warnings.push(`subfolders not in --classes are ignored: ${extra.join(', ')}`);
    classNames = [...classes];
  }
  const samples: ClassFolderSample[] = [];
  classNames.forEach((c, label) => {
    const files = listing.find((f) => f.name === c)!.files.filter((n) => !isJunkFile(n)).slice().sort();
    if (!files.length) throw new DataError(`class folder ${join(where, c)} is empty; remove it or add its images`);
    for (const f of files) samples.push({ folder: c, file: f, source: `${c}/${f}`, label });
  });
  return { samples, classNames, warnings };
}

export function listClassFolders(dir: string, classes?: readonly string[]): { samples: SampleRef[]; classNames: string[]; warnings: string[] } {
  if (!existsSync(dir)) throw new DataError(`--images ${dir}: no such folder`);
  if (!isDir(dir)) throw new DataError(`--images ${dir}: not a folder; give a folder with one subfolder per class`);
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !isJunkFile(e.name));
  const folders = entries.filter((e) => e.isDirectory() || (e.isSymbolicLink() && isDir(join(dir, e.name)))).map((e) => e.name);
  const loose = entries.length - folders.length;
  // symbolic links are followed (data sets are often assembled from links)
  const listing = folders.map((c) => ({
    name: c,
    files: readdirSync(join(dir, c), { withFileTypes: true })
      .filter((e) => e.isFile() || (e.isSymbolicLink() && isFile(join(dir, c, e.name))))
      .map((e) => e.name),
  }));
  const r = classFolderSamples(dir, listing, loose, classes);
  return { ...r, samples: r.samples.map((s) => ({ path: resolve(dir, s.folder, s.file), source: s.source, label: s.label })) };
}

export interface ManifestOptions {
  readonly manifest: string;
  readonly root?: string;
  readonly pathCol?: string;
  readonly pathTemplate?: string;
  /** Optional for predict manifests. */
  readonly labelCol?: string;
  readonly classes?: readonly string[];
  readonly groupCol?: string;
  readonly splitCol?: string;
  readonly maskCol?: string;
  readonly maskValueCol?: string;
  readonly maskValue?: number;
}

const SPLIT_NAMES: Readonly<Record<string, Split>> = { train: 'train', training: 'train', val: 'val', valid: 'val', validation: 'val', test: 'test', testing: 'test' };

export function readManifest(o: ManifestOptions): { samples: SampleRef[]; classNames: string[] } {
  let text: string;
  try {
    text = readFileSync(o.manifest, 'utf8');
  } catch (e) {
    throw new DataError(`--manifest ${o.manifest}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let rows: Record<string, string>[];
  try {
    rows = parse(text, { columns: true, bom: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  } catch (e) {
    throw new DataError(`--manifest ${o.manifest}: not a valid CSV (${(e as Error).message})`);
  }
  if (!rows.length) throw new DataError(`--manifest ${o.manifest}: no data rows`);
  const columns = Object.keys(rows[0]!);
  const need = (flag: string, col: string | undefined): void => {
    if (col !== undefined && !columns.includes(col)) throw new DataError(`${flag} ${col}: no such column in ${o.manifest} (columns: ${columns.join(', ')})`);
  };
  if (!o.pathCol && !o.pathTemplate) throw new DataError('give --path-col C or --path-template (e.g. \'images/{image_id}.jpg\') to say where each row\'s file is');
  need('--path-col', o.pathCol);
  need('--label-col', o.labelCol);
  need('--group-col', o.groupCol);
  need('--split-col', o.splitCol);
  need('--mask-col', o.maskCol);
  need('--mask-value-col', o.maskValueCol);
  for (const m of (o.pathTemplate ?? '').matchAll(/\{([^}]+)\}/g)) need('--path-template column', m[1]);
  const root = o.root ?? '.';
  // class names: --classes, else the sorted distinct labels (numerically when all are integers)
  let classNames: string[];
  if (o.classes) classNames = [...o.classes];
  else if (o.labelCol) {
    const vals = [...new Set(rows.map((r) => r[o.labelCol!]!))];
    const numeric = vals.every((v) => /^\d+$/.test(v));
    classNames = numeric ? vals.sort((a, b) => Number(a) - Number(b)) : vals.sort();
  } else classNames = [];
  const missing: string[] = [];
  const samples = rows.map((r, i): SampleRef => {
    const line = i + 2;
    const rel = o.pathCol ? r[o.pathCol]! : o.pathTemplate!.replace(/\{([^}]+)\}/g, (_, c: string) => r[c]!);
    if (!rel) throw new DataError(`${o.manifest}, line ${line}: empty path`);
    const path = resolve(root, rel);
    if (!existsSync(path)) missing.push(`line ${line}: ${path}`);
    let label = -1;
    if (o.labelCol) {
      const v = r[o.labelCol]!;
      label = classNames.indexOf(v);
      if (label < 0 && o.classes && /^\d+$/.test(v) && Number(v) < classNames.length) label = Number(v);
      if (label < 0) throw new DataError(`${o.manifest}, line ${line}: unknown label '${v}' in column ${o.labelCol} (classes: ${classNames.join(', ')}); fix the row or add the class to --classes`);
    }
    let split: Split | undefined;
    if (o.splitCol) {
      const v = r[o.splitCol]!.toLowerCase();
      split = SPLIT_NAMES[v];
      if (!split) throw new DataError(`${o.manifest}, line ${line}: split '${r[o.splitCol]}' in column ${o.splitCol} is not train, val or test`);
    }
    let mask: string | undefined;
    let maskValue: number | undefined;
    if (o.maskCol) {
      mask = resolve(root, r[o.maskCol]!);
      if (!existsSync(mask)) missing.push(`line ${line}: mask ${mask}`);
      const mv = o.maskValueCol ? r[o.maskValueCol]! : o.maskValue !== undefined ? String(o.maskValue) : '';
      maskValue = Number(mv);
      if (mv === '' || !Number.isInteger(maskValue)) throw new DataError(`${o.manifest}, line ${line}: mask label value '${mv}' is not an integer (give --mask-value-col C or --mask-value V)`);
    }
    const source = relative(resolve(root), path).split('\\').join('/') + (mask !== undefined ? `#${maskValue}` : '');
    return {
      path,
      source,
      label,
      line,
      ...(o.groupCol ? { group: r[o.groupCol]! } : {}),
      ...(split ? { split } : {}),
      ...(mask !== undefined ? { mask, maskValue: maskValue! } : {}),
    };
  });
  if (missing.length) throw new DataError(`${o.manifest}: ${missing.length} row(s) point to nothing: ${missing.slice(0, 3).join('; ')}${missing.length > 3 ? '; ...' : ''} (paths are relative to --root ${resolve(root)})`);
  return { samples, classNames };
}

/** 3D when every path is a NIfTI file or a (DICOM series) folder; 2D when none is; mixed is an error. */
export function dimensionOf(samples: readonly SampleRef[], where: string): 2 | 3 {
  const is3d = (p: string): boolean => /\.nii(\.gz)?$/i.test(p) || isDir(p);
  const n3 = samples.filter((s) => is3d(s.path)).length;
  if (n3 === 0) return 2;
  if (n3 === samples.length) return 3;
  throw new DataError(`${where}: mixes ${n3} volumes (NIfTI files or DICOM folders) with ${samples.length - n3} 2D images; import them separately`);
}
