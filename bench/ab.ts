/**
 * A/B timing of training-step (and inference) variants in one process: every variant's session
 * is built first, then the variants run in alternating rounds so machine load hits all alike.
 * Variants are engine switches applied while the graph is built and serialised.
 *
 *   npx tsx bench/ab.ts --part train2d|train3d|infer2d|infer3d|infer2dStatic|infer3dStatic --variants base,noChunk [--rounds 8] [--steps 3] [--profile]
 */
import { BENCH_HEADS as HEADS, median, randomData, trainStepRunner } from '../src/bench/bench.js';
import '../src/engine/runtime/node.js';
import { ForwardSession } from '../src/engine/runtime/session.js';
import { floatTensor } from '../src/engine/runtime/tensors.js';
import { STMEDFM_TINY } from '../src/model/config.js';
import { ParamStore } from '../src/model/params.js';
import { STMedFM } from '../src/model/stmedfm.js';
import { buildForwardGraph } from '../src/training/graphs.js';
import { VARIANTS } from './ab_variants.js';


type Runner = { run: () => Promise<unknown>; release: () => Promise<void> };

function trainRunner(task: string, batch: number, profile?: string): Promise<Runner> {
  return trainStepRunner(task, batch, { threads: 1, ...(profile ? { profilePrefix: profile } : {}) });
}

async function inferRunner(task: string, batch: number, profile?: string, staticBatch = false): Promise<Runner> {
  const model = new STMedFM(STMEDFM_TINY, HEADS);
  const store = ParamStore.init(model.specs(), 0);
  // A static batch lets the forward pass be chunked (as training graphs are); Predictor's graph has a symbolic one.
  const { graph } = staticBatch ? buildForwardGraph(model, store, task, batch) : buildForwardGraph(model, store, task);
  const session = await ForwardSession.create(graph, { threads: 1, ...(profile ? { profilePrefix: profile } : {}) });
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
  const profile = args.includes('--profile');
  const make = {
    train2d: (p?: string) => trainRunner('pathmnist', 64, p),
    train3d: (p?: string) => trainRunner('organmnist3d', 16, p),
    infer2d: (p?: string) => inferRunner('pathmnist', 256, p),
    infer3d: (p?: string) => inferRunner('organmnist3d', 32, p),
    infer2dStatic: (p?: string) => inferRunner('pathmnist', 256, p, true),
    infer3dStatic: (p?: string) => inferRunner('organmnist3d', 32, p, true),
  }[part];
  if (!make) throw new Error(`unknown part ${part}`);
  const runners: Runner[] = [];
  for (const n of names) {
    const v = VARIANTS[n];
    if (!v) throw new Error(`unknown variant ${n}; have ${Object.keys(VARIANTS).join(', ')}`);
    const restore = v();
    try {
      runners.push(await make(profile ? `/tmp/prof/ab-${part}-${n}` : undefined));
    } finally {
      restore();
    }
  }
  const times: number[][] = names.map(() => []);
  for (const r of runners) for (let i = 0; i < 2; i++) await r.run();
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < runners.length; k++) {
      for (let s = 0; s < steps; s++) {
        const t0 = performance.now();
        await runners[k]!.run();
        times[k]!.push(performance.now() - t0);
      }
    }
  }
  const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.floor(f * (xs.length - 1))]!;
  const base = median(times[0]!);
  const baseQ = q(times[0]!, 0.25);
  for (let k = 0; k < names.length; k++) {
    const m = median(times[k]!);
    const lo = q(times[k]!, 0.25);
    console.log(
      `${part} ${names[k]!.padEnd(24)} median ${m.toFixed(2).padStart(8)} ms (${(m / base).toFixed(3)})  q25 ${lo.toFixed(2).padStart(8)} (${(lo / baseQ).toFixed(3)})  min ${Math.min(...times[k]!).toFixed(2).padStart(8)}`,
    );
  }
  for (const r of runners) await r.release();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
