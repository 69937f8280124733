/** `stmedfm data fetch|info|synth`. */
import type { Command } from 'commander';
import { fetchDataset, formatDataSummary, summarizeDataFile, writeSynth } from '../../data/index.js';
import { action, int, num, printJson } from '../common.js';

export function registerData(program: Command): void {
  const data = program.command('data').description('MedMNIST data: download, inspect, synthesise');

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
    .description('splits, shapes, class counts and label names of a .npz file')
    .argument('<file>', 'a MedMNIST-layout .npz file')
    .option('--task <name>', 'registry task (default: guessed from the file name)')
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (file: string, o: { task?: string; json?: boolean }) => {
        const s = summarizeDataFile(file, o.task);
        if (o.json) printJson(s);
        else process.stdout.write(`${formatDataSummary(s)}\n`);
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
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (o: { task: string; out: string; train?: number; val?: number; test?: number; noise?: number; imbalance?: number; seed: number; json?: boolean }) => {
        const sizes = { ...(o.train ? { train: o.train } : {}), ...(o.val ? { val: o.val } : {}), ...(o.test ? { test: o.test } : {}) };
        const r = writeSynth(o.out, o.task, { sizes, seed: o.seed, ...(o.noise !== undefined ? { noise: o.noise } : {}), ...(o.imbalance !== undefined ? { imbalance: o.imbalance } : {}) });
        if (o.json) printJson({ out: o.out, task: r.info.name, sizes: r.sizes });
        else process.stderr.write(`wrote ${o.out}: synthetic ${r.info.name}, train/val/test ${r.sizes.train}/${r.sizes.val}/${r.sizes.test}\n`);
      }),
    );
}
