/** `stmedfm bench`: STMedFM step and inference medians, and the ratio to PyTorch eager measured in the same call. */
import type { Command } from 'commander';
import { type BenchResult, benchStmedfm, torchBaseline } from '../../bench/bench.js';
import { action, int, packageRoot, printJson } from '../common.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('median training-step time (2D batch 64, 3D batch 16) and inference throughput, with a PyTorch eager baseline when python3-torch is installed')
    .option('--threads <n>', 'threads for ONNX Runtime and for PyTorch', int('--threads', 1), 1)
    .option('--warmup <n>', 'discarded warmup runs', int('--warmup'), 3)
    .option('--repeats <n>', 'timed runs (the median is reported)', int('--repeats', 1), 10)
    .option('--no-torch', 'skip the PyTorch baseline')
    .option('--profile <prefix>', 'write ONNX Runtime profiles (JSON traces) of the training steps with this prefix')
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (o: { threads: number; warmup: number; repeats: number; torch: boolean; profile?: string; json?: boolean }) => {
        const log = (l: string) => o.json || process.stderr.write(`${l}\n`);
        const opts = { threads: o.threads, warmup: o.warmup, repeats: o.repeats, log, ...(o.profile ? { profile: o.profile } : {}) };
        log(`stmedfm (onnxruntime-node, ${o.threads} thread${o.threads > 1 ? 's' : ''}):`);
        const ours = await benchStmedfm(opts);
        let torch: BenchResult | { error: string } | undefined;
        if (o.torch) {
          log('pytorch eager baseline (same model, same threads)...');
          torch = torchBaseline(packageRoot(), opts);
        }
        const ratios =
          torch && !('error' in torch)
            ? {
                train_2d: torch.train_step_ms['2d'] / ours.train_step_ms['2d'],
                train_3d: torch.train_step_ms['3d'] / ours.train_step_ms['3d'],
                infer_2d: ours.infer_per_s['2d'] / torch.infer_per_s['2d'],
                infer_3d: ours.infer_per_s['3d'] / torch.infer_per_s['3d'],
              }
            : undefined;
        if (o.json) {
          printJson({ ...ours, ...(torch ? { torch } : {}), ...(ratios ? { speedup_vs_torch: ratios } : {}) });
          return;
        }
        if (torch && 'error' in torch) log(`pytorch baseline skipped: ${torch.error}`);
        else if (torch && ratios) {
          const f = (x: number) => `${x.toFixed(2)}x`;
          log(`pytorch: 2D step ${torch.train_step_ms['2d'].toFixed(1)} ms, 3D step ${torch.train_step_ms['3d'].toFixed(1)} ms, inference ${torch.infer_per_s['2d'].toFixed(0)} images/s, ${torch.infer_per_s['3d'].toFixed(1)} volumes/s`);
          log(`speed-up over pytorch eager: train 2D ${f(ratios.train_2d)}, train 3D ${f(ratios.train_3d)}, inference 2D ${f(ratios.infer_2d)}, inference 3D ${f(ratios.infer_3d)}`);
        }
      }),
    );
}
