/**
 * The report's tables as plain data (header + string cells), built from aggregated cells, and
 * rendered to Markdown or HTML by the same code so both files always show the same numbers.
 */
import { PUBLISHED, type PublishedRow } from '../experiments/types.js';
import { type Cell, type StatKey, findCell, taskOrder } from './aggregate.js';
import { escapeHtml } from './html_util.js';
import { formatCount, formatDelta, formatInt, formatMeanStd } from './stats.js';
import type { DataNote } from './types.js';

export interface TableCell {
  readonly text: string;
  /** Best mean of its column within the task. */
  readonly strong?: boolean;
}

export interface Column {
  readonly label: string;
  readonly align: 'left' | 'right';
  /** The paper's published numbers: shaded in HTML so they are never mistaken for ours. */
  readonly paper?: boolean;
}

export interface Table {
  readonly columns: readonly Column[];
  readonly rows: readonly (readonly TableCell[])[];
  /** Row i starts a new group (a new task): drawn with a separator in HTML. */
  readonly groupStart: readonly boolean[];
}

const L = (label: string): Column => ({ label, align: 'left' });
const R = (label: string): Column => ({ label, align: 'right' });
const P = (label: string): Column => ({ label, align: 'right', paper: true });
const txt = (text: string, strong = false): TableCell => (strong ? { text, strong } : { text });

function groupStarts(cells: readonly { task: string }[]): boolean[] {
  return cells.map((c, i) => i === 0 || cells[i - 1]!.task !== c.task);
}

/** Per task, the cell index holding the best mean of `key` (only when the task has 2+ methods with a value). */
function bestPerTask(cells: readonly Cell[], key: StatKey, higherIsBetter: boolean): Set<number> {
  const best = new Set<number>();
  for (const task of taskOrder(cells)) {
    let bi = -1;
    let count = 0;
    cells.forEach((c, i) => {
      if (c.task !== task || c.stats[key].n === 0) return;
      count++;
      const v = c.stats[key].mean;
      if (bi < 0 || (higherIsBetter ? v > cells[bi]!.stats[key].mean : v < cells[bi]!.stats[key].mean)) bi = i;
    });
    if (count > 1) best.add(bi);
  }
  return best;
}

/**
 * Main table: task x method, mean +- std over seeds (sample std, n - 1) of the test metrics,
 * trainable parameters and training wall time. The best mean per task is marked (not a test of
 * significance; the reading section says which differences exceed the seed-to-seed spread).
 */
export function resultsTable(cells: readonly Cell[]): Table {
  const marks: [StatKey, boolean][] = [
    ['acc', true],
    ['auroc', true],
    ['ece', false],
    ['brier', false],
    ['nll', false],
    ['ece_ts', false],
  ];
  const best = new Map(marks.map(([k, hi]) => [k, bestPerTask(cells, k, hi)]));
  const metric = (c: Cell, i: number, k: StatKey) => txt(formatMeanStd(c.stats[k]), best.get(k)?.has(i) ?? false);
  return {
    columns: [L('task'), L('method'), R('seeds'), R('acc'), R('AUROC'), R('ECE'), R('Brier'), R('NLL'), R('ECE after TS'), R('trainable params'), R('train time (s)')],
    rows: cells.map((c, i) => [
      txt(c.task),
      txt(c.method),
      txt(String(c.seeds.length)),
      metric(c, i, 'acc'),
      metric(c, i, 'auroc'),
      metric(c, i, 'ece'),
      metric(c, i, 'brier'),
      metric(c, i, 'nll'),
      metric(c, i, 'ece_ts'),
      txt(formatCount(c.stats.trainable_params)),
      txt(formatMeanStd(c.stats.train_seconds, 1)),
    ]),
    groupStart: groupStarts(cells),
  };
}

/** Calibration before and after temperature scaling. */
export function calibrationTable(cells: readonly Cell[]): Table {
  const f = (c: Cell, k: StatKey) => txt(formatMeanStd(c.stats[k]));
  return {
    columns: [L('task'), L('method'), R('temperature'), R('ECE'), R('ECE after TS'), R('classwise ECE'), R('Brier'), R('Brier after TS'), R('NLL'), R('NLL after TS')],
    rows: cells.map((c) => [
      txt(c.task),
      txt(c.method),
      f(c, 'temperature'),
      f(c, 'ece'),
      f(c, 'ece_ts'),
      f(c, 'classwise_ece'),
      f(c, 'brier'),
      f(c, 'brier_ts'),
      f(c, 'nll'),
      f(c, 'nll_ts'),
    ]),
    groupStart: groupStarts(cells),
  };
}

/** Validation beside test metrics (a large gap hints at a split mismatch) and the step budget. */
export function validationTable(cells: readonly Cell[]): Table {
  const f = (c: Cell, k: StatKey) => txt(formatMeanStd(c.stats[k]));
  return {
    columns: [L('task'), L('method'), R('val acc'), R('test acc'), R('val AUROC'), R('test AUROC'), R('steps')],
    rows: cells.map((c) => [txt(c.task), txt(c.method), f(c, 'val_acc'), f(c, 'acc'), f(c, 'val_auroc'), f(c, 'auroc'), txt(formatCount(c.stats.steps))]),
    groupStart: groupStarts(cells),
  };
}

/**
 * Ours beside the paper's published single-run numbers, for the task x method pairs the paper
 * reports and we ran. Empty when none overlap.
 */
export function paperTable(cells: readonly Cell[], published: readonly PublishedRow[] = PUBLISHED): Table {
  const pairs = published
    .map((p) => ({ p, c: findCell(cells, p.task, p.method) }))
    .filter((x): x is { p: PublishedRow; c: Cell } => x.c !== undefined);
  const paper = (v: number | undefined, digits = 3) => txt(v === undefined ? '—' : v.toFixed(digits));
  const delta = (ours: Cell, k: 'acc' | 'auroc', v: number | undefined) =>
    txt(v === undefined || ours.stats[k].n === 0 ? '—' : formatDelta(ours.stats[k].mean - v));
  return {
    columns: [L('task'), L('method'), R('acc (ours)'), P('acc (paper)'), R('Δ acc'), R('AUROC (ours)'), P('AUROC (paper)'), R('Δ AUROC'), R('trainable params (ours)'), P('trainable params (paper)')],
    rows: pairs.map(({ p, c }) => [
      txt(c.task),
      txt(c.method),
      txt(formatMeanStd(c.stats.acc)),
      paper(p.acc),
      delta(c, 'acc', p.acc),
      txt(formatMeanStd(c.stats.auroc)),
      paper(p.auroc),
      delta(c, 'auroc', p.auroc),
      txt(formatCount(c.stats.trainable_params)),
      txt(p.trainable_params === undefined ? '—' : formatInt(p.trainable_params)),
    ]),
    groupStart: groupStarts(pairs.map((x) => x.c)),
  };
}

export const DATA_KIND_LABEL: Readonly<Record<DataNote['kind'], string>> = {
  official: 'official MedMNIST split',
  'official-subset': 'subset of the official split',
  're-created': 're-created split (not the official files)',
  synthetic: 'synthetic data (generated, not medical images)',
  'user-supplied': 'user-supplied, not verified',
};

export function dataTable(notes: readonly DataNote[]): Table {
  return {
    columns: [L('task'), L('file'), L('data'), L('note')],
    rows: notes.map((n) => [txt(n.task), txt(n.file), txt(DATA_KIND_LABEL[n.kind] ?? n.kind), txt(n.note)]),
    groupStart: notes.map(() => false),
  };
}

// ---------------------------------------------------------------------------------------------
// rendering

function mdEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function markdownTable(t: Table): string {
  const head = `| ${t.columns.map((c) => mdEscape(c.label)).join(' | ')} |`;
  const rule = `|${t.columns.map((c) => (c.align === 'right' ? '---:' : ':---')).join('|')}|`;
  const body = t.rows.map((r) => `| ${r.map((c) => (c.strong ? `**${mdEscape(c.text)}**` : mdEscape(c.text))).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

export function htmlTable(t: Table, className = 'results'): string {
  const cls = (c: Column) => {
    const names = [...(c.align === 'right' ? ['num'] : []), ...(c.paper ? ['paper'] : [])];
    return names.length ? ` class="${names.join(' ')}"` : '';
  };
  const head = `<thead><tr>${t.columns.map((c) => `<th${cls(c)}>${escapeHtml(c.label)}</th>`).join('')}</tr></thead>`;
  const body = t.rows
    .map((r, i) => {
      const tr = t.groupStart[i] && i > 0 ? '<tr class="group">' : '<tr>';
      const tds = r.map((c, j) => {
        const inner = c.strong ? `<strong>${escapeHtml(c.text)}</strong>` : escapeHtml(c.text);
        return `<td${cls(t.columns[j]!)}>${inner}</td>`;
      });
      return `${tr}${tds.join('')}</tr>`;
    })
    .join('\n');
  return `<table class="${escapeHtml(className)}">\n${head}\n<tbody>\n${body}\n</tbody>\n</table>`;
}
