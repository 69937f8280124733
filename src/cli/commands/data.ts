/** `stmedfm data fetch|info|synth`. */
import type { Command } from 'commander';
import { fetchDataset, formatDataSummary, summarizeDataFile, writeSynth } from '../../data/index.js';
import cliProgress from 'cli-progress';
import { formatImportSummary, importDataset, type ImportOptions } from '../../data/import/index.js';
import { UserError } from '../../training/errors.js';
import { action, int, list, num, printJson } from '../common.js';

export function registerData(program: Command): void {
  const data = program.command('data').description('MedMNIST data: download, inspect, synthesise, import your own');
  registerDataImport(data);

  data
    .command('fetch')
    .description('download official MedMNIST .npz files (MD5-verified, resumable) into the cache folder')
    .argument('<names...>', 'dataset names, e.g. pathmnist organmnist3d')
    .option('--cache <dir>', 'cache folder (default $STMEDFM_CACHE or ~/.cache/stmedfm)')
    .option('--base-url <url>', 'mirror to download <url>/<name>.npz from (default $STMEDFM_DATA_URL or the official host)')
    .option('--force', 'download again even if a verified copy is cached')
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (names: string[], o: { cache?: string; baseUrl?: string; force?: boolean; json?: boolean }) => {
        const results = [];
        for (const name of names) {
          let last = 0;
          const r = await fetchDataset(name, {
            ...(o.cache ? { cacheDir: o.cache } : {}),
            ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
            force: !!o.force,
            onProgress: (got, total) => {
              if (!process.stderr.isTTY || got - last < 1 << 20) return;
              last = got;
              process.stderr.write(`\r${name}: ${(got / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`);
            },
          });
          if (process.stderr.isTTY) process.stderr.write('\n');
          results.push(r);
          if (!o.json) process.stderr.write(`${r.name}: ${r.status} ${r.file} (${(r.bytes / 1e6).toFixed(1)} MB, md5 ${r.verified ? 'verified' : 'not checked'})${r.note ? `; ${r.note}` : ''}\n`);
        }
        if (o.json) printJson(results);
      }),
    );

  data
    .command('info')
    .description('splits, shapes, class counts and label names of a .npz file (exit 2 if it lists problems)')
    .argument('<file>', 'a MedMNIST-layout .npz file')
    .option('--task <name>', 'registry task (default: guessed from the file name)')
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (file: string, o: { task?: string; json?: boolean }) => {
        const s = summarizeDataFile(file, o.task);
        if (o.json) printJson(s);
        else process.stdout.write(`${formatDataSummary(s)}\n`);
        // Scripts can gate on `data info`: a file with problems is bad input (exit 2), like every other refusal.
        if (s.problems.length) process.exitCode = 2;
      }),
    );

  data
    .command('synth')
    .description('write a small synthetic dataset in the official layout, with learnable class structure')
    .requiredOption('--task <name>', 'registry task whose layout to use, e.g. pathmnist, organmnist3d')
    .requiredOption('--out <file.npz>', 'file to write')
    .option('--train <n>', 'train samples', int('--train', 1))
    .option('--val <n>', 'val samples', int('--val', 1))
    .option('--test <n>', 'test samples', int('--test', 1))
    .option('--noise <x>', 'pixel noise std (0..255 units)', num('--noise'))
    .option('--imbalance <x>', 'ratio of the most to the least frequent class', num('--imbalance'))
    .option('--seed <n>', 'seed', int('--seed'), 0)
    .option('--size <px>', '2D image side: 28 (MedMNIST) or 64, 128, 224 (MedMNIST+); volumes are 28^3', int('--size', 1), 28)
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (o: { task: string; out: string; train?: number; val?: number; test?: number; noise?: number; imbalance?: number; seed: number; size: number; json?: boolean }) => {
        const sizes = { ...(o.train ? { train: o.train } : {}), ...(o.val ? { val: o.val } : {}), ...(o.test ? { test: o.test } : {}) };
        const r = writeSynth(o.out, o.task, { sizes, seed: o.seed, size: o.size, ...(o.noise !== undefined ? { noise: o.noise } : {}), ...(o.imbalance !== undefined ? { imbalance: o.imbalance } : {}) });
        if (o.json) printJson({ out: o.out, task: r.info.name, sizes: r.sizes, image_size: o.size });
        else process.stderr.write(`wrote ${o.out}: synthetic ${r.info.name}${o.size !== 28 ? ` at ${o.size} px` : ''}, train/val/test ${r.sizes.train}/${r.sizes.val}/${r.sizes.test}\n`);
      }),
    );
}

export function registerDataImport(data: Command): void {
  data
    .command('import')
    .description('turn class folders or a CSV manifest (PNG/JPEG, NIfTI, DICOM series) into a MedMNIST-layout .npz with class names, sources and the preprocessing')
    .option('--images <dir>', '2D: a folder with one subfolder of PNG/JPEG images per class')
    .option('--manifest <file.csv>', 'a CSV with one row per sample (2D images, NIfTI files or DICOM series folders)')
    .option('--root <dir>', 'folder the manifest paths are relative to (default: the current folder)')
    .option('--path-col <c>', 'manifest column with the file path')
    .option('--path-template <t>', "path built from columns, e.g. 'images/{image_id}.jpg'")
    .option('--label-col <c>', 'manifest column with the class name (or index, with --classes)')
    .option('--classes <a,b,...>', 'class names in label order (default: sorted names)', list)
    .option('--group-col <c>', 'patient/lesion id column: a group never spans two splits')
    .option('--split-col <c>', 'column with train/val/test (default: stratified 70/10/20 by --seed)')
    .option('--mask-col <c>', '3D: column with a label-map file; the volume is cropped to one label\'s bounding box')
    .option('--mask-value-col <c>', '3D: column with the label value to crop to')
    .option('--mask-value <v>', '3D: one label value for every row', int('--mask-value'))
    .option('--window <lo,hi>', '3D: intensity window in HU, e.g. -500,500, or "none" for per-volume min-max (MR)')
    .option('--stretch', '3D: after the window, stretch each volume to its own min..max')
    .option('--axes <codes>', '3D: target axis codes (default LPS, the OrganMNIST3D convention; see docs/data-import.md)')
    .option('--size <n>', 'output side: 28 (MedMNIST) or 64 (MedMNIST+); models train at the size of their data', int('--size', 1), 28)
    .option('--fit <mode>', '2D: stretch (whole frame), crop (central square) or pad (to a square)')
    .option('--center-crop <n>', '2D: crop the central n x n pixels first (BloodMNIST: 200)', int('--center-crop', 1))
    .option('--channels <n>', '2D: 1 (grayscale) or 3 (RGB); default: as the first image', int('--channels', 1))
    .option('--seed <s>', 'split seed', int('--seed'), 0)
    .option('--skip-bad', 'skip undecodable files with a warning instead of failing')
    .requiredOption('--out <file.npz>', 'file to write')
    .option('--json', 'print the summary as JSON on stdout')
    .action(
      action(async (o: Record<string, unknown> & { out: string; size: number; seed: number; json?: boolean; stretch?: boolean }) => {
        const fit = o.fit as string | undefined;
        if (fit !== undefined && !['stretch', 'crop', 'pad'].includes(fit)) throw new UserError(`--fit ${fit}: use stretch, crop or pad`);
        const ch = o.channels as number | undefined;
        if (ch !== undefined && ch !== 1 && ch !== 3) throw new UserError(`--channels ${ch}: use 1 or 3`);
        let window: [number, number] | null | undefined;
        if (typeof o.window === 'string') {
          if (o.window === 'none') window = null;
          else {
            const w = o.window.split(',').map(Number);
            if (w.length !== 2 || w.some((v) => !Number.isFinite(v)) || w[0]! >= w[1]!) throw new UserError(`--window ${o.window}: give LO,HI with LO < HI (e.g. -500,500) or none`);
            window = [w[0]!, w[1]!];
          }
        }
        const bar = process.stderr.isTTY && !o.json ? new cliProgress.SingleBar({ format: 'import [{bar}] {value}/{total} files | {rate} files/s | ETA {eta_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
        const t0 = performance.now();
        let started = false;
        const warnings: string[] = [];
        let s;
        try {
          s = await importDataset({
            ...(o as object),
            ...(window !== undefined ? { window } : { window: undefined }),
            ...(o.stretch ? { stretch: true } : {}),
            ...(fit ? { fit: fit as 'stretch' | 'crop' | 'pad' } : {}),
            ...(ch ? { channels: ch as 1 | 3 } : {}),
            out: o.out,
            onWarning: (m) => (bar ? warnings.push(m) : process.stderr.write(`stmedfm: warning: ${m}\n`)),
            onProgress: (done, total) => {
              if (!bar) return;
              if (!started) {
                bar.start(total, 0, { rate: '-' });
                started = true;
              }
              bar.update(done, { rate: (done / ((performance.now() - t0) / 1000)).toFixed(1) });
            },
          } as ImportOptions);
        } finally {
          if (started) bar?.stop();
          for (const m of warnings) process.stderr.write(`stmedfm: warning: ${m}\n`);
        }
        if (o.json) printJson(s);
        else process.stderr.write(`${formatImportSummary(s)}\n(${s.seconds.toFixed(1)} s, ${((s.n.train + s.n.val + s.n.test) / s.seconds).toFixed(1)} samples/s)\n`);
      }),
    );
}
