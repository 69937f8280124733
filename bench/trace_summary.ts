/**
 * Aggregates an ONNX Runtime profiler trace (JSON) by op type and by node: total and per-run
 * milliseconds of each, sorted by time. The first `--skip` runs (warmup) are left out.
 *
 *   npx tsx bench/trace_summary.ts TRACE.json [--skip 3] [--top 40] [--by op|node|both]
 */
import { readFileSync } from 'node:fs';

interface Event {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; provider?: string; output_type_shape?: Record<string, number[]>[] };
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  if (!file) throw new Error('usage: trace_summary.ts TRACE.json [--skip N] [--top N] [--by op|node|both]');
  const opt = (k: string, d: string) => {
    const i = args.indexOf(`--${k}`);
    return i >= 0 ? args[i + 1]! : d;
  };
  const skip = Number(opt('skip', '3'));
  const top = Number(opt('top', '40'));
  const by = opt('by', 'both');
  const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const kept = runs.slice(skip);
  const runMs = kept.map((r) => r.dur / 1000).sort((a, b) => a - b);
  // Node events are listed in order; split them into runs by counting the per-run node count.
  const nodeEvents = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  const perRun = nodeEvents.length / runs.length;
  const mine = nodeEvents.slice(Math.round(perRun * skip));
  const n = kept.length;
  const byOp = new Map<string, { ms: number; count: number }>();
  const byNode = new Map<string, { ms: number; op: string; shape: string }>();
  let total = 0;
  for (const e of mine) {
    const ms = e.dur / 1000 / n;
    total += ms;
    const op = e.args?.op_name ?? '?';
    const o = byOp.get(op) ?? { ms: 0, count: 0 };
    o.ms += ms;
    o.count += 1 / n;
    byOp.set(op, o);
    const name = e.name.replace(/_kernel_time$/, '');
    const shape = (e.args?.output_type_shape ?? []).map((o) => `[${Object.values(o)[0]?.join(',')}]`).join(' ');
    const b = byNode.get(name) ?? { ms: 0, op, shape };
    b.ms += ms;
    byNode.set(name, b);
  }
  console.log(`${file}: ${n} runs, median run ${runMs[runMs.length >> 1]?.toFixed(2)} ms, kernel sum ${total.toFixed(2)} ms/run, ${Math.round(perRun)} nodes/run`);
  if (by !== 'node') {
    console.log('\nby op type (ms/run, nodes/run):');
    for (const [op, v] of [...byOp].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) console.log(`  ${v.ms.toFixed(2).padStart(8)}  ${String(Math.round(v.count)).padStart(4)}  ${op}`);
  }
  if (by !== 'op') {
    console.log('\nby node (ms/run):');
    for (const [name, v] of [...byNode].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) console.log(`  ${v.ms.toFixed(2).padStart(8)}  ${v.op.padEnd(20)} ${v.shape.padEnd(22)} ${name}`);
  }
}

main();
