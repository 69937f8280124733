/** The report's "Notes on the runs": multi-label tasks, AUROC n/a reasons, temperatures at a bound, warnings. */
import { describe, expect, it } from 'vitest';
import type { ResultRow } from '../../src/experiments/types.js';
import { buildReportModel } from '../../src/report/document.js';
import { runNotes } from '../../src/report/run_notes.js';
import { fabricate } from './fabricate.js';

describe('runNotes', () => {
  const input = fabricate({ seeds: [0, 1], tasks: 1, methods: ['scratch', 'lora'], n: 60 });
  const rows: ResultRow[] = input.rows.map((r, i) => ({
    ...r,
    multi_label: false,
    temperature_at_bound: i === 0,
    auroc_why: i === 1 ? 'class 3 has no test samples (test split)' : null,
    warnings: i < 2 ? ['train split: class 4 has 1 sample'] : [],
  }));

  it('says why an AUROC is n/a, which temperatures are at their bound, and each warning once with its runs', () => {
    const notes = runNotes(rows)!;
    const [first, second] = rows;
    expect(notes.title).toBe('Notes on the runs');
    expect(notes.bullets).toContain(`AUROC n/a for ${second!.task}/\`${second!.method}\` seed ${second!.seed}: class 3 has no test samples (test split).`);
    expect(notes.bullets.find((b) => /search bound/.test(b))).toContain(`${first!.task}/\`${first!.method}\` seed ${first!.seed}`);
    const w = notes.bullets.filter((b) => b.includes('class 4 has 1 sample'));
    expect(w).toHaveLength(1);
    expect(w[0]).toContain(`seed ${first!.seed}, `);
    expect(notes.bullets.some((b) => /multi-label/.test(b))).toBe(false);
  });

  it('names multi-label tasks and their metrics; is absent when there is nothing to say; appears in the report', () => {
    const ml = rows.map((r) => ({ ...r, multi_label: true, temperature: null, ece_ts: null, brier_ts: null, nll_ts: null, temperature_at_bound: null, auroc_why: null, warnings: [] }));
    expect(runNotes(ml)!.bullets).toEqual([expect.stringMatching(/is multi-label: acc is the accuracy over all labels at p > 0.5/)]);
    expect(runNotes(input.rows)).toBeUndefined();
    const model = buildReportModel({ ...input, rows: ml });
    expect(model.reading.at(-1)!.title).toBe('Notes on the runs');
    // A multi-label row has no temperature: its after-TS cell is n/a, not 0.
    expect(model.calibration.rows[0]![2]!.text).toBe('n/a');
  });
});
