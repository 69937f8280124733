/**
 * A/B timing of training-step (and inference) variants in one process: every variant's session
 * is built first, then the variants run in alternating rounds so machine load hits all alike.
 * Variants are engine switches applied while the graph is built and serialised.
 *
 * With `--threads 1,2` every variant runs at each thread count (all sessions in one process, in
 * alternating rounds); ratios are against the first variant at the same thread count.
 *
 *   npx tsx bench/ab.ts --part train2d|train3d|train2dDP|train3dDP|infer2d|infer3d|infer2dStatic|infer3dStatic --variants base,noChunk [--threads 1,2] [--rounds 8] [--steps 3] [--profile]
 */
import { BENCH_HEADS as HEADS, median, randomData, timeInterleaved, trainStepRunner } from '../src/bench/bench.js';
import '../src/engine/runtime/node.js';
import { ForwardSession } from '../src/engine/runtime/session.js';
import { floatTensor } from '../src/engine/runtime/tensors.js';
import { STMEDFM_TINY } from '../src/model/config.js';
import { ParamStore } from '../src/model/params.js';
import { STMedFM } from '../src/model/stmedfm.js';
import { buildForwardGraph } from '../src/training/graphs.js';
import { VARIANTS } from './ab_variants.js';


type Runner = { run: () => Promise<unknown>; release: () => Promise<void> };

function trainRunner(task: string, batch: number, threads: number, profile?: string, replicas = 1): Promise<Runner> {
  return trainStepRunner(task, batch, { threads, replicas, ...(profile ? { profilePrefix: profile } : {}) });
}

async function inferRunner(task: string, batch: number, threads: number, profile?: string, staticBatch = false): Promise<Runner> {
  const model = new STMedFM(STMEDFM_TINY, HEADS);
  const store = ParamStore.init(model.specs(), 0);
  // A static batch lets the forward pass be chunked (as training graphs are); Predictor's graph has a symbolic one.
  const { graph } = staticBatch ? buildForwardGraph(model, store, task, batch) : buildForwardGraph(model, store, task);
  const session = await ForwardSession.create(graph, { threads, ...(profile ? { profilePrefix: profile } : {}) });
  const shape = [batch, ...(graph.findInput('x')!.shape.slice(1) as number[])];
  const x = floatTensor(randomData(shape.reduce((a, b) => a * b, 1), 2), shape);
  return {
    run: () => session.run({ x }),
    release: async () => {
      if (profile) session.endProfiling();
      await session.release();
    },
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = args.indexOf(`--${k}`);
    return i >= 0 ? args[i + 1]! : d;
  };
  const part = opt('part', 'train2d');
  const names = opt('variants', 'base').split(',');
  const rounds = Number(opt('rounds', '8'));
  const steps = Number(opt('steps', '3'));
  const threadCounts = opt('threads', '1').split(',').map(Number);
  const profile = args.includes('--profile');
  const make = {
    train2d: (t: number, p?: string) => trainRunner('pathmnist', 64, t, p),
    train3d: (t: number, p?: string) => trainRunner('organmnist3d', 16, t, p),
    // Data-parallel steps: `--threads N` is the number of replicas (one intra-op thread each).
    train2dDP: (t: number, p?: string) => trainRunner('pathmnist', 64, 1, p, t),
    train3dDP: (t: number, p?: string) => trainRunner('organmnist3d', 16, 1, p, t),
    infer2d: (t: number, p?: string) => inferRunner('pathmnist', 256, t, p),
    infer3d: (t: number, p?: string) => inferRunner('organmnist3d', 32, t, p),
    infer2dStatic: (t: number, p?: string) => inferRunner('pathmnist', 256, t, p, true),
    infer3dStatic: (t: number, p?: string) => inferRunner('organmnist3d', 32, t, p, true),
  }[part];
  if (!make) throw new Error(`unknown part ${part}`);
  const runners: Runner[] = [];
  const labels: string[] = [];
  /** Index of the runner each one is compared with: the first variant at the same thread count. */
  const baseOf: number[] = [];
  for (const t of threadCounts) {
    const first = runners.length;
    for (const n of names) {
      const v = VARIANTS[n];
      if (!v) throw new Error(`unknown variant ${n}; have ${Object.keys(VARIANTS).join(', ')}`);
      const restore = v();
      try {
        runners.push(await make(t, profile ? `/tmp/prof/ab-${part}-${n}-t${t}` : undefined));
      } finally {
        restore();
      }
      labels.push(threadCounts.length > 1 ? `${n}@${t}` : n);
      baseOf.push(first);
    }
  }
  const times = await timeInterleaved(runners.map((r) => r.run), { warmup: 2, rounds, steps });
  const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.floor(f * (xs.length - 1))]!;
  for (let k = 0; k < runners.length; k++) {
    const base = median(times[baseOf[k]!]!);
    const baseQ = q(times[baseOf[k]!]!, 0.25);
    const m = median(times[k]!);
    const lo = q(times[k]!, 0.25);
    console.log(
      `${part} ${labels[k]!.padEnd(24)} median ${m.toFixed(2).padStart(8)} ms (${(m / base).toFixed(3)})  q25 ${lo.toFixed(2).padStart(8)} (${(lo / baseQ).toFixed(3)})  min ${Math.min(...times[k]!).toFixed(2).padStart(8)}`,
    );
  }
  for (const r of runners) await r.release();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
