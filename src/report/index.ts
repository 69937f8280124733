/**
 * The `stmedfm reproduce` report: DIR/report.md (plots linked from DIR/plots/*.svg) and one
 * self-contained DIR/report.html (plots inline). Every file is written atomically, so an
 * interrupted run leaves the previous complete report, never half of one.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { buildReportModel, renderHtml, renderMarkdown } from './document.js';
import { namespaceSvgIds, renderSvg } from './svg.js';
import type { ReportInput } from './types.js';

export interface WrittenReport {
  readonly markdown: string;
  readonly html: string;
  /** Absolute or DIR-relative paths of the SVG files written. */
  readonly plots: readonly string[];
  /** Plots that failed to render (the rest of the report is still written). */
  readonly plotErrors: readonly { name: string; message: string }[];
}

export async function writeReport(dir: string, input: ReportInput): Promise<WrittenReport> {
  const model = buildReportModel(input);
  const plotDir = join(dir, 'plots');
  await mkdir(plotDir, { recursive: true });
  const files = new Map<string, string>();
  const inline = new Map<string, string>();
  const written: string[] = [];
  const plotErrors: { name: string; message: string }[] = [];
  // one plot at a time: vega is single-threaded anyway, and this keeps peak memory flat
  for (const p of model.plots) {
    let svg: string;
    try {
      svg = await renderSvg(p.spec);
    } catch (err) {
      // a report with one missing plot is far more useful than none after a long run
      plotErrors.push({ name: p.name, message: err instanceof Error ? err.message : String(err) });
      continue;
    }
    const path = join(plotDir, `${p.name}.svg`);
    await writeFileAtomic(path, svg);
    written.push(path);
    files.set(p.name, `plots/${p.name}.svg`);
    inline.set(p.name, namespaceSvgIds(svg, `p-${p.name}`));
  }
  const markdown = join(dir, 'report.md');
  const html = join(dir, 'report.html');
  await writeFileAtomic(markdown, renderMarkdown(model, files));
  await writeFileAtomic(html, renderHtml(model, inline));
  return { markdown, html, plots: written, plotErrors };
}

export type { DataNote, MachineInfo, ReportInput } from './types.js';
export { type Cell, aggregate, METHOD_ORDER } from './aggregate.js';
export { buildReportModel, renderHtml, renderMarkdown, type ReportModel } from './document.js';
export { buildPlots, type Plot, type PlotKind } from './plots.js';
export { bestMethod, compareStats, readResults, type ReadingSection } from './reading.js';
export { namespaceSvgIds, renderSvg } from './svg.js';
export { formatMeanStd, meanStd, type Stat } from './stats.js';
export { calibrationTable, markdownTable, htmlTable, paperTable, resultsTable, type Table } from './tables.js';
