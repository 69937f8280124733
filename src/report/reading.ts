/**
 * "What the numbers show": short statements generated from the aggregated results, worded so
 * they claim no more than the data carry. A difference counts as "within noise" when it is no
 * larger than the bigger of the two seed-to-seed standard deviations (a rule of thumb, stated as
 * such in the report, not a significance test); with one seed there is no error estimate and
 * the text says so instead of ranking confidently.
 *
 * Output is Markdown-lite: `code` for method names and **bold** only; the HTML renderer maps
 * exactly those two forms.
 */
import { PUBLISHED, type PublishedRow } from '../experiments/types.js';
import type { Method } from '../model/stmedfm.js';
import { type Cell, type StatKey, findCell, methodRank, taskOrder } from './aggregate.js';
import { DATA_KIND_LABEL } from './tables.js';
import { type Stat, formatDelta, formatInt, formatMeanStd } from './stats.js';
import type { DataNote } from './types.js';

export type Verdict = 'single-seed' | 'within-noise' | 'beyond-noise';

export interface Comparison {
  /** a.mean - b.mean */
  readonly diff: number;
  readonly verdict: Verdict;
}

export function compareStats(a: Stat, b: Stat): Comparison {
  const diff = a.mean - b.mean;
  if (a.std === undefined || b.std === undefined) return { diff, verdict: 'single-seed' };
  return { diff, verdict: Math.abs(diff) <= Math.max(a.std, b.std) ? 'within-noise' : 'beyond-noise' };
}

/** How a verdict reads in a sentence; nothing for a single seed (the overview says it once). */
function verdictText(v: Verdict): string | undefined {
  switch (v) {
    case 'single-seed':
      return undefined;
    case 'within-noise':
      return 'within noise';
    case 'beyond-noise':
      return 'larger than the seed std';
  }
}

/** ` (within noise)` etc., or nothing. */
function paren(v: Verdict): string {
  const t = verdictText(v);
  return t ? ` (${t})` : '';
}

const code = (m: string) => `\`${m}\``;

export interface Best {
  readonly task: string;
  readonly metric: StatKey;
  readonly best: Method;
  readonly runnerUp?: Method;
  /** best - runnerUp (>= 0 for higher-is-better metrics). */
  readonly comparison?: Comparison;
  /** Other methods whose gap to the best is within noise. */
  readonly withinNoise: readonly Method[];
}

/**
 * The best method of `task` by mean `metric` (ties go to the earlier method in protocol order),
 * the runner-up, and which others are within noise of it. Undefined when no method has a value.
 */
export function bestMethod(cells: readonly Cell[], task: string, metric: StatKey, higherIsBetter = true): Best | undefined {
  const sign = higherIsBetter ? 1 : -1;
  const ranked = cells
    .filter((c) => c.task === task && c.stats[metric].n > 0)
    .sort((a, b) => sign * (b.stats[metric].mean - a.stats[metric].mean) || methodRank(a.method) - methodRank(b.method));
  const top = ranked[0];
  if (!top) return undefined;
  const second = ranked[1];
  const withinNoise = ranked.slice(1).filter((c) => compareStats(top.stats[metric], c.stats[metric]).verdict === 'within-noise');
  return {
    task,
    metric,
    best: top.method,
    ...(second ? { runnerUp: second.method, comparison: compareStats(top.stats[metric], second.stats[metric]) } : {}),
    withinNoise: withinNoise.map((c) => c.method),
  };
}

export interface ReadingSection {
  readonly title: string;
  readonly bullets: readonly string[];
}

function seedsOverview(cells: readonly Cell[]): string[] {
  const counts = new Set(cells.map((c) => c.seeds.length));
  const allSeeds = [...new Set(cells.flatMap((c) => c.seeds))].sort((a, b) => a - b);
  const tasks = taskOrder(cells);
  const methods = new Set(cells.map((c) => c.method));
  const out: string[] = [];
  const runs = cells.reduce((s, c) => s + c.seeds.length, 0);
  out.push(`${runs} fine-tuning runs: ${tasks.length} task${tasks.length === 1 ? '' : 's'} × ${methods.size} method${methods.size === 1 ? '' : 's'} × seed${allSeeds.length === 1 ? '' : 's'} ${allSeeds.join(', ')}.`);
  if (counts.size === 1 && counts.has(1)) {
    out.push(
      'Every number comes from a **single seed**: there is no error estimate, and differences of a few hundredths in accuracy or AUROC can come from the seed alone. Rankings below are observations of this run, not established differences; run with `--seeds 0,1,2` for mean ± std.',
    );
  } else {
    out.push(
      'Numbers are mean ± sample standard deviation (n − 1) over seeds. A difference is called **within noise** when it is no larger than the larger of the two standard deviations — a rule of thumb, not a significance test.',
    );
    if (counts.size > 1) {
      const short = cells.filter((c) => c.seeds.length < Math.max(...counts)).map((c) => `${c.task}/${c.method} (${c.seeds.length})`);
      out.push(`Not every cell has the same number of seeds: ${short.join(', ')}. Treat those cells as less certain.`);
    }
  }
  return out;
}

function bestSection(cells: readonly Cell[]): string[] {
  const out: string[] = [];
  for (const task of taskOrder(cells)) {
    const b = bestMethod(cells, task, 'auroc');
    if (!b) {
      out.push(`**${task}**: no AUROC recorded.`);
      continue;
    }
    const s = (m: Method, k: StatKey) => formatMeanStd(findCell(cells, task, m)!.stats[k]);
    let line = `**${task}**: best AUROC ${code(b.best)} ${s(b.best, 'auroc')}`;
    if (b.runnerUp && b.comparison) {
      const v = verdictText(b.comparison.verdict);
      line += `, next ${code(b.runnerUp)} ${s(b.runnerUp, 'auroc')} (Δ ${formatDelta(b.comparison.diff)}${v ? `, ${v}` : ''})`;
      const others = b.withinNoise.filter((m) => m !== b.runnerUp);
      if (others.length > 0) line += `; also within noise of the best: ${others.map(code).join(', ')}`;
    } else {
      line += ' (the only method run)';
    }
    const a = bestMethod(cells, task, 'acc');
    if (a && b.runnerUp) {
      line += a.best === b.best ? '. It also has the best accuracy' : `. Best accuracy: ${code(a.best)} ${s(a.best, 'acc')}`;
      if (a.comparison?.verdict === 'within-noise') line += ` (within noise of ${code(a.runnerUp!)})`;
      if (a.comparison?.verdict === 'beyond-noise') line += ` (ahead of ${code(a.runnerUp!)} by more than the seed std)`;
    }
    out.push(`${line}.`);
  }
  return out;
}

/** `lora` vs `full` (and `adapter` vs `full`): trainable-parameter ratio and AUROC difference per task. */
function peftSection(cells: readonly Cell[]): string[] {
  const out: string[] = [];
  for (const peft of ['lora', 'adapter'] as const) {
    const parts: string[] = [];
    const ratios: number[] = [];
    const params: number[] = [];
    const diffs: number[] = [];
    for (const task of taskOrder(cells)) {
      const p = findCell(cells, task, peft);
      const f = findCell(cells, task, 'full');
      if (!p || !f || p.stats.auroc.n === 0 || f.stats.auroc.n === 0) continue;
      const cmp = compareStats(p.stats.auroc, f.stats.auroc);
      diffs.push(cmp.diff);
      ratios.push(f.stats.trainable_params.mean / p.stats.trainable_params.mean);
      params.push(p.stats.trainable_params.mean);
      parts.push(`${formatDelta(cmp.diff)} on ${task}${paren(cmp.verdict)}`);
    }
    if (parts.length === 0) continue;
    const range = (xs: number[], fmt: (x: number) => string) => {
      const lo = Math.min(...xs);
      const hi = Math.max(...xs);
      return fmt(lo) === fmt(hi) ? fmt(lo) : `${fmt(lo)}–${fmt(hi)}`;
    };
    const mean = diffs.reduce((s, d) => s + d, 0) / diffs.length;
    const higher = diffs.filter((d) => d > 0).length;
    out.push(
      `${code(peft)} trains ${range(params, formatInt)} parameters, ${range(ratios, (r) => r.toFixed(0))}× fewer than ${code('full')}. ` +
        `AUROC minus ${code('full')}'s: ${parts.join('; ')}. ` +
        `Higher than ${code('full')} on ${higher} of ${diffs.length} task${diffs.length === 1 ? '' : 's'}; mean Δ ${formatDelta(mean)}.`,
    );
  }
  if (out.length === 0) out.push(`No task has both ${code('full')} and a PEFT method, so they cannot be compared.`);
  return out;
}

function pairSection(cells: readonly Cell[], a: Method, b: Method, what: string): string | undefined {
  const parts: string[] = [];
  let higher = 0;
  let beyond = 0;
  let n = 0;
  for (const task of taskOrder(cells)) {
    const ca = findCell(cells, task, a);
    const cb = findCell(cells, task, b);
    if (!ca || !cb || ca.stats.auroc.n === 0 || cb.stats.auroc.n === 0) continue;
    const au = compareStats(ca.stats.auroc, cb.stats.auroc);
    const acc = compareStats(ca.stats.acc, cb.stats.acc);
    n++;
    if (au.diff > 0) higher++;
    if (au.diff > 0 && au.verdict === 'beyond-noise') beyond++;
    parts.push(`${task} AUROC ${formatDelta(au.diff)}${paren(au.verdict)}, acc ${formatDelta(acc.diff)}`);
  }
  if (n === 0) return undefined;
  const multi = cells.some((c) => c.seeds.length > 1);
  const tally = multi
    ? `higher AUROC on ${higher} of ${n} task${n === 1 ? '' : 's'}, by more than the seed std on ${beyond}`
    : `higher AUROC on ${higher} of ${n} task${n === 1 ? '' : 's'} in this single-seed run`;
  return `${what} (${code(a)} minus ${code(b)}): ${parts.join('; ')}. ${tally[0]!.toUpperCase()}${tally.slice(1)}.`;
}

function pretrainingSection(cells: readonly Cell[]): string[] {
  const out: string[] = [];
  const pre = pairSection(cells, 'full', 'scratch', 'Pretraining, same optimiser and budget');
  if (pre) out.push(pre);
  const w = pairSection(cells, 'scratch-weighted', 'scratch', 'Class-weighted loss from scratch');
  if (w) out.push(w);
  if (out.length === 0) out.push(`No task has both ${code('full')} and ${code('scratch')}, so the effect of pretraining is not measured here.`);
  return out;
}

function calibrationSection(cells: readonly Cell[]): string[] {
  const out: string[] = [];
  const withTs = cells.filter((c) => c.stats.ece.n > 0 && c.stats.ece_ts.n > 0);
  if (withTs.length > 0) {
    const lowered = withTs.filter((c) => c.stats.ece_ts.mean < c.stats.ece.mean);
    const raised = withTs.filter((c) => c.stats.ece_ts.mean > c.stats.ece.mean);
    const mean = (k: StatKey) => withTs.reduce((s, c) => s + c.stats[k].mean, 0) / withTs.length;
    let line =
      `Temperature scaling (one temperature fitted on validation NLL, applied to test) lowered ECE in ${lowered.length} of ${withTs.length} task × method results ` +
      `(mean ECE ${mean('ece').toFixed(3)} → ${mean('ece_ts').toFixed(3)})`;
    if (raised.length > 0) {
      const list = raised.map((c) => `${c.task}/${code(c.method)} ${c.stats.ece.mean.toFixed(3)} → ${c.stats.ece_ts.mean.toFixed(3)}`);
      line += ` and raised it in ${raised.length}: ${list.join(', ')}`;
    }
    out.push(`${line}. ECE is a binned estimate; on small test sets its changes of a few thousandths are not meaningful.`);
  }
  const temps = cells.filter((c) => c.stats.temperature.n > 0);
  if (temps.length > 0) {
    const ts = temps.map((c) => c.stats.temperature.mean);
    const over = ts.filter((t) => t > 1).length;
    out.push(
      `Fitted temperatures range ${Math.min(...ts).toFixed(2)}–${Math.max(...ts).toFixed(2)}; T > 1 (the model was over-confident before scaling) in ${over} of ${ts.length}, T < 1 (under-confident) in ${ts.filter((t) => t < 1).length}.`,
    );
  }
  const bests: string[] = [];
  for (const task of taskOrder(cells)) {
    const b = bestMethod(cells, task, 'ece', false);
    if (b && b.runnerUp) bests.push(`${task} ${code(b.best)}${b.comparison ? paren(b.comparison.verdict) : ''}`);
  }
  if (bests.length > 0) out.push(`Lowest ECE before scaling: ${bests.join('; ')}.`);
  return out;
}

/** Where the paper's direction of effect can be checked against ours. */
function paperSection(cells: readonly Cell[], published: readonly PublishedRow[]): string[] {
  const out: string[] = [];
  const overlap = published.filter((p) => findCell(cells, p.task, p.method));
  if (overlap.length === 0) return out;
  const pFull = published.find((p) => p.method === 'full' && p.trainable_params !== undefined);
  const oursFull = pFull && findCell(cells, pFull.task, 'full');
  out.push(
    'The paper’s numbers are one run of its own architecture on its own data pipeline; absolute values are not comparable with ours' +
      (pFull && oursFull
        ? ` (its full fine-tuning on ${pFull.task} trains ${formatInt(pFull.trainable_params!)} parameters, ours ${formatInt(oursFull.stats.trainable_params.mean)})`
        : '') +
      '. Only the direction of an effect is worth comparing.',
  );
  for (const task of [...new Set(published.map((p) => p.task))]) {
    const pf = published.find((p) => p.task === task && p.method === 'full' && p.auroc !== undefined);
    const pb = published.find((p) => p.task === task && (p.method === 'scratch' || p.method === 'scratch-weighted') && p.auroc !== undefined);
    if (!pf || !pb) continue;
    const of = findCell(cells, task, 'full');
    const ob = findCell(cells, task, pb.method);
    if (!of || !ob || of.stats.auroc.n === 0 || ob.stats.auroc.n === 0) continue;
    const paperDiff = pf.auroc! - pb.auroc!;
    const cmp = compareStats(of.stats.auroc, ob.stats.auroc);
    const same = Math.sign(paperDiff) === Math.sign(cmp.diff);
    out.push(
      `${task}: the paper has ${code('full')} minus ${code(pb.method)} AUROC ${formatDelta(paperDiff)}; here ${formatDelta(cmp.diff)}${paren(cmp.verdict)} — ` +
        (same ? 'same direction' : 'opposite direction') +
        (same && cmp.verdict === 'within-noise' ? ', though within noise' : '') +
        '.',
    );
  }
  return out;
}

function caveatsSection(cells: readonly Cell[], notes: readonly DataNote[]): string[] {
  const out: string[] = [];
  const synthetic = notes.filter((n) => n.kind === 'synthetic');
  if (synthetic.length > 0) {
    out.push(
      `**Synthetic data** for ${synthetic.map((n) => n.task).join(', ')}: these numbers test the software, they say nothing about medical images.`,
    );
  }
  for (const kind of ['official', 'official-subset', 're-created', 'user-supplied'] as const) {
    const ns = notes.filter((n) => n.kind === kind);
    if (ns.length === 0) continue;
    out.push(
      `${DATA_KIND_LABEL[kind][0]!.toUpperCase()}${DATA_KIND_LABEL[kind].slice(1)}: ${ns.map((n) => `${n.task} (${code(n.file)}${n.note ? `; ${n.note}` : ''})`).join(', ')}.`,
    );
  }
  if (notes.some((n) => n.kind !== 'official')) {
    out.push('Results on subsets or re-created splits are not comparable with numbers reported on the official MedMNIST test sets.');
  }
  const noted = new Set(notes.map((n) => n.task));
  const unnoted = taskOrder(cells).filter((t) => !noted.has(t));
  if (unnoted.length > 0) out.push(`No data provenance was recorded for ${unnoted.join(', ')}.`);
  return out;
}

/** The whole reading, in the order the report prints it; empty sections are left out. */
export function readResults(
  cells: readonly Cell[],
  dataNotes: readonly DataNote[],
  published: readonly PublishedRow[] = PUBLISHED,
): ReadingSection[] {
  if (cells.length === 0) return [{ title: 'Overview', bullets: ['No results were recorded.'] }];
  const sections: ReadingSection[] = [
    { title: 'Overview', bullets: seedsOverview(cells) },
    { title: 'Best method per task (test AUROC)', bullets: bestSection(cells) },
    { title: 'Parameter-efficient fine-tuning vs full fine-tuning', bullets: peftSection(cells) },
    { title: 'Did pretraining help?', bullets: pretrainingSection(cells) },
    { title: 'Calibration', bullets: calibrationSection(cells) },
    { title: 'Against the paper', bullets: paperSection(cells, published) },
    { title: 'Data caveats', bullets: caveatsSection(cells, dataNotes) },
  ];
  return sections.filter((s) => s.bullets.length > 0);
}
