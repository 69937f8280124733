/**
 * The training step three ways, interleaved in one process so machine load hits all alike: one
 * session at 1 intra-op thread, one at 2, and data-parallel (2 replicas of 1 thread each).
 *
 *   npx tsx bench/dp_step.ts [--part train2d|train3d] [--rounds 8] [--steps 3]
 */
import { median, timeInterleaved, trainStepRunner } from '../src/bench/bench.js';
import '../src/engine/runtime/node.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (k: string, d: string) => (args.includes(`--${k}`) ? args[args.indexOf(`--${k}`) + 1]! : d);
  const part = opt('part', 'train2d');
  const rounds = Number(opt('rounds', '8'));
  const steps = Number(opt('steps', '3'));
  const [task, batch] = part === 'train3d' ? ['organmnist3d', 16] : ['pathmnist', 64];
  const variants = [
    { label: '1 thread', threads: 1, replicas: 1 },
    { label: '2 threads', threads: 2, replicas: 1 },
    { label: 'data-parallel 2x1', threads: 1, replicas: 2 },
  ];
  const runners = [];
  for (const v of variants) runners.push(await trainStepRunner(task as string, batch as number, v));
  const times = await timeInterleaved(runners.map((r) => r.run), { warmup: 3, rounds, steps });
  const base = median(times[0]!);
  variants.forEach((v, k) => {
    const m = median(times[k]!);
    console.log(`${part} ${v.label.padEnd(20)} median ${m.toFixed(2).padStart(8)} ms  (${(base / m).toFixed(3)}x vs 1 thread)  min ${Math.min(...times[k]!).toFixed(2)}`);
  });
  for (const r of runners) await r.release();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
