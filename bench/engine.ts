/**
 * `npm run bench:engine`: the engine on a network of STMedFM's size, 2D batch 64: medians of a
 * whole training step (forward, backward, AdamW: one ONNX Runtime run) and of the forward pass,
 * with PyTorch eager's medians and the ratios when python3 has torch. The same measurements as
 * `stmedfm bench` (src/bench/bench.ts), restricted to 2-D.
 *
 *   npm run bench:engine [-- --threads 1 --warmup 3 --repeats 10]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchStmedfm, torchBaseline } from '../src/bench/bench.js';
import '../src/engine/runtime/node.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const num = (k: string, d: number) => {
    const i = args.indexOf(`--${k}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const o = { threads: num('threads', 1), warmup: num('warmup', 3), repeats: num('repeats', 10), parts: ['train2d', 'infer2d'] as ('train2d' | 'infer2d')[] };
  const ours = await benchStmedfm({ ...o, log: (l) => console.log(l) });
  const torch = torchBaseline(join(dirname(fileURLToPath(import.meta.url)), '..'), o);
  if ('error' in torch) {
    console.log(`pytorch baseline skipped: ${torch.error}`);
    return;
  }
  const train = torch.train_step_ms['2d'] / ours.train_step_ms['2d'];
  const infer = ours.infer_per_s['2d'] / torch.infer_per_s['2d'];
  console.log(`pytorch eager: 2D step ${torch.train_step_ms['2d'].toFixed(1)} ms, inference ${torch.infer_per_s['2d'].toFixed(0)} images/s`);
  console.log(`speed-up over pytorch eager (${o.threads} thread${o.threads > 1 ? 's' : ''}): training step ${train.toFixed(2)}x, inference ${infer.toFixed(2)}x`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
