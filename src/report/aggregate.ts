/**
 * Groups result rows into task x method cells with mean +- std over seeds, in the order the
 * report prints them: tasks as they first appear in the results, methods in protocol order.
 */
import type { ResultRow } from '../experiments/types.js';
import type { Method } from '../model/stmedfm.js';
import { type Stat, meanStd } from './stats.js';

/**
 * Protocol order of the methods. Kept here rather than importing the model's METHODS so that
 * rendering a report never loads the engine; the check below fails to compile if a method is
 * added to the model and not listed here.
 */
export const METHOD_ORDER = ['scratch', 'scratch-weighted', 'full', 'lora', 'adapter'] as const satisfies readonly Method[];
type Unlisted = Exclude<Method, (typeof METHOD_ORDER)[number]>;
const everyMethodListed: [Unlisted] extends [never] ? true : never = true;
void everyMethodListed;

/** What each method means, for the report's glossary and table captions. */
export const METHOD_LABEL: Readonly<Record<Method, string>> = {
  scratch: 'fresh initialisation, all parameters trained',
  'scratch-weighted': 'fresh initialisation, class-weighted cross-entropy',
  full: 'multi-task pretrained checkpoint, all parameters fine-tuned',
  lora: 'pretrained and frozen, LoRA on the attention projections + task head trained',
  adapter: 'pretrained and frozen, bottleneck adapters + task head trained',
};

export const STAT_KEYS = [
  'acc',
  'auroc',
  'ece',
  'classwise_ece',
  'brier',
  'nll',
  'temperature',
  'ece_ts',
  'brier_ts',
  'nll_ts',
  'val_acc',
  'val_auroc',
  'trainable_params',
  'steps',
  'train_seconds',
] as const satisfies readonly (keyof ResultRow)[];
export type StatKey = (typeof STAT_KEYS)[number];

export interface Cell {
  readonly task: string;
  readonly method: Method;
  /** Seeds in ascending order. */
  readonly seeds: readonly number[];
  readonly stats: Readonly<Record<StatKey, Stat>>;
}

export function methodRank(m: Method): number {
  const i = (METHOD_ORDER as readonly string[]).indexOf(m);
  return i < 0 ? METHOD_ORDER.length : i;
}

/** Tasks in order of first appearance. */
export function taskOrder(rows: readonly { task: string }[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) seen.add(r.task);
  return [...seen];
}

/** Methods present, in protocol order. */
export function methodsPresent(rows: readonly { method: Method }[]): Method[] {
  const seen = new Set(rows.map((r) => r.method));
  return [...seen].sort((a, b) => methodRank(a) - methodRank(b));
}

/**
 * One cell per task x method. A row repeated for the same task/method/seed (a run recorded twice
 * across a resume) counts once: the last record wins.
 */
export function aggregate(rows: readonly ResultRow[]): Cell[] {
  const unique = new Map<string, ResultRow>();
  for (const r of rows) unique.set(JSON.stringify([r.task, r.method, r.seed]), r);
  const deduped = [...unique.values()];
  const groups = new Map<string, ResultRow[]>();
  for (const r of deduped) {
    const key = JSON.stringify([r.task, r.method]);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const tasks = taskOrder(rows);
  const cells: Cell[] = [];
  for (const g of groups.values()) {
    const stats = {} as Record<StatKey, Stat>;
    // null (no temperature for a multi-label task) counts as missing, like NaN
    for (const k of STAT_KEYS) stats[k] = meanStd(g.map((r) => r[k] ?? NaN));
    cells.push({
      task: g[0]!.task,
      method: g[0]!.method,
      seeds: g.map((r) => r.seed).sort((a, b) => a - b),
      stats,
    });
  }
  return cells.sort((a, b) => tasks.indexOf(a.task) - tasks.indexOf(b.task) || methodRank(a.method) - methodRank(b.method));
}

export function findCell(cells: readonly Cell[], task: string, method: Method): Cell | undefined {
  return cells.find((c) => c.task === task && c.method === method);
}
