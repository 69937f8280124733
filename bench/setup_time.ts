/**
 * Setup time of the protocol's runs: building each run's training graph (forward, backward,
 * AdamW) and creating its ONNX Runtime session, against its training steps. Runs the demo
 * protocol's 21 runs (1 pretraining + 4 tasks x 5 methods) for 1 step each at 1 thread and
 * prints each run's setup seconds, so the saving of compiling each graph shape once can be sized.
 *
 *   npx tsx bench/setup_time.ts [--threads 1]
 */
import { join } from 'node:path';
import '../src/engine/runtime/node.js';
import { loadTask } from '../src/data/index.js';
import { DEFAULT_PROTOCOL } from '../src/experiments/protocol.js';
import { METHODS } from '../src/model/stmedfm.js';
import { finetune, pretrain } from '../src/training/workflows.js';

const at = process.argv.indexOf('--threads');
const threads = at >= 0 ? Number(process.argv[at + 1]) : 1;
const data = { dataDir: join(import.meta.dirname, '..', 'data', 'demo') };
const tasks = DEFAULT_PROTOCOL.tasks;
const loaded = new Map(tasks.map((t) => [t, loadTask(t, data)]));
const pre = await pretrain({ tasks, data, loaded, steps: 1, threads });
const show = (x: { graph: number; session: number }) => `${(x.graph + x.session).toFixed(2)} s setup (graph ${x.graph.toFixed(2)} s, session ${x.session.toFixed(2)} s)`;
console.log(`pretrain\t${show(pre.result.setupSeconds)}`);
const rows: { task: string; method: string; setup: number; graph: number }[] = [];
for (const task of tasks) {
  for (const method of METHODS) {
    const t = await finetune({ task, method, data, loaded, steps: 1, threads, ...(method.startsWith('scratch') ? {} : { from: pre }) });
    const x = t.result.setupSeconds;
    rows.push({ task, method, setup: x.graph + x.session, graph: x.graph });
    console.log(`${task}\t${method}\t${show(x)}`);
  }
}
const total = rows.reduce((s, r) => s + r.setup, 0);
// Runs sharing a graph shape: scratch, scratch-weighted and full of a task (every seed).
const shared = rows.filter((r) => ['scratch-weighted', 'full'].includes(r.method)).reduce((s, r) => s + r.setup, 0);
console.log(`fine-tuning setup, 20 runs: ${total.toFixed(1)} s (graph building ${rows.reduce((s, r) => s + r.graph, 0).toFixed(1)} s); pretraining ${(pre.result.setupSeconds.graph + pre.result.setupSeconds.session).toFixed(1)} s`);
console.log(`saved per seed by one graph per task for scratch, scratch-weighted and full: ${shared.toFixed(1)} s (the scratch-weighted and full setups)`);
