/**
 * Training data from a dropped folder with one subfolder per class (PNG/JPEG), made the way
 * `stmedfm data import --images DIR` makes it: the import's own listing rules
 * (`classFolderSamples`), decoding and preprocessing (`decodeImage` + `apply2d` of a
 * `pipeline2d`), content hashes (SHA-1 of the file bytes) and the stratified 70/10/20 split with
 * the .npz layout (`encodeImport`). The result is parsed like a dropped .npz.
 */
import { type TaskData, DataError, NpzFile, datasetFromFileName, getDataset, taskDataOf } from '../../src/data/index.js';
import { apply2d, decodeImage, outputShape, pipeline2d } from '../../src/data/imaging/index.js';
import { type EncodedSample, encodeImport } from '../../src/data/import/encode.js';
import { classFolderSamples } from '../../src/data/import/sources.js';
import { PageError } from './model.js';

/** A dropped or picked file with its path inside the drop (`root/class/file.png`). */
export interface Dropped {
  file: File;
  path: string;
}

export interface FolderData {
  task: string;
  data: TaskData;
  /** What the user should know: the folder -> class mapping, classes without images. */
  notes: string[];
  counts: { train: number; val: number; test: number };
  /** The .npz `stmedfm data import` would write for this folder. */
  npz: Uint8Array;
}

async function sha1Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-1', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Folder names name the classes. They map onto the task's classes by name (case-insensitive) or
 * by class index (`0`, `1`, ...); otherwise, when the counts agree, in sorted order (as the
 * model card's imported PBC folders map onto BloodMNIST), and the page says so.
 */
export function mapFolderClasses(folders: readonly string[], labels: readonly string[], task: string): { index: number[]; notes: string[] } {
  const lower = labels.map((l) => l.toLowerCase());
  const byName = folders.map((f) => lower.indexOf(f.toLowerCase()));
  if (byName.every((i) => i >= 0)) return { index: byName, notes: [] };
  if (folders.every((f) => /^\d+$/.test(f) && Number(f) < labels.length)) return { index: folders.map(Number), notes: [] };
  if (folders.length === labels.length) {
    return { index: folders.map((_, i) => i), notes: [`folders are not named after ${task}'s classes; mapped in sorted order: ${folders.map((f, i) => `${f} -> ${labels[i]}`).join(', ')}`] };
  }
  throw new PageError(
    `${folders.length} class folders (${folders.join(', ')}) do not fit ${task}, which has ${labels.length} classes (${labels.join(', ')}); name the folders after its classes, or pick the task that fits`,
  );
}

export async function readClassFolders(files: readonly Dropped[], fallbackTask: string, seed = 0): Promise<FolderData> {
  const parts = files.map((f) => f.path.split('/').filter(Boolean));
  const root = parts[0]![0]!;
  if (parts.some((p) => p[0] !== root)) throw new PageError('drop one folder (with one subfolder per class) at a time');
  const task = datasetFromFileName(root) ?? fallbackTask;
  const info = getDataset(task);
  if (info.dim !== 2) throw new PageError(`${root}: class folders of images are for 2D tasks; ${task} is 3D (import volumes with \`stmedfm data import\` and drop the .npz)`);
  const byFolder = new Map<string, Map<string, File>>();
  let loose = 0;
  files.forEach((f, i) => {
    const p = parts[i]!;
    if (p.length === 2) loose++;
    // files deeper than root/class/file are not samples (the CLI reads only a class folder's files)
    if (p.length !== 3) return;
    if (!byFolder.has(p[1]!)) byFolder.set(p[1]!, new Map());
    byFolder.get(p[1]!)!.set(p[2]!, f.file);
  });
  let listed;
  try {
    listed = classFolderSamples(root, [...byFolder].map(([name, m]) => ({ name, files: [...m.keys()] })), loose);
  } catch (e) {
    throw new PageError((e as Error).message.replace(/^--images /, ''));
  }
  const { index, notes } = mapFolderClasses(listed.classNames, info.labels, task);
  notes.push(...listed.warnings);
  const pipeline = pipeline2d({ size: 28, channels: info.channels });
  const per = outputShape(pipeline);
  const perBytes = per.reduce((a, b) => a * b, 1);
  const pixels = new Uint8Array(listed.samples.length * perBytes);
  const samples: EncodedSample[] = [];
  const bad: string[] = [];
  for (const [k, s] of listed.samples.entries()) {
    const bytes = new Uint8Array(await byFolder.get(s.folder)!.get(s.file)!.arrayBuffer());
    try {
      pixels.set(apply2d(pipeline, decodeImage(bytes, `${root}/${s.source}`)), k * perBytes);
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      bad.push(e.message);
    }
    samples.push({ source: s.source, label: index[s.label]!, hash: await sha1Hex(bytes) });
  }
  if (bad.length) throw new PageError(`${bad.length} file(s) cannot be decoded: ${bad.slice(0, 3).join('; ')}${bad.length > 3 ? '; ...' : ''}; remove or fix them`);
  const missing = info.labels.filter((_, c) => !samples.some((s) => s.label === c));
  if (missing.length) notes.push(`no images for ${missing.length} of ${task}'s classes: ${missing.join(', ')}`);
  let enc;
  try {
    enc = encodeImport({ dim: 2, classNames: info.labels, pipeline, per, samples, pixels, seed });
    return { task, data: taskDataOf(task, NpzFile.parse(enc.bytes, `${root}.npz`), `${root}.npz`), notes, counts: enc.n, npz: enc.bytes };
  } catch (e) {
    throw new PageError(`${root}: ${(e as Error).message}`);
  }
}

interface Entry {
  isFile: boolean;
  isDirectory: boolean;
  fullPath: string;
  file?(ok: (f: File) => void, err: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (es: Entry[]) => void, err: (e: unknown) => void): void };
}

async function walk(entry: Entry, out: Dropped[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((ok, err) => entry.file!(ok, err));
    out.push({ file, path: entry.fullPath.replace(/^\//, '') });
  } else if (entry.isDirectory) {
    const reader = entry.createReader!();
    // readEntries returns the listing in chunks: call it until it returns none
    for (;;) {
      const chunk = await new Promise<Entry[]>((ok, err) => reader.readEntries(ok, err));
      if (!chunk.length) break;
      for (const e of chunk) await walk(e, out);
    }
  }
}

/** Files of a drop, walking dropped folders (webkitGetAsEntry); a plain file keeps its name as path. */
export async function droppedFiles(dt: DataTransfer): Promise<Dropped[]> {
  const entries = [...dt.items].map((it) => (it.kind === 'file' ? (it.webkitGetAsEntry() as unknown as Entry | null) : null));
  if (!entries.some((e) => e?.isDirectory)) return [...dt.files].map((file) => ({ file, path: file.name }));
  const out: Dropped[] = [];
  for (const e of entries) if (e) await walk(e, out);
  return out;
}

/** Files of an <input> (with `webkitdirectory`, each has its path relative to the picked folder). */
export function pickedFiles(files: FileList | null): Dropped[] {
  return [...(files ?? [])].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}
