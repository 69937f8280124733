/**
 * The report's plots as vega-lite specs with their data inlined, built from per-run details and
 * aggregated cells. Pure: rendering to SVG is in svg.ts. Every plot colours a method the same way.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReliabilityBin, RocCurve, RunDetail } from '../experiments/types.js';
import type { Method } from '../model/stmedfm.js';
import { type Cell, METHOD_ORDER, methodRank, methodsPresent, taskOrder } from './aggregate.js';

const METHOD_COLOR: Readonly<Record<Method, string>> = {
  scratch: '#e15759',
  'scratch-weighted': '#f28e2b',
  full: '#4e79a7',
  lora: '#59a14f',
  adapter: '#b07aa1',
};

/** Colour scale over the methods present, so legends list only what was run. */
function methodScale(methods: readonly Method[]) {
  return { domain: [...methods], range: methods.map((m) => METHOD_COLOR[m]) };
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

// ---------------------------------------------------------------------------------------------
// data preparation

/**
 * Pools one method's reliability bins over seeds: counts add, confidence and accuracy are
 * count-weighted means. Empty bins are dropped (nothing to draw).
 */
export function poolReliability(binsPerSeed: readonly (readonly ReliabilityBin[])[]): ReliabilityBin[] {
  const byEdge = new Map<string, { lo: number; hi: number; count: number; conf: number; acc: number }>();
  for (const bins of binsPerSeed) {
    for (const b of bins) {
      if (b.count <= 0) continue;
      const key = `${b.lo}:${b.hi}`;
      const p = byEdge.get(key) ?? { lo: b.lo, hi: b.hi, count: 0, conf: 0, acc: 0 };
      p.count += b.count;
      p.conf += b.conf * b.count;
      p.acc += b.acc * b.count;
      byEdge.set(key, p);
    }
  }
  return [...byEdge.values()]
    .sort((a, b) => a.lo - b.lo)
    .map((p) => ({ lo: p.lo, hi: p.hi, count: p.count, conf: p.conf / p.count, acc: p.acc / p.count }));
}

/** Linear interpolation of a ROC curve at `x`; at a vertical segment (repeated fpr) the highest tpr. */
export function interpolateRoc(fpr: readonly number[], tpr: readonly number[], x: number): number {
  const n = fpr.length;
  if (n === 0) return NaN;
  if (x <= fpr[0]!) {
    let best = tpr[0]!;
    for (let i = 1; i < n && fpr[i] === fpr[0]; i++) best = Math.max(best, tpr[i]!);
    return x < fpr[0]! ? 0 : best;
  }
  for (let i = 1; i < n; i++) {
    if (fpr[i]! < x) continue;
    if (fpr[i] === x) {
      let best = tpr[i]!;
      for (let j = i + 1; j < n && fpr[j] === x; j++) best = Math.max(best, tpr[j]!);
      return best;
    }
    const x0 = fpr[i - 1]!;
    const x1 = fpr[i]!;
    return tpr[i - 1]! + ((tpr[i]! - tpr[i - 1]!) * (x - x0)) / (x1 - x0);
  }
  return tpr[n - 1]!;
}

/**
 * {@link interpolateRoc} at every point of an ascending grid in one pass over the curve (test
 * sets of thousands of samples give curves of thousands of points, times classes and seeds).
 */
export function interpolateRocGrid(fpr: readonly number[], tpr: readonly number[], grid: readonly number[]): number[] {
  const n = fpr.length;
  const out: number[] = [];
  let i = 0; // first index with fpr[i] >= x
  for (const x of grid) {
    while (i < n && fpr[i]! < x) i++;
    if (n === 0) out.push(NaN);
    else if (i === n) out.push(tpr[n - 1]!);
    else if (fpr[i] === x) {
      let best = tpr[i]!;
      for (let j = i + 1; j < n && fpr[j] === x; j++) best = Math.max(best, tpr[j]!);
      out.push(best);
    } else if (i === 0) out.push(0);
    else {
      const x0 = fpr[i - 1]!;
      const x1 = fpr[i]!;
      out.push(tpr[i - 1]! + ((tpr[i]! - tpr[i - 1]!) * (x - x0)) / (x1 - x0));
    }
  }
  return out;
}

export interface MacroRoc {
  readonly fpr: number[];
  readonly tpr: number[];
  /** Mean of the per-curve AUCs (macro AUROC, averaged over seeds). */
  readonly auc: number;
}

/**
 * Macro-average ROC: every class's curve (of every seed) interpolated on a common FPR grid and
 * averaged, as scikit-learn's macro ROC example does; the AUC shown is the mean per-class AUC.
 */
export function macroRoc(curves: readonly RocCurve[], gridPoints = 101): MacroRoc {
  const grid = Array.from({ length: gridPoints }, (_, i) => i / (gridPoints - 1));
  // a class absent from the test split has no defined curve (0/0 rates): leave it out
  const finite = (xs: readonly number[]) => xs.every((v) => Number.isFinite(v));
  const usable = curves.filter((c) => c.fpr.length > 0 && c.fpr.length === c.tpr.length && finite(c.fpr) && finite(c.tpr));
  const sum = new Array<number>(grid.length).fill(0);
  for (const c of usable) interpolateRocGrid(c.fpr, c.tpr, grid).forEach((v, i) => (sum[i]! += v));
  const tpr = sum.map((v) => (usable.length > 0 ? v / usable.length : NaN));
  // curves start at (0, 0) by definition even if the interpolant at 0 is a vertical jump
  const fpr = [0, ...grid];
  const tprFull = [0, ...tpr];
  const aucs = curves.map((c) => c.auc).filter((a) => Number.isFinite(a));
  return { fpr, tpr: tprFull, auc: aucs.length ? aucs.reduce((s, a) => s + a, 0) / aucs.length : NaN };
}

function detailsOf(details: readonly RunDetail[], task: string): RunDetail[] {
  return details.filter((d) => d.task === task).sort((a, b) => methodRank(a.method) - methodRank(b.method) || a.seed - b.seed);
}

// ---------------------------------------------------------------------------------------------
// specs

export type PlotKind = 'reliability' | 'roc' | 'loss' | 'params';

export interface Plot {
  readonly kind: PlotKind;
  /** Task, or undefined for cross-task plots. */
  readonly task?: string;
  /** File stem under plots/ (no extension). */
  readonly name: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

/** Reliability diagram of one task, one panel per method: accuracy per confidence bin, its gap to the bin's mean confidence, the diagonal. */
export function reliabilitySpec(task: string, details: readonly RunDetail[], cells: readonly Cell[] = []): TopLevelSpec | undefined {
  const ds = detailsOf(details, task);
  if (ds.length === 0) return undefined;
  const methods = methodsPresent(ds);
  const values: Record<string, unknown>[] = [];
  for (const m of methods) {
    const runs = ds.filter((d) => d.method === m);
    const pooled = poolReliability(runs.map((d) => d.reliability));
    const n = pooled.reduce((s, b) => s + b.count, 0);
    for (const b of pooled) values.push({ kind: 'bin', method: m, lo: b.lo, hi: b.hi, conf: b.conf, acc: b.acc, count: b.count });
    values.push({ kind: 'diag', method: m, x: 0, y: 0 }, { kind: 'diag', method: m, x: 1, y: 1 });
    const cell = cells.find((c) => c.task === task && c.method === m);
    // the table's ECE (mean over seeds) when known, so the label matches the table
    const ece = cell && cell.stats.ece.n > 0 ? cell.stats.ece.mean : pooled.reduce((s, b) => s + (b.count / (n || 1)) * Math.abs(b.acc - b.conf), 0);
    values.push({ kind: 'label', method: m, text: `ECE ${ece.toFixed(3)}` });
  }
  const x = { field: 'lo', type: 'quantitative', scale: { domain: [0, 1] }, title: 'confidence' } as const;
  const y = { field: 'acc', type: 'quantitative', scale: { domain: [0, 1] }, title: 'accuracy' } as const;
  return {
    $schema: SCHEMA,
    title: { text: `Reliability — ${task}`, anchor: 'start' },
    data: { values },
    facet: { field: 'method', type: 'nominal', sort: methods, title: null, header: { labelFontSize: 12, labelFontWeight: 'bold' } },
    columns: Math.min(methods.length, 5),
    spec: {
      width: 150,
      height: 150,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'diag'" }],
          mark: { type: 'line', color: '#888', strokeDash: [4, 3], strokeWidth: 1 },
          encoding: { x: { ...x, field: 'x' }, y: { ...y, field: 'y' } },
        },
        {
          transform: [{ filter: "datum.kind === 'bin'" }],
          mark: { type: 'rect', opacity: 0.85, stroke: 'white', strokeWidth: 0.5 },
          encoding: {
            x,
            x2: { field: 'hi' },
            y,
            y2: { datum: 0 },
            color: { field: 'method', type: 'nominal', scale: methodScale(methods), legend: null },
          },
        },
        {
          // the gap between accuracy and mean confidence: what ECE sums, weighted by bin size
          transform: [{ filter: "datum.kind === 'bin'" }],
          // outlined, not filled: a fill would blend with the bar colour where the gap overlaps the bar
          mark: { type: 'rect', fill: '#d62728', fillOpacity: 0.12, stroke: '#d62728', strokeWidth: 1 },
          encoding: { x, x2: { field: 'hi' }, y, y2: { field: 'conf' } },
        },
        {
          transform: [{ filter: "datum.kind === 'label'" }],
          mark: { type: 'text', align: 'left', baseline: 'top', fontSize: 11, dx: 4, dy: 4 },
          encoding: { x: { datum: 0, type: 'quantitative' }, y: { datum: 1, type: 'quantitative' }, text: { field: 'text' } },
        },
      ],
    },
    resolve: { scale: { x: 'shared', y: 'shared' } },
  } as TopLevelSpec;
}

/** Macro-average ROC per method for one task (seeds pooled), with the mean AUROC in the legend. */
export function rocSpec(task: string, details: readonly RunDetail[]): TopLevelSpec | undefined {
  const ds = detailsOf(details, task).filter((d) => d.roc.length > 0);
  if (ds.length === 0) return undefined;
  const methods = methodsPresent(ds);
  const values: Record<string, unknown>[] = [];
  const series: string[] = [];
  for (const m of methods) {
    const r = macroRoc(ds.filter((d) => d.method === m).flatMap((d) => d.roc));
    // short labels: without a canvas vega over-estimates text width and would widen the plot
    const name = `${m} ${Number.isFinite(r.auc) ? r.auc.toFixed(3) : 'n/a'}`;
    series.push(name);
    r.fpr.forEach((f, i) => values.push({ series: name, i, fpr: f, tpr: r.tpr[i] }));
  }
  return {
    $schema: SCHEMA,
    title: { text: `ROC (macro average over classes) — ${task}`, anchor: 'start' },
    width: 250,
    height: 250,
    layer: [
      {
        data: { values: [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }] },
        mark: { type: 'line', color: '#888', strokeDash: [4, 3], strokeWidth: 1 },
        encoding: { x: { field: 'fpr', type: 'quantitative' }, y: { field: 'tpr', type: 'quantitative' } },
      },
      {
        data: { values },
        mark: { type: 'line', strokeWidth: 1.8, interpolate: 'linear' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', scale: { domain: [0, 1] }, title: 'false positive rate' },
          y: { field: 'tpr', type: 'quantitative', scale: { domain: [0, 1] }, title: 'true positive rate' },
          color: {
            field: 'series',
            type: 'nominal',
            scale: { domain: series, range: methods.map((m) => METHOD_COLOR[m]) },
            legend: { title: 'method (AUROC)', orient: 'right', labelLimit: 220 },
          },
          order: { field: 'i', type: 'quantitative' },
        },
      },
    ],
  } as TopLevelSpec;
}

/** Training loss per step for one task: mean over seeds, with a ±1 std band when there are several seeds. */
export function lossSpec(task: string, details: readonly RunDetail[]): TopLevelSpec | undefined {
  const ds = detailsOf(details, task).filter((d) => d.loss.length > 0);
  if (ds.length === 0) return undefined;
  const methods = methodsPresent(ds);
  const values = ds.flatMap((d) =>
    d.loss.flatMap((loss, step) => (Number.isFinite(loss) ? [{ method: d.method, seed: d.seed, step: step + 1, loss }] : [])),
  );
  const multiSeed = methods.some((m) => new Set(ds.filter((d) => d.method === m).map((d) => d.seed)).size > 1);
  // stroke symbols at full opacity: otherwise the legend copies the faint band's look
  const color = {
    field: 'method',
    type: 'nominal',
    scale: methodScale(methods),
    sort: methods,
    // inside the top-right corner, which a decreasing loss leaves empty
    legend: { title: 'method', orient: 'top-right', symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 2, fillColor: 'rgba(255,255,255,0.85)', padding: 4 },
  } as const;
  const x = { field: 'step', type: 'quantitative', title: 'step', scale: { nice: false } } as const;
  const line = {
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: { x, y: { aggregate: 'mean', field: 'loss', type: 'quantitative', title: multiSeed ? 'training loss (mean over seeds)' : 'training loss' }, color },
  };
  const band = {
    mark: { type: 'errorband', extent: 'stdev', opacity: 0.18 },
    encoding: { x, y: { field: 'loss', type: 'quantitative', title: null }, color },
  };
  return {
    $schema: SCHEMA,
    title: { text: `Training loss — ${task}`, anchor: 'start' },
    width: 400,
    height: 250,
    data: { values },
    layer: multiSeed ? [band, line] : [line],
  } as TopLevelSpec;
}

/** Accuracy and AUROC against trainable parameters (log scale), one row of panels per task, ±1 std bars. */
export function paramsSpec(cells: readonly Cell[]): TopLevelSpec | undefined {
  const usable = cells.filter((c) => c.stats.trainable_params.n > 0 && c.stats.trainable_params.mean > 0);
  if (usable.length === 0) return undefined;
  const methods = methodsPresent(usable);
  const tasks = taskOrder(usable);
  const values: Record<string, unknown>[] = [];
  const xOf = dodgeParams(usable);
  for (const c of usable) {
    for (const [metric, key] of [
      ['accuracy', 'acc'],
      ['AUROC', 'auroc'],
    ] as const) {
      const s = c.stats[key];
      if (s.n === 0) continue;
      const sd = s.std ?? 0;
      values.push({ task: c.task, method: c.method, metric, params: c.stats.trainable_params.mean, x: xOf.get(c)!, mean: s.mean, lo: s.mean - sd, hi: s.mean + sd });
    }
  }
  const xs = [...xOf.values()];
  const lo = 10 ** Math.floor(Math.log10(Math.min(...xs)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...xs)));
  const decades: number[] = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) decades.push(v);
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    scale: { type: 'log' as const, domain: [lo, hi] },
    title: 'trainable parameters (log scale)',
    axis: { format: '~s', values: decades, grid: true },
  };
  return {
    $schema: SCHEMA,
    title: { text: 'Accuracy and AUROC vs trainable parameters', anchor: 'start' },
    data: { values },
    facet: {
      row: { field: 'task', type: 'nominal', sort: tasks, title: null, header: { labelFontWeight: 'bold', labelFontSize: 12 } },
      column: { field: 'metric', type: 'nominal', sort: ['accuracy', 'AUROC'], title: null, header: { labelFontWeight: 'bold', labelFontSize: 12 } },
    },
    spec: {
      width: 240,
      height: 150,
      layer: [
        {
          mark: { type: 'rule', strokeWidth: 1.5 },
          encoding: { x, y: { field: 'lo', type: 'quantitative', scale: { zero: false }, title: 'test metric' }, y2: { field: 'hi' }, color: { field: 'method', type: 'nominal', scale: methodScale(methods), sort: methods } },
        },
        {
          mark: { type: 'point', filled: true, size: 70, opacity: 1 },
          encoding: {
            x,
            y: { field: 'mean', type: 'quantitative', scale: { zero: false }, title: 'test metric' },
            color: { field: 'method', type: 'nominal', scale: methodScale(methods), sort: methods, legend: { title: 'method' } },
            shape: { field: 'method', type: 'nominal', scale: { domain: methods }, sort: methods, legend: { title: 'method' } },
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

/**
 * Horizontal position of each cell on the parameter axis: methods with the same count in a task
 * (scratch, scratch-weighted and full train the same parameters) are spread by a few percent
 * around it so their points and error bars do not hide each other.
 */
function dodgeParams(cells: readonly Cell[]): Map<Cell, number> {
  const out = new Map<Cell, number>();
  const groups = new Map<string, Cell[]>();
  for (const c of cells) {
    const key = `${c.task}:${Math.round(c.stats.trainable_params.mean)}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const g of groups.values()) {
    g.sort((a, b) => methodRank(a.method) - methodRank(b.method));
    g.forEach((c, i) => out.set(c, c.stats.trainable_params.mean * 1.12 ** (i - (g.length - 1) / 2)));
  }
  return out;
}

/** Every plot the report shows, in report order: per task reliability, ROC, loss; then params. */
export function buildPlots(cells: readonly Cell[], details: readonly RunDetail[]): Plot[] {
  const plots: Plot[] = [];
  const tasks = taskOrder([...cells, ...details]);
  const multiSeed = cells.some((c) => c.seeds.length > 1);
  const seedsPooled = multiSeed ? ', seeds pooled' : '';
  for (const task of tasks) {
    const slug = fileSlug(task);
    const rel = reliabilitySpec(task, details, cells);
    if (rel)
      plots.push({
        kind: 'reliability',
        task,
        name: `reliability-${slug}`,
        title: `Reliability diagrams — ${task}`,
        caption:
          `Test-set accuracy per confidence bin (15 equal-width bins on top-label confidence${seedsPooled}). Red: gap to the bin’s mean confidence; dashed: perfect calibration. Bars below the diagonal mean over-confidence.`,
        spec: rel,
      });
    const roc = rocSpec(task, details);
    if (roc)
      plots.push({
        kind: 'roc',
        task,
        name: `roc-${slug}`,
        title: `ROC curves — ${task}`,
        caption: `One-vs-rest ROC of every class interpolated on a common false-positive-rate grid and averaged (macro)${seedsPooled}. AUROC in the legend is the mean per-class AUC.`,
        spec: roc,
      });
    const loss = lossSpec(task, details);
    if (loss)
      plots.push({
        kind: 'loss',
        task,
        name: `loss-${slug}`,
        title: `Training loss — ${task}`,
        caption: multiSeed
          ? 'Mini-batch training loss per fine-tuning step: mean over seeds, band ±1 std.'
          : 'Mini-batch training loss per fine-tuning step (one seed).',
        spec: loss,
      });
  }
  const params = paramsSpec(cells);
  if (params)
    plots.push({
      kind: 'params',
      name: 'params',
      title: 'Accuracy and AUROC vs trainable parameters',
      caption:
        `${multiSeed ? 'Mean test metric per method (bars: ±1 std over seeds)' : 'Test metric per method (one seed)'} against its trainable-parameter count (log scale). Methods with the same count (scratch, scratch-weighted, full) are drawn slightly apart so that none hides another.`,
      spec: params,
    });
  return plots;
}

/** A task name as a safe file-name part. */
export function fileSlug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]+/g, '_') || 'task';
}

export { METHOD_COLOR, METHOD_ORDER };
