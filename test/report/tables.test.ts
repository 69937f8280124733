import { describe, expect, it } from 'vitest';
import { aggregate } from '../../src/report/aggregate.js';
import { htmlTable, markdownTable, paperTable, resultsTable } from '../../src/report/tables.js';
import { row } from './helpers.js';

describe('aggregate', () => {
  it('orders tasks by first appearance and methods by protocol, and counts a re-recorded seed once', () => {
    const cells = aggregate([
      row('dermamnist', 'lora', 0),
      row('pathmnist', 'full', 0),
      row('dermamnist', 'scratch', 0),
      row('dermamnist', 'scratch', 1, { acc: 0.1 }),
      row('dermamnist', 'scratch', 1, { acc: 0.7 }), // the same run recorded again after a resume: last wins
    ]);
    expect(cells.map((c) => `${c.task}/${c.method}`)).toEqual(['dermamnist/scratch', 'dermamnist/lora', 'pathmnist/full']);
    expect(cells[0]!.seeds).toEqual([0, 1]);
    expect(cells[0]!.stats.acc.mean).toBeCloseTo(0.6, 12);
  });
});

describe('results table', () => {
  const rows = [
    row('pathmnist', 'scratch', 0, { acc: 0.5, auroc: 0.85, train_seconds: 10 }),
    row('pathmnist', 'scratch', 1, { acc: 0.6, auroc: 0.86, train_seconds: 12 }),
    row('pathmnist', 'scratch', 2, { acc: 0.7, auroc: 0.87, train_seconds: 14 }),
    row('pathmnist', 'full', 0, { acc: 0.7, auroc: 0.9, ece: 0.2 }),
    row('pathmnist', 'full', 1, { acc: 0.8, auroc: 0.92, ece: 0.2 }),
    row('pathmnist', 'full', 2, { acc: 0.75, auroc: 0.91, ece: 0.2 }),
    row('bloodmnist', 'lora', 0, { acc: 0.9123 }),
  ];
  const table = resultsTable(aggregate(rows));
  const col = (label: string) => table.columns.findIndex((c) => c.label === label);

  it('shows mean ± sample std over seeds, computed by hand', () => {
    const scratch = table.rows[0]!;
    expect(scratch[0]!.text).toBe('pathmnist');
    expect(scratch[1]!.text).toBe('scratch');
    expect(scratch[col('seeds')]!.text).toBe('3');
    expect(scratch[col('acc')]!.text).toBe('0.600 ± 0.100');
    expect(scratch[col('AUROC')]!.text).toBe('0.860 ± 0.010');
    expect(scratch[col('train time (s)')]!.text).toBe('12.0 ± 2.0');
    expect(scratch[col('trainable params')]!.text).toBe('137,673');
    // full: acc 0.7, 0.8, 0.75 -> mean 0.75, std sqrt(0.005 / 2) = 0.05
    expect(table.rows[1]![col('acc')]!.text).toBe('0.750 ± 0.050');
    // constant over seeds -> std 0
    expect(table.rows[1]![col('ECE')]!.text).toBe('0.200 ± 0.000');
  });

  it('shows a single seed as the mean alone', () => {
    const lora = table.rows[2]!;
    expect(lora[0]!.text).toBe('bloodmnist');
    expect(lora[col('acc')]!.text).toBe('0.912');
    expect(lora[col('trainable params')]!.text).toBe('3,657');
  });

  it('marks the best mean per task, and nothing in a task with one method', () => {
    expect(table.rows[1]![col('acc')]!.strong).toBe(true);
    expect(table.rows[0]![col('acc')]!.strong).toBeFalsy();
    // lower ECE is better
    expect(table.rows[0]![col('ECE')]!.strong).toBe(true);
    expect(table.rows[2]!.some((c) => c.strong)).toBe(false);
    expect(table.groupStart).toEqual([true, false, true]);
  });

  it('renders Markdown and HTML with the same cells', () => {
    const md = markdownTable(table);
    const lines = md.split('\n');
    expect(lines[0]).toBe('| task | method | seeds | acc | AUROC | ECE | Brier | NLL | ECE after TS | trainable params | train time (s) |');
    expect(lines[1]).toBe('|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    expect(lines[3]).toContain('| **0.750 ± 0.050** |');
    const html = htmlTable(table);
    expect(html).toContain('<td class="num"><strong>0.750 ± 0.050</strong></td>');
    expect(html).toContain('<tr class="group">');
    expect(markdownTable({ columns: [{ label: 'a', align: 'left' }], rows: [[{ text: 'x|y' }]], groupStart: [true] })).toContain('x\\|y');
  });
});

describe('undefined metrics', () => {
  it('prints n/a for a metric no seed could compute and says how many seeds a partial cell averages', () => {
    const t = resultsTable(aggregate([row('d', 'full', 0, { auroc: NaN }), row('d', 'lora', 0, { auroc: NaN }), row('d', 'lora', 1, { auroc: 0.9 })]));
    const au = t.columns.findIndex((c) => c.label === 'AUROC');
    expect(t.rows[0]![au]!.text).toBe('n/a');
    expect(t.rows[1]![au]!.text).toBe('0.900 (n=1)');
  });
});

describe('paper table', () => {
  it('puts the published numbers beside ours only where both exist, labelled as the paper’s', () => {
    const cells = aggregate([
      row('pathmnist', 'full', 0, { acc: 0.65, auroc: 0.92 }),
      row('pathmnist', 'scratch-weighted', 0),
      row('organmnist3d', 'full', 0),
    ]);
    const t = paperTable(cells);
    expect(t.rows).toHaveLength(1);
    const labels = t.columns.map((c) => c.label);
    expect(labels).toContain('AUROC (paper)');
    expect(t.columns.filter((c) => c.paper).map((c) => c.label)).toEqual(['acc (paper)', 'AUROC (paper)', 'trainable params (paper)']);
    const r = t.rows[0]!.map((c) => c.text);
    expect(r[labels.indexOf('acc (paper)')]).toBe('0.634');
    expect(r[labels.indexOf('Δ acc')]).toBe('+0.016');
    expect(r[labels.indexOf('AUROC (paper)')]).toBe('0.914');
    expect(r[labels.indexOf('Δ AUROC')]).toBe('+0.006');
    expect(r[labels.indexOf('trainable params (paper)')]).toBe('160,105');
    expect(htmlTable(t)).toContain('<th class="num paper">AUROC (paper)</th>');
  });
});
