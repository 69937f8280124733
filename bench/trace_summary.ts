/**
 * Aggregates an ONNX Runtime profiler trace (JSON) by op type, by model section and by node:
 * milliseconds per run, sorted by time. The first `--skip` runs (warmup) are left out. Per-node
 * times are the median over the kept runs (`--stat mean` for means), which resists the spikes a
 * shared machine adds.
 *
 * With `--diff OTHER.json` (the same graph, e.g. at another thread count) it lists the nodes and
 * op types whose time changed most from TRACE to OTHER.
 *
 *   npx tsx bench/trace_summary.ts TRACE.json [--skip 3] [--top 40] [--by op|scope|scope-op|node|all] [--stat median|mean] [--diff OTHER.json]
 */
import { readFileSync } from 'node:fs';

interface Event {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
}

interface Row {
  op: string;
  shape: string;
  times: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The model section a node belongs to: forward layer, backward of a layer, optimizer, outputs. */
export function sectionOf(name: string): string {
  const bwd = /^backward\.d\(([^)]*)\)/.exec(name);
  const layer = (n: string) => n.split(/[./]/).slice(0, n.startsWith('blocks') ? 2 : 1).join('.');
  if (bwd) return `bwd ${layer(bwd[1]!)}`;
  if (name.startsWith('backward')) return 'bwd (accumulate)';
  return layer(name);
}

type Stat = (xs: number[]) => number;

/** Per-node time (ms per run, `stat` over the runs after `skip`) of one trace. */
function perNodeTimes(file: string, skip: number, stat: Stat) {
  const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(skip);
  const rows = new Map<string, Row>();
  runs.forEach((run, r) => {
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < run.ts || e.ts > run.ts + run.dur) continue;
      const name = e.name.replace(/_kernel_time$/, '');
      let row = rows.get(name);
      if (!row) {
        const shape = (e.args?.output_type_shape ?? []).map((o) => `[${Object.values(o)[0]?.join(',')}]`).join(' ');
        row = { op: e.args?.op_name ?? '?', shape, times: new Array<number>(runs.length).fill(0) };
        rows.set(name, row);
      }
      row.times[r]! += e.dur / 1000;
    }
  });
  const perNode = [...rows].map(([name, r]) => ({ name, op: r.op, shape: r.shape, ms: stat(r.times) }));
  return { perNode, runs };
}

function main(): void {
  const args = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = args.indexOf(`--${k}`);
    return i >= 0 ? args[i + 1]! : d;
  };
  const file = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  if (!file) throw new Error('usage: trace_summary.ts TRACE.json [--skip N] [--top N] [--by op|scope|scope-op|node|all] [--stat median|mean] [--diff OTHER.json]');
  const skip = Number(opt('skip', '3'));
  const top = Number(opt('top', '40'));
  const by = opt('by', 'all');
  const stat: Stat = opt('stat', 'median') === 'mean' ? (xs) => xs.reduce((a, b) => a + b, 0) / xs.length : median;
  const { perNode, runs } = perNodeTimes(file, skip, stat);
  const other = args.includes('--diff') ? opt('diff', '') : undefined;
  if (other) {
    const otherNodes = perNodeTimes(other, skip, stat).perNode;
    const b = new Map(otherNodes.map((n) => [n.name, n.ms]));
    const all = (xs: { ms: number }[]) => xs.reduce((a, n) => a + n.ms, 0).toFixed(2);
    console.log(`whole traces: ${all(perNode)} ms in ${perNode.length} nodes -> ${all(otherNodes)} ms in ${otherNodes.length} nodes`);
    const d = perNode.filter((n) => b.has(n.name)).map((n) => ({ ...n, delta: b.get(n.name)! - n.ms, other: b.get(n.name)! }));
    const byOp = new Map<string, { a: number; b: number; count: number }>();
    for (const n of d) {
      const g = byOp.get(n.op) ?? { a: 0, b: 0, count: 0 };
      g.a += n.ms;
      g.b += n.other;
      g.count++;
      byOp.set(n.op, g);
    }
    const sum = (k: 'ms' | 'other') => d.reduce((a, n) => a + n[k], 0);
    console.log(`${file} -> ${other}: sum of per-node times ${sum('ms').toFixed(2)} -> ${sum('other').toFixed(2)} ms (${d.length} common nodes)`);
    console.log('\nby op type (ms/run: this -> other, change, nodes):');
    for (const [k, g] of [...byOp].sort((x, y) => Math.abs(y[1].b - y[1].a) - Math.abs(x[1].b - x[1].a)).slice(0, top)) {
      console.log(`  ${g.a.toFixed(2).padStart(8)} -> ${g.b.toFixed(2).padStart(8)}  ${(g.b - g.a >= 0 ? '+' : '') + (g.b - g.a).toFixed(2)}  ${String(g.count).padStart(4)}  ${k}`);
    }
    console.log('\nby node (largest changes):');
    for (const n of d.sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta)).slice(0, top)) {
      console.log(`  ${n.ms.toFixed(3).padStart(7)} -> ${n.other.toFixed(3).padStart(7)}  ${n.op.padEnd(18)} ${n.shape.padEnd(20)} ${n.name}`);
    }
    return;
  }
  const total = perNode.reduce((a, b) => a + b.ms, 0);
  const runMs = median(runs.map((r) => r.dur / 1000));
  console.log(`${file}: ${runs.length} runs, median run ${runMs.toFixed(2)} ms, sum of per-node ${opt('stat', 'median')}s ${total.toFixed(2)} ms, ${perNode.length} nodes`);
  const group = (key: (n: (typeof perNode)[number]) => string, title: string) => {
    const m = new Map<string, { ms: number; count: number }>();
    for (const n of perNode) {
      const k = key(n);
      const g = m.get(k) ?? { ms: 0, count: 0 };
      g.ms += n.ms;
      g.count++;
      m.set(k, g);
    }
    console.log(`\n${title} (ms/run, nodes):`);
    for (const [k, v] of [...m].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) console.log(`  ${v.ms.toFixed(2).padStart(8)}  ${String(v.count).padStart(4)}  ${k}`);
  };
  if (by === 'all' || by === 'op') group((n) => n.op, 'by op type');
  if (by === 'all' || by === 'scope') group((n) => sectionOf(n.name), 'by section');
  if (by === 'all' || by === 'scope-op') group((n) => `${sectionOf(n.name).replace(/\.\d+$/, '')} ${n.op} ${n.shape.split(' ')[0]!.replace(/^\[\d+,/, '[.,')}`, 'by section, op and output shape (batch dim dropped)');
  if (by === 'all' || by === 'node') {
    console.log('\nby node (ms/run):');
    for (const n of perNode.sort((a, b) => b.ms - a.ms).slice(0, top)) console.log(`  ${n.ms.toFixed(2).padStart(8)}  ${n.op.padEnd(20)} ${n.shape.padEnd(22)} ${n.name}`);
  }
}

main();
