/**
 * `stmedfm bench`: STMedFM step and inference medians at each thread count (default 1 up to all
 * cores), with a PyTorch eager baseline measured in the same call: ratios at equal threads, best
 * against best (each side at its fastest count) and the scaling from 1 thread to more.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { benchStmedfm, torchBaseline, type BenchResult } from '../../bench/bench.js';
import { type BenchMetric, type BenchRun, compareBench, defaultBenchThreads } from '../../bench/compare.js';
import { action, checkThreads, defaultThreads, int, packageRoot, printJson } from '../common.js';

function threadList(v: string): number[] {
  const ts = v.split(',').map((s) => Number(s.trim()));
  if (!ts.length || ts.some((t) => !Number.isInteger(t) || t < 1)) throw new InvalidArgumentError('--threads takes positive integers separated by commas, e.g. 1,2');
  return [...new Set(ts)].sort((a, b) => a - b);
}

const LABELS: Record<BenchMetric, string> = { train_2d: 'train 2D', train_3d: 'train 3D', infer_2d: 'inference 2D', infer_3d: 'inference 3D' };
const x = (v: number) => `${v.toFixed(2)}x`;
const plural = (t: number) => `${t} thread${t === 1 ? '' : 's'}`;
const fmt = (m: BenchMetric, v: number) => (m.startsWith('train') ? `${v.toFixed(1)} ms` : m === 'infer_2d' ? `${v.toFixed(0)} images/s` : `${v.toFixed(1)} volumes/s`);
const line = (r: BenchResult) => `2D step ${r.train_step_ms['2d'].toFixed(1)} ms, 3D step ${r.train_step_ms['3d'].toFixed(1)} ms, inference ${r.infer_per_s['2d'].toFixed(0)} images/s, ${r.infer_per_s['3d'].toFixed(1)} volumes/s`;
const ratios = (s: Record<BenchMetric, number>) => (Object.keys(LABELS) as BenchMetric[]).map((m) => `${LABELS[m]} ${x(s[m])}`).join(', ');

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('median training-step time (2D batch 64, 3D batch 16) and inference throughput at each thread count, with a PyTorch eager baseline when python3-torch is installed: equal-thread ratios, best against best, and 1-to-N-thread scaling')
    .option('--threads <n,...>', `thread counts for ONNX Runtime and PyTorch (default: 1 up to all cores, ${defaultBenchThreads(defaultThreads()).join(',')} here)`, threadList)
    .option('--warmup <n>', 'discarded warmup runs', int('--warmup'), 3)
    .option('--repeats <n>', 'timed runs (the median is reported)', int('--repeats', 1), 10)
    .option('--no-torch', 'skip the PyTorch baseline')
    .option('--profile <prefix>', 'write ONNX Runtime profiles (JSON traces) of the training steps with this prefix (+ -t<threads>)')
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (o: { threads?: number[]; warmup: number; repeats: number; torch: boolean; profile?: string; json?: boolean }) => {
        const log = (l: string) => o.json || process.stderr.write(`${l}\n`);
        const counts = o.threads ?? defaultBenchThreads(defaultThreads());
        checkThreads(Math.max(...counts));
        const runs: BenchRun[] = [];
        let torchError: string | undefined;
        // Both sides at one count, then the next: drift of a shared machine hits both alike.
        for (const threads of counts) {
          const opts = { threads, warmup: o.warmup, repeats: o.repeats, log, ...(o.profile ? { profile: `${o.profile}-t${threads}` } : {}) };
          log(`stmedfm (onnxruntime-node, ${plural(threads)}):`);
          const stmedfm = await benchStmedfm(opts);
          let torch: BenchResult | undefined;
          if (o.torch && !torchError) {
            log(`pytorch eager baseline (same model, ${plural(threads)})...`);
            const t = torchBaseline(packageRoot(), opts);
            if ('error' in t) torchError = t.error;
            else {
              torch = t;
              log(`pytorch: ${line(t)}`);
            }
          }
          runs.push({ threads, stmedfm, ...(torch ? { torch } : {}) });
        }
        if (torchError) for (const r of runs) delete r.torch;
        const cmp = compareBench(runs);
        if (o.json) {
          printJson({ ...cmp, runs, ...(torchError ? { torch_error: torchError } : {}) });
          return;
        }
        if (torchError) log(`pytorch baseline skipped: ${torchError}`);
        log('');
        for (const e of cmp.equal_threads) log(`speed-up over pytorch eager at ${plural(e.threads)}: ${ratios(e.speedup)}`);
        if (cmp.best.torch && cmp.best.speedup) {
          log('best against best (each side at its fastest thread count here):');
          for (const m of Object.keys(LABELS) as BenchMetric[]) {
            const a = cmp.best.stmedfm[m];
            const b = cmp.best.torch[m];
            log(`  ${LABELS[m].padEnd(13)} stmedfm ${fmt(m, a.value)} (${a.data_parallel ? `data-parallel, ${a.threads} replicas x 1 thread` : plural(a.threads)}), pytorch ${fmt(m, b.value)} (${plural(b.threads)}): ${x(cmp.best.speedup[m])}`);
          }
        }
        for (const s of cmp.scaling) {
          log(`scaling from ${plural(s.from)} to ${s.to}: stmedfm ${ratios(s.stmedfm)}${s.torch ? `; pytorch ${ratios(s.torch)}` : ''}`);
          const dp = s.stmedfm_data_parallel;
          if (dp) log(`  data-parallel (${s.to} replicas x 1 thread) over 1 session at ${plural(s.from)}: train 2D ${x(dp.train_2d)}, train 3D ${x(dp.train_3d)}`);
        }
      }),
    );
}
