/**
 * Setup time of the protocol's runs: building each run's training graph (forward, backward,
 * AdamW) and creating its ONNX Runtime session. Runs the demo protocol's 21 runs (1 pretraining
 * + 4 tasks x 5 methods, one seed) for 1 step each at 1 thread, in this one process, four times:
 *
 *   off        STMEDFM_GRAPH_CACHE=0: every run compiles its graph (before the graph cache)
 *   cold       an empty graph cache, in-process reuse on (reproduce --jobs 1, first time)
 *   warm       the same cache again (reproduce --jobs 1, any later time, or another seed)
 *   warm-disk  the warm cache, but no idle session kept between runs (each run in its own
 *              process: reproduce --jobs N workers, SLURM array tasks)
 *
 * and prints each run's setup seconds and where its session came from, and the totals.
 *
 *   npx tsx bench/setup_time.ts [--threads 1]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import '../src/engine/runtime/node.js';
import { loadTask } from '../src/data/index.js';
import { releaseIdleSessions } from '../src/engine/runtime/session.js';
import { DEFAULT_PROTOCOL } from '../src/experiments/protocol.js';
import { METHODS } from '../src/model/stmedfm.js';
import { type TrainedModel, finetune, pretrain } from '../src/training/workflows.js';

const at = process.argv.indexOf('--threads');
const threads = at >= 0 ? Number(process.argv[at + 1]) : 1;
const data = { dataDir: join(import.meta.dirname, '..', 'data', 'demo') };
const tasks = DEFAULT_PROTOCOL.tasks;
const loaded = new Map(tasks.map((t) => [t, loadTask(t, data)]));
const cacheDir = mkdtempSync(join(tmpdir(), 'stmedfm-setup-bench-'));
process.env.STMEDFM_CACHE_DIR = cacheDir;

type Mode = 'off' | 'cold' | 'warm' | 'warm-disk';
interface Row {
  run: string;
  graph: number;
  session: number;
  origin: string;
}

async function protocol(mode: Mode): Promise<Row[]> {
  if (mode === 'off') process.env.STMEDFM_GRAPH_CACHE = '0';
  else delete process.env.STMEDFM_GRAPH_CACHE;
  await releaseIdleSessions();
  const rows: Row[] = [];
  const note = (run: string, t: TrainedModel) => {
    const x = t.result.setupSeconds;
    rows.push({ run, graph: x.graph, session: x.session, origin: x.origin });
  };
  const pre = await pretrain({ tasks, data, loaded, steps: 1, threads });
  note('pretrain', pre);
  for (const task of tasks) {
    for (const method of METHODS) {
      if (mode === 'warm-disk') await releaseIdleSessions();
      const t = await finetune({ task, method, data, loaded, steps: 1, threads, ...(method.startsWith('scratch') ? {} : { from: pre }) });
      note(`${task} ${method}`, t);
    }
  }
  return rows;
}

const fmt = (s: number) => s.toFixed(2).padStart(6);
const results = new Map<Mode, Row[]>();
console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const mode of ['off', 'cold', 'warm', 'warm-disk'] as const) results.set(mode, await protocol(mode));
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const modes = [...results.keys()];
console.log(`\nsetup seconds (graph build + session), ${threads} thread(s); origin in brackets`);
console.log(['run'.padEnd(30), ...modes.map((m) => m.padStart(26))].join(''));
const first = results.get('off')!;
first.forEach((r, i) => {
  console.log([r.run.padEnd(30), ...modes.map((m) => { const x = results.get(m)![i]!; return `${fmt(x.graph + x.session)} [${x.origin}]`.padStart(26); })].join(''));
});
const total = (rows: Row[], f: (r: Row) => boolean = () => true) => rows.filter(f).reduce((s, r) => s + r.graph + r.session, 0);
console.log(['total, 21 runs'.padEnd(30), ...modes.map((m) => fmt(total(results.get(m)!)).padStart(26))].join(''));
console.log(['  of which fine-tuning (20)'.padEnd(30), ...modes.map((m) => fmt(total(results.get(m)!, (r) => r.run !== 'pretrain')).padStart(26))].join(''));
console.log(['  of which graph building'.padEnd(30), ...modes.map((m) => fmt(results.get(m)!.reduce((s, r) => s + r.graph, 0)).padStart(26))].join(''));
const off = total(first);
for (const m of modes.slice(1)) console.log(`saved per protocol seed, ${m}: ${(off - total(results.get(m)!)).toFixed(1)} s of ${off.toFixed(1)} s`);
await releaseIdleSessions();
rmSync(cacheDir, { recursive: true, force: true });
