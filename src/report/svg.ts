/**
 * vega-lite spec -> SVG string, headless: vega's View with renderer 'none' and toSVG() needs no
 * browser and no canvas package (text widths are estimated). vega is imported lazily so that
 * loading the report module (e.g. by the CLI) costs nothing until a plot is drawn.
 */
import type { TopLevelSpec } from 'vega-lite';

/** Shared look: one font stack, no external fonts, white background. */
const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  background: 'white',
  padding: 8,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 10, titleFontSize: 11, titleFontWeight: 'normal', gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 14, fontWeight: 'bold', offset: 10 },
  header: { labelFontSize: 12 },
} as const;

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vl, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const compiled = vl.compile(spec, { config: CONFIG as never }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Prefixes every id an SVG defines (clip paths, gradients) and every reference to one. Several
 * SVGs inlined in one HTML document share a single id space, and vega numbers its clip paths
 * from 1 in each SVG, so without this one plot would clip by another plot's rectangle.
 */
export function namespaceSvgIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]!);
  if (ids.size === 0) return svg;
  const rename = (id: string) => (ids.has(id) ? `${prefix}-${id}` : id);
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_, a: string, id: string, b: string) => `${a}${rename(id)}${b}`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${rename(id)})`)
    .replace(/((?:xlink:)?href=")#([^"]+)(")/g, (_, a: string, id: string, b: string) => `${a}#${rename(id)}${b}`);
}
