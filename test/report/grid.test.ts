/** Experiment grids in the report: the varied axes, the base point of the main tables, AUROC against each axis. */
import { describe, expect, it } from 'vitest';
import { baseRows, gridTables, variedAxes } from '../../src/report/grid.js';
import { buildReportModel, renderMarkdown } from '../../src/report/document.js';
import { row } from './helpers.js';

const lora = (seed: number, r: number, auroc: number, shots: number | null = null) => row('pathmnist', 'lora', seed, { lora_rank: r, auroc, shots, run_key: `l-${seed}-${r}-${shots}` });

describe('report grids', () => {
  const rows = [
    row('pathmnist', 'full', 0, { auroc: 0.9, run_key: 'f0' }),
    row('pathmnist', 'full', 1, { auroc: 0.8, run_key: 'f1' }),
    lora(0, 2, 0.7),
    lora(1, 2, 0.8),
    lora(0, 4, 0.85),
    lora(1, 4, 0.95),
    lora(0, 16, 0.6),
    lora(1, 16, 0.6),
  ];

  it('finds the varied axes and shows the default point in the main tables', () => {
    const axes = variedAxes(rows);
    expect(axes.map((a) => [a.key, a.values, a.base])).toEqual([['lora_rank', [2, 4, 16], 4]]);
    expect(baseRows(rows).map((r) => r.run_key)).toEqual(['f0', 'f1', 'l-0-4-null', 'l-1-4-null']);
  });

  it('tabulates test AUROC against LoRA rank with mean ± std over seeds', () => {
    const [g] = gridTables(rows);
    expect(g!.table.columns.map((c) => c.label)).toEqual(['task', 'method', 'LoRA rank 2', 'LoRA rank 4', 'LoRA rank 16']);
    expect(g!.table.rows.map((r) => r.map((c) => c.text))).toEqual([['pathmnist', 'lora', '0.750 ± 0.071 (2 seeds)', '0.900 ± 0.071 (2 seeds)', '0.600 ± 0.000 (2 seeds)']]);
  });

  it('tabulates shots for every method, other axes at their base, "all" last', () => {
    const shotRows = [...rows, lora(0, 4, 0.5, 5), lora(1, 4, 0.7, 5), row('pathmnist', 'full', 0, { shots: 5, auroc: 0.4, run_key: 'f05' })];
    const tables = gridTables(shotRows);
    const shots = tables.find((t) => t.axis.key === 'shots')!;
    expect(shots.table.columns.slice(2).map((c) => c.label)).toEqual(['shots (training examples per class) 5', 'shots (training examples per class) all']);
    expect(shots.table.rows.map((r) => r.map((c) => c.text))).toEqual([
      ['pathmnist', 'full', '0.400 (1 seed)', '0.850 ± 0.071 (2 seeds)'],
      ['pathmnist', 'lora', '0.600 ± 0.141 (2 seeds)', '0.900 ± 0.071 (2 seeds)'],
    ]);
    expect(shots.note).toMatch(/Other axes held at LoRA rank = 4/);
  });

  it('puts a Grid section in the report only when the results vary an axis', () => {
    const input = { rows, details: [], config: {}, dataNotes: [], machine: { cpus: 2, threads: 1, node: 'v20', ort: '1' }, totalSeconds: 1 };
    const md = renderMarkdown(buildReportModel(input), new Map());
    expect(md).toMatch(/## Grid\n\n### Test AUROC against LoRA rank/);
    expect(md).toMatch(/main tables show LoRA rank = 4/);
    const plain = renderMarkdown(buildReportModel({ ...input, rows: baseRows(rows) }), new Map());
    expect(plain).not.toMatch(/## Grid/);
  });
});
