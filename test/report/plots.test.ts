import { describe, expect, it } from 'vitest';
import type { RunDetail } from '../../src/experiments/types.js';
import { aggregate } from '../../src/report/aggregate.js';
import { buildPlots, interpolateRoc, interpolateRocGrid, lossSpec, macroRoc, paramsSpec, poolReliability, reliabilitySpec, rocSpec } from '../../src/report/plots.js';
import { namespaceSvgIds, renderSvg } from '../../src/report/svg.js';
import { fabricate } from './fabricate.js';

describe('plot data', () => {
  it('pools reliability bins over seeds weighting by count and drops empty bins', () => {
    const pooled = poolReliability([
      [
        { lo: 0, hi: 0.5, count: 2, conf: 0.4, acc: 0.5 },
        { lo: 0.5, hi: 1, count: 0, conf: 0, acc: 0 },
      ],
      [
        { lo: 0, hi: 0.5, count: 6, conf: 0.2, acc: 0 },
        { lo: 0.5, hi: 1, count: 4, conf: 0.9, acc: 1 },
      ],
    ]);
    expect(pooled).toHaveLength(2);
    expect(pooled[0]!.count).toBe(8);
    expect(pooled[0]!.conf).toBeCloseTo((2 * 0.4 + 6 * 0.2) / 8, 12);
    expect(pooled[0]!.acc).toBeCloseTo(1 / 8, 12);
    expect(pooled[1]).toEqual({ lo: 0.5, hi: 1, count: 4, conf: 0.9, acc: 1 });
  });

  it('interpolates ROC curves linearly, taking the top of a vertical segment', () => {
    const fpr = [0, 0, 0.5, 1];
    const tpr = [0, 0.6, 0.8, 1];
    expect(interpolateRoc(fpr, tpr, 0)).toBe(0.6);
    expect(interpolateRoc(fpr, tpr, 0.25)).toBeCloseTo(0.7, 12);
    expect(interpolateRoc(fpr, tpr, 0.5)).toBe(0.8);
    expect(interpolateRoc(fpr, tpr, 1)).toBe(1);
  });

  it('interpolates a whole grid in one pass exactly as point by point', () => {
    const fpr = [0, 0, 0.1, 0.1, 0.35, 0.5, 0.5, 1];
    const tpr = [0, 0.2, 0.3, 0.55, 0.6, 0.7, 0.9, 1];
    const grid = Array.from({ length: 21 }, (_, i) => i / 20);
    expect(interpolateRocGrid(fpr, tpr, grid)).toEqual(grid.map((x) => interpolateRoc(fpr, tpr, x)));
    expect(interpolateRocGrid([0.2, 1], [0.5, 1], [0, 0.1])).toEqual([0, 0]);
  });

  it('macro-averages ROC curves on a common grid and averages their AUCs', () => {
    const perfect = { cls: 0, label: 'a', fpr: [0, 0, 1], tpr: [0, 1, 1], auc: 1 };
    const chance = { cls: 1, label: 'b', fpr: [0, 1], tpr: [0, 1], auc: 0.5 };
    const m = macroRoc([perfect, chance], 11);
    expect(m.auc).toBe(0.75);
    expect(m.fpr[0]).toBe(0);
    expect(m.tpr[0]).toBe(0);
    // at fpr 0.5: (1 + 0.5) / 2
    expect(m.tpr[m.fpr.indexOf(0.5)]).toBeCloseTo(0.75, 12);
    expect(m.tpr.at(-1)).toBe(1);
    // a class missing from the test split (NaN rates and AUC) does not poison the average
    const missing = { cls: 2, label: 'c', fpr: [0, NaN], tpr: [0, NaN], auc: NaN };
    const m2 = macroRoc([perfect, chance, missing], 11);
    expect(m2.tpr).toEqual(m.tpr);
    expect(m2.auc).toBe(0.75);
  });

  it('skips plots with nothing to draw', () => {
    const empty: RunDetail[] = [{ id: 'x', task: 't', method: 'full', seed: 0, loss: [], reliability: [], roc: [] }];
    expect(rocSpec('t', empty)).toBeUndefined();
    expect(lossSpec('t', empty)).toBeUndefined();
    expect(reliabilitySpec('other', empty)).toBeUndefined();
    expect(paramsSpec([])).toBeUndefined();
  });
});

describe('SVG rendering in Node (no browser, no canvas)', () => {
  const input = fabricate({ seeds: [0, 1], tasks: 1, methods: ['scratch', 'full', 'lora'], n: 120 });
  const plots = buildPlots(aggregate(input.rows), input.details);

  it('builds one plot of each kind for a task plus the parameter plot', () => {
    expect(plots.map((p) => p.name)).toEqual(['reliability-pathmnist', 'roc-pathmnist', 'loss-pathmnist', 'params']);
  });

  for (const kind of ['reliability', 'roc', 'loss', 'params'] as const) {
    it(`renders the ${kind} plot`, async () => {
      const p = plots.find((q) => q.kind === kind)!;
      const svg = await renderSvg(p.spec);
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      expect(svg).toMatch(/width="\d+"/);
      // every method drawn appears in the plot (facet header, legend or mark label)
      for (const m of ['scratch', 'full', 'lora']) expect(svg).toContain(m);
      expect(svg).not.toMatch(/NaN/);
    });
  }
});

describe('namespaceSvgIds', () => {
  it('prefixes ids and their references so several SVGs can share one page', () => {
    const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath><linearGradient id="g"/></defs><g clip-path="url(#clip1)"><rect fill="url(#g)"/><use href="#g"/></g><a href="#elsewhere"/></svg>';
    const out = namespaceSvgIds(svg, 'p-roc');
    expect(out).toContain('id="p-roc-clip1"');
    expect(out).toContain('clip-path="url(#p-roc-clip1)"');
    expect(out).toContain('fill="url(#p-roc-g)"');
    expect(out).toContain('href="#p-roc-g"');
    // a reference to something the SVG does not define is left alone
    expect(out).toContain('href="#elsewhere"');
  });

  it('works on vega output that clips', async () => {
    const svg = await renderSvg({
      data: { values: [{ x: 0, y: 0 }, { x: 2, y: 3 }] },
      mark: { type: 'line', clip: true },
      encoding: { x: { field: 'x', type: 'quantitative', scale: { domain: [0, 1] } }, y: { field: 'y', type: 'quantitative' } },
    });
    const ids = [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThan(0);
    const out = namespaceSvgIds(svg, 'p1');
    for (const id of ids) {
      expect(out).toContain(`id="p1-${id}"`);
      expect(out).not.toContain(`url(#${id})`);
    }
  });
});
