/**
 * Experiment grids in the report: which extra axes (few-shot k, LoRA rank and alpha, adapter
 * width, image size) a results set varies, the "base point" the main tables show (the default
 * value of each varied axis when present), and one table per varied axis: test AUROC (and, for
 * image size, accuracy), mean ± std over seeds, against the axis value, the other axes held at
 * their base value.
 */
import type { ResultRow } from '../experiments/types.js';
import type { Method } from '../model/stmedfm.js';
import { methodRank, taskOrder } from './aggregate.js';
import { formatMeanStd, meanStd } from './stats.js';
import type { Table, TableCell } from './tables.js';

type AxisKey = 'shots' | 'lora_rank' | 'lora_alpha' | 'adapter_width' | 'image_size';
type Metric = 'auroc' | 'acc';
const METRIC_LABEL: Record<Metric, string> = { auroc: 'AUROC', acc: 'accuracy' };

export interface GridAxis {
  key: AxisKey;
  label: string;
  /** The methods the axis applies to (undefined: every method). */
  methods?: readonly Method[];
  /** The protocol default: the base point when the results contain it. */
  preferred: number | null;
  /** Test metrics shown against the axis (default: AUROC). */
  metrics?: readonly Metric[];
}

export const GRID_AXES: readonly GridAxis[] = [
  { key: 'shots', label: 'shots (training examples per class)', preferred: null },
  { key: 'lora_rank', label: 'LoRA rank', methods: ['lora'], preferred: 4 },
  { key: 'lora_alpha', label: 'LoRA alpha', methods: ['lora'], preferred: 8 },
  { key: 'adapter_width', label: 'adapter width', methods: ['adapter'], preferred: 8 },
  // Rows without an image size (grids without this axis) are at 28 px.
  { key: 'image_size', label: 'image size (px)', preferred: 28, metrics: ['auroc', 'acc'] },
];

const applies = (a: GridAxis, r: ResultRow) => !a.methods || a.methods.includes(r.method);
const valueOf = (a: GridAxis, r: ResultRow): number | null => (r as unknown as Record<string, number | null | undefined>)[a.key] ?? (a.key === 'image_size' ? 28 : null);
export const formatAxisValue = (v: number | null) => (v === null ? 'all' : String(v));
/** Ascending, with "all" (the whole train split) last. */
const order = (a: number | null, b: number | null) => (a === null ? 1 : b === null ? -1 : a - b);

export interface VariedAxis extends GridAxis {
  values: (number | null)[];
  base: number | null;
}

export function variedAxes(rows: readonly ResultRow[]): VariedAxis[] {
  const out: VariedAxis[] = [];
  for (const a of GRID_AXES) {
    const values = [...new Set(rows.filter((r) => applies(a, r)).map((r) => valueOf(a, r)))].sort(order);
    if (values.length < 2) continue;
    const base = values.includes(a.preferred) ? a.preferred : a.key === 'shots' ? values.at(-1)! : values[0]!;
    out.push({ ...a, values, base });
  }
  return out;
}

const atBase = (axes: readonly VariedAxis[], r: ResultRow, except?: AxisKey) =>
  axes.every((a) => a.key === except || !applies(a, r) || valueOf(a, r) === a.base);

/** The rows the main tables show: every varied axis at its base value. */
export function baseRows(rows: readonly ResultRow[]): ResultRow[] {
  const axes = variedAxes(rows);
  return rows.filter((r) => atBase(axes, r));
}

const metricsOf = (a: GridAxis): readonly Metric[] => a.metrics ?? ['auroc'];

/** The heading of an axis' table: "Test AUROC against ..." (and accuracy, where shown). */
export const gridHeading = (a: GridAxis): string => `Test ${metricsOf(a).map((m) => METRIC_LABEL[m]).join(' and ')} against ${a.label}`;

export interface GridTable {
  axis: VariedAxis;
  table: Table;
  note: string;
}

/** One table per varied axis: rows task x method, columns the axis values (x metrics), cells test AUROC (accuracy) over seeds. */
export function gridTables(rows: readonly ResultRow[]): GridTable[] {
  const axes = variedAxes(rows);
  return axes.map((axis) => {
    const rel = rows.filter((r) => applies(axis, r) && atBase(axes, r, axis.key));
    const tasks = taskOrder(rel);
    const methods = [...new Set(rel.map((r) => r.method))].sort((a, b) => methodRank(a) - methodRank(b));
    const body: TableCell[][] = [];
    const groupStart: boolean[] = [];
    for (const task of tasks) {
      methods.forEach((method, i) => {
        const cells: TableCell[] = [{ text: task }, { text: method }];
        for (const metric of metricsOf(axis)) {
          for (const v of axis.values) {
            const xs = rel.filter((r) => r.task === task && r.method === method && valueOf(axis, r) === v).map((r) => r[metric] ?? NaN);
            const s = meanStd(xs);
            cells.push({ text: xs.length ? `${formatMeanStd(s)} (${xs.length} seed${xs.length === 1 ? '' : 's'})` : '—' });
          }
        }
        body.push(cells);
        groupStart.push(i === 0);
      });
    }
    const held = axes.filter((a) => a.key !== axis.key).map((a) => `${a.label} = ${formatAxisValue(a.base)}`);
    return {
      axis,
      table: {
        columns: [
          { label: 'task', align: 'left' },
          { label: 'method', align: 'left' },
          ...metricsOf(axis).flatMap((m) =>
            axis.values.map((v) => ({ label: `${axis.label} ${formatAxisValue(v)}${metricsOf(axis).length > 1 ? ` ${METRIC_LABEL[m]}` : ''}`, align: 'right' as const })),
          ),
        ],
        rows: body,
        groupStart,
      },
      note: `Test ${metricsOf(axis).map((m) => METRIC_LABEL[m]).join(' and ')} against ${axis.label}: mean ± sample standard deviation over seeds.${held.length ? ` Other axes held at ${held.join(', ')}.` : ''}`,
    };
  });
}
