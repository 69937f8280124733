import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WrittenReport, writeReport } from '../../src/report/index.js';
import { fabricate } from './fabricate.js';

describe('writeReport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stmedfm-report-'));
  const input = fabricate({ seeds: [0, 1], tasks: 2, methods: ['scratch', 'full', 'adapter'], n: 150 });
  let written: WrittenReport;
  let html: string;
  let md: string;

  beforeAll(async () => {
    writeFileSync(join(dir, 'report.html'), 'an older report');
    written = await writeReport(dir, input);
    html = readFileSync(written.html, 'utf8');
    md = readFileSync(written.markdown, 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes report.md, report.html and one SVG per plot, replacing the old report and leaving no temp files', () => {
    expect(written.plotErrors).toEqual([]);
    // 2 tasks x (reliability, roc, loss) + params
    expect(written.plots).toHaveLength(7);
    for (const p of written.plots) expect(readFileSync(p, 'utf8').startsWith('<svg')).toBe(true);
    expect(html).not.toBe('an older report');
    const leftovers = [...readdirSync(dir), ...readdirSync(join(dir, 'plots'))].filter((f) => f.endsWith('.tmp') || f.startsWith('.'));
    expect(leftovers).toEqual([]);
  });

  it('HTML is self-contained: inline SVGs, no external scripts, styles, fonts or images', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.match(/<svg[\s>]/g)).toHaveLength(7);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<img\b/i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);
    // attributes that fetch: only in-page anchors allowed
    for (const m of html.matchAll(/\s(?:src|href|xlink:href)\s*=\s*["']([^"']*)["']/gi)) expect(m[1]!.startsWith('#')).toBe(true);
    // ids are unique across the inlined SVGs
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('HTML and Markdown carry the tables, the reading and the data caveats', () => {
    for (const doc of [html, md]) {
      expect(doc).toContain('What the numbers show');
      expect(doc).toContain('AUROC (paper)');
      expect(doc).toContain('Subset of the official split: dermamnist');
      expect(doc).toContain('137,673');
      expect(doc).toContain(' ± ');
    }
    expect(html).toContain('<strong>within noise</strong>');
  });

  it('Markdown links every plot as a file under plots/', () => {
    const links = [...md.matchAll(/!\[[^\]]*\]\((plots\/[^)]+\.svg)\)/g)].map((m) => m[1]!);
    expect(links).toHaveLength(7);
    for (const l of links) expect(existsSync(join(dir, l))).toBe(true);
  });

  it('the same input gives the same report (a resumed run ends in the same files)', async () => {
    const again = mkdtempSync(join(tmpdir(), 'stmedfm-report-'));
    try {
      const w = await writeReport(again, input);
      expect(readFileSync(w.html, 'utf8')).toBe(html);
      expect(readFileSync(w.markdown, 'utf8')).toBe(md);
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });
});
