/**
 * The report as one model (tables, reading, plots, run facts) and its two renderings: Markdown
 * that links plots/*.svg, and one self-contained HTML page with the SVGs inline (no scripts,
 * fonts, stylesheets or images fetched from anywhere).
 */
import type { Method } from '../model/stmedfm.js';
import { type Cell, METHOD_LABEL, aggregate, methodsPresent, taskOrder } from './aggregate.js';
import { type GridTable, baseRows, formatAxisValue, gridHeading, gridTables, variedAxes } from './grid.js';
import { escapeHtml } from './html_util.js';
import { type Plot, buildPlots } from './plots.js';
import { type ReadingSection, readResults } from './reading.js';
import { runNotes } from './run_notes.js';
import { formatDuration } from './stats.js';
import { type Table, calibrationTable, dataTable, htmlTable, markdownTable, paperTable, resultsTable, validationTable } from './tables.js';
import type { ReportInput } from './types.js';

export interface ReportModel {
  readonly title: string;
  readonly summary: string;
  readonly warning?: string;
  readonly cells: readonly Cell[];
  readonly results: Table;
  /** Experiment-grid axes (shots, LoRA rank/alpha, adapter width) the results vary, one table each. */
  readonly grid: readonly GridTable[];
  readonly paper: Table;
  readonly calibration: Table;
  readonly validation: Table;
  readonly data: Table;
  readonly reading: readonly ReadingSection[];
  readonly plots: readonly Plot[];
  readonly methods: readonly Method[];
  readonly machine: readonly [string, string][];
  readonly configJson: string;
}

export const RESULTS_NOTE =
  'Test split. Mean ± sample standard deviation (n − 1) over seeds; a single seed shows the value alone. ' +
  'Bold: best mean of the column within the task (not a significance test). ECE: 15 equal-width confidence bins. ' +
  '“After TS”: after temperature scaling fitted on validation NLL. Train time: wall-clock seconds of the fine-tuning run.';

export const PAPER_NOTE =
  'Paper columns: the published single-run numbers (SPEC section 1) — their architecture, their data pipeline, one seed. ' +
  'They are printed for orientation; absolute values are not comparable with ours, and Δ is ours minus the paper’s. ' +
  'The paper’s LoRA and adapter variants train 4,041–5,225 parameters.';

export const CALIBRATION_NOTE =
  'Test split. TS: one temperature T per run, fitted on the validation NLL (T > 1 softens over-confident probabilities). ' +
  'Classwise ECE: the ECE of each class’s one-vs-rest probability, averaged over classes.';

/** The run notes after the generated reading (when there are any). */
function withRunNotes(reading: readonly ReadingSection[], notes: ReadingSection | undefined): ReadingSection[] {
  return notes ? [...reading, notes] : [...reading];
}

export function buildReportModel(input: ReportInput): ReportModel {
  // With a grid, the main tables and plots show its base point; the grid tables show the rest.
  const axes = variedAxes(input.rows);
  const main = baseRows(input.rows);
  const mainKeys = new Set(main.map((r) => r.run_key));
  const details = axes.length ? input.details.filter((d) => d.run_key === undefined || mainKeys.has(d.run_key)) : input.details;
  const cells = aggregate(main);
  const tasks = taskOrder(cells);
  const methods = methodsPresent(cells);
  const seeds = [...new Set(input.rows.map((r) => r.seed))].sort((a, b) => a - b);
  const m = input.machine;
  const summary =
    `${tasks.length} task${tasks.length === 1 ? '' : 's'} (${tasks.join(', ') || 'none'}) × ${methods.length} method${methods.length === 1 ? '' : 's'} × ` +
    `${seeds.length} seed${seeds.length === 1 ? '' : 's'} (${seeds.join(', ') || 'none'}). ` +
    (axes.length
      ? `Grid over ${axes.map((a) => `${a.label} (${a.values.map(formatAxisValue).join(', ')})`).join(', ')}: ${input.rows.length} runs; the main tables show ${axes.map((a) => `${a.label} = ${formatAxisValue(a.base)}`).join(', ')}. `
      : '') +
    `Total wall time ${formatDuration(input.totalSeconds)} on ${m.cpus} CPU${m.cpus === 1 ? '' : 's'} with ${m.threads} ONNX Runtime thread${m.threads === 1 ? '' : 's'}.`;
  const synthetic = input.dataNotes.filter((n) => n.kind === 'synthetic').map((n) => n.task);
  return {
    title: input.title ?? 'STMedFM reproduce report',
    summary,
    ...(synthetic.length > 0
      ? { warning: `Synthetic data for ${synthetic.join(', ')}: these results check the software and say nothing about medical images.` }
      : {}),
    cells,
    results: resultsTable(cells),
    grid: gridTables(input.rows),
    paper: paperTable(cells),
    calibration: calibrationTable(cells),
    validation: validationTable(cells),
    data: dataTable(input.dataNotes),
    reading: withRunNotes(readResults(cells, input.dataNotes), runNotes(input.rows)),
    plots: buildPlots(cells, details),
    methods,
    machine: [
      ['CPUs', String(m.cpus)],
      ['ONNX Runtime threads', String(m.threads)],
      ['Node.js', m.node],
      ['onnxruntime-node', m.ort],
      ['total wall time', formatDuration(input.totalSeconds)],
    ],
    configJson: JSON.stringify(input.config, null, 2) ?? 'null',
  };
}

// ---------------------------------------------------------------------------------------------
// Markdown

export function renderMarkdown(model: ReportModel, plotFiles: ReadonlyMap<string, string>): string {
  const out: string[] = [];
  out.push(`# ${model.title}`, '');
  if (model.warning) out.push(`> **Warning.** ${model.warning}`, '');
  out.push(model.summary, '');
  out.push('## Results', '', markdownTable(model.results), '', `_${RESULTS_NOTE}_`, '');
  if (model.paper.rows.length > 0) {
    out.push('### Beside the paper’s published numbers', '', markdownTable(model.paper), '', `_${PAPER_NOTE}_`, '');
  }
  if (model.grid.length > 0) {
    out.push('## Grid', '');
    for (const g of model.grid) out.push(`### ${gridHeading(g.axis)}`, '', markdownTable(g.table), '', `_${g.note}_`, '');
  }
  out.push('## What the numbers show', '');
  for (const s of model.reading) {
    out.push(`### ${s.title}`, '', ...s.bullets.map((b) => `- ${b}`), '');
  }
  out.push('## Plots', '');
  for (const p of model.plots) {
    out.push(`### ${p.title}`, '');
    const file = plotFiles.get(p.name);
    out.push(file ? `![${p.title}](${file})` : '_(plot could not be rendered)_', '', `_${p.caption}_`, '');
  }
  out.push('## Calibration and validation details', '', markdownTable(model.calibration), '', `_${CALIBRATION_NOTE}_`, '');
  out.push(markdownTable(model.validation), '');
  if (model.data.rows.length > 0) out.push('## Data', '', markdownTable(model.data), '');
  out.push('## Methods', '', ...model.methods.map((m) => `- \`${m}\`: ${METHOD_LABEL[m]}`), '');
  out.push('## Machine', '', ...model.machine.map(([k, v]) => `- ${k}: ${v}`), '');
  out.push('## Configuration', '', '```json', model.configJson, '```', '');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// HTML

/** The reading's Markdown-lite (`code`, **bold**) as HTML. */
export function inlineMarkdownToHtml(s: string): string {
  return escapeHtml(s)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

const CSS = `
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; background: #fff;
  max-width: 1240px; margin: 0 auto; padding: 24px 28px 64px; line-height: 1.5; font-size: 15px; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 16px; margin: 22px 0 8px; }
p.summary { color: #444; margin-top: 4px; }
.warning { background: #fff4e5; border: 1px solid #f0b35a; border-radius: 4px; padding: 10px 14px; margin: 12px 0; }
nav.toc { font-size: 14px; margin: 12px 0 4px; }
nav.toc a { margin-right: 14px; color: #2a5d9f; text-decoration: none; }
.table-wrap { overflow-x: auto; margin: 8px 0; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e6e6e6; white-space: nowrap; text-align: left; }
th { background: #f4f5f7; font-weight: 600; border-bottom: 1px solid #ccc; white-space: normal; vertical-align: bottom; }
td.paper { background: #fbf3e2; color: #6b4e16; }
th.paper { background: #f3e2bd; }
td.num, th.num { text-align: right; }
tr.group td { border-top: 2px solid #bbb; }
table.data td { white-space: normal; }
p.note { font-size: 13px; color: #555; max-width: 980px; }
ul.reading li { margin: 4px 0; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.92em; background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
figure { margin: 10px 0 26px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: #555; max-width: 900px; margin-top: 4px; }
.plots-task { display: flex; flex-wrap: wrap; gap: 8px 36px; align-items: flex-start; }
.plots-task figure { flex: 0 1 auto; }
pre { background: #f6f6f6; padding: 10px 12px; font-size: 12px; overflow-x: auto; border-radius: 4px; }
dl.machine { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; font-size: 14px; }
dl.machine dt { color: #555; }
dl.machine dd { margin: 0; }
`;

function tableBlock(t: Table, className: string): string {
  return `<div class="table-wrap">\n${htmlTable(t, className)}\n</div>`;
}

function figure(p: Plot, svg: string | undefined): string {
  const body = svg ?? '<p class="note">(plot could not be rendered)</p>';
  // the caption wraps at the plot's width instead of widening the figure (so two plots fit a row)
  const width = svg ? /^<svg[^>]*\swidth="(\d+(?:\.\d+)?)"/.exec(svg)?.[1] : undefined;
  const style = width ? ` style="max-width: ${Math.max(Number(width), 320)}px"` : '';
  return `<figure id="plot-${escapeHtml(p.name)}"${style}>\n${body}\n<figcaption>${escapeHtml(p.caption)}</figcaption>\n</figure>`;
}

/** `svgs` maps plot name -> SVG markup (ids already made unique per plot). */
export function renderHtml(model: ReportModel, svgs: ReadonlyMap<string, string>): string {
  const h: string[] = [];
  h.push('<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">');
  h.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  h.push(`<title>${escapeHtml(model.title)}</title>`, `<style>${CSS}</style>`, '</head>', '<body>');
  h.push(`<h1>${escapeHtml(model.title)}</h1>`);
  h.push(`<p class="summary">${escapeHtml(model.summary)}</p>`);
  if (model.warning) h.push(`<div class="warning"><strong>Warning.</strong> ${escapeHtml(model.warning)}</div>`);
  const toc: [string, string][] = [
    ['results', 'Results'],
    ['reading', 'What the numbers show'],
    ['plots', 'Plots'],
    ['calibration', 'Calibration details'],
    ['data', 'Data'],
    ['config', 'Machine & config'],
  ];
  h.push(`<nav class="toc">${toc.map(([id, t]) => `<a href="#${id}">${escapeHtml(t)}</a>`).join('')}</nav>`);

  h.push('<h2 id="results">Results</h2>', tableBlock(model.results, 'results'), `<p class="note">${escapeHtml(RESULTS_NOTE)}</p>`);
  if (model.paper.rows.length > 0) {
    h.push('<h3>Beside the paper’s published numbers</h3>', tableBlock(model.paper, 'paper'), `<p class="note">${escapeHtml(PAPER_NOTE)}</p>`);
  }

  if (model.grid.length > 0) {
    h.push('<h2 id="grid">Grid</h2>');
    for (const g of model.grid) h.push(`<h3>${escapeHtml(gridHeading(g.axis))}</h3>`, tableBlock(g.table, 'results'), `<p class="note">${escapeHtml(g.note)}</p>`);
  }
  h.push('<h2 id="reading">What the numbers show</h2>');
  for (const s of model.reading) {
    h.push(`<h3>${escapeHtml(s.title)}</h3>`, '<ul class="reading">', ...s.bullets.map((b) => `<li>${inlineMarkdownToHtml(b)}</li>`), '</ul>');
  }

  h.push('<h2 id="plots">Plots</h2>');
  const perTask = new Map<string, Plot[]>();
  const global: Plot[] = [];
  for (const p of model.plots) {
    if (p.task === undefined) global.push(p);
    else perTask.set(p.task, [...(perTask.get(p.task) ?? []), p]);
  }
  for (const [task, ps] of perTask) {
    h.push(`<h3>${escapeHtml(task)}</h3>`);
    const rel = ps.filter((p) => p.kind === 'reliability');
    const rest = ps.filter((p) => p.kind !== 'reliability');
    for (const p of rel) h.push(figure(p, svgs.get(p.name)));
    if (rest.length > 0) h.push('<div class="plots-task">', ...rest.map((p) => figure(p, svgs.get(p.name))), '</div>');
  }
  for (const p of global) h.push('<h3>Across tasks</h3>', figure(p, svgs.get(p.name)));

  h.push('<h2 id="calibration">Calibration and validation details</h2>', tableBlock(model.calibration, 'results'));
  h.push(`<p class="note">${escapeHtml(CALIBRATION_NOTE)}</p>`, tableBlock(model.validation, 'results'));
  h.push('<h2 id="data">Data</h2>');
  if (model.data.rows.length > 0) h.push(tableBlock(model.data, 'data'));
  else h.push('<p class="note">No data provenance was recorded.</p>');
  h.push('<h3>Methods</h3>', '<ul>', ...model.methods.map((m) => `<li><code>${escapeHtml(m)}</code>: ${escapeHtml(METHOD_LABEL[m])}</li>`), '</ul>');

  h.push('<h2 id="config">Machine and configuration</h2>');
  h.push('<dl class="machine">', ...model.machine.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`), '</dl>');
  h.push('<details><summary>Resolved configuration (JSON)</summary>', `<pre>${escapeHtml(model.configJson)}</pre>`, '</details>');
  h.push('</body>', '</html>', '');
  return h.join('\n');
}
