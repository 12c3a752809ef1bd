// Charts as standalone SVG files and self-contained HTML pages, rendered in Node by Vega-Lite (no DOM, no canvas).
// The reports (lutnn report), the design-space exploration (lutnn dse) and LUT-NA's mixed-precision sweep draw with it.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type ChartSpec = TopLevelSpec;

/** One series point of a scatter or line chart. */
export interface Point {
  x: number;
  y: number;
  /** The series (colour) it belongs to. */
  series?: string;
  /** Shown on hover in the HTML page (an SVG <title>). */
  label?: string;
}

export interface ChartOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  width?: number;
  height?: number;
  /** Logarithmic x axis (energy, area, latency spans). */
  xLog?: boolean;
  yLog?: boolean;
  /** The y axis starts at zero (default: fitted to the data). */
  yZero?: boolean;
}

/** Renders a Vega-Lite spec to a standalone SVG document. */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const vgSpec = compile(spec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg.startsWith('<?xml') ? svg : `<?xml version="1.0" encoding="UTF-8"?>\n${svg}`;
  } finally {
    view.finalize();
  }
}

function scale(log: boolean | undefined, zero: boolean | undefined): Record<string, unknown> {
  return log ? { type: 'log' } : { zero: zero ?? false };
}

/** Points (scatter) with an optional second layer of points joined by a line (a Pareto front, say). */
export function scatterSpec(points: Point[], o: ChartOptions, line?: Point[]): ChartSpec {
  const enc = {
    x: { field: 'x', type: 'quantitative', title: o.xTitle, scale: scale(o.xLog, false) },
    y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: scale(o.yLog, o.yZero) },
  } as const;
  const layers: unknown[] = [
    {
      data: { values: points.map((p) => ({ ...p, series: p.series ?? '', label: p.label ?? '' })) },
      mark: { type: 'point', filled: true, size: 40, opacity: 0.75 },
      encoding: { ...enc, color: { field: 'series', type: 'nominal', title: null }, tooltip: { field: 'label', type: 'nominal' } },
    },
  ];
  if (line && line.length > 0) {
    layers.push({
      data: { values: [...line].sort((a, b) => a.x - b.x).map((p) => ({ ...p, series: p.series ?? '', label: p.label ?? '' })) },
      mark: { type: 'line', point: true, color: '#222', strokeDash: [4, 3] },
      encoding: { ...enc, tooltip: { field: 'label', type: 'nominal' } },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.title,
    width: o.width ?? 520,
    height: o.height ?? 320,
    layer: layers,
  } as ChartSpec;
}

/** Lines, one per series, x ascending (training curves). */
export function lineSpec(points: Point[], o: ChartOptions): ChartSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.title,
    width: o.width ?? 520,
    height: o.height ?? 320,
    data: { values: points.map((p) => ({ ...p, series: p.series ?? '' })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.xTitle, scale: scale(o.xLog, false) },
      y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: scale(o.yLog, o.yZero) },
      color: { field: 'series', type: 'nominal', title: null },
    },
  } as ChartSpec;
}

/** Grouped bars: one bar per (category, series) (per-layer figures). */
export function barSpec(rows: { category: string; series: string; value: number }[], o: ChartOptions): ChartSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.title,
    width: o.width ?? 520,
    height: o.height ?? 320,
    data: { values: rows },
    mark: 'bar',
    encoding: {
      x: { field: 'category', type: 'nominal', title: o.xTitle, sort: null },
      xOffset: { field: 'series', type: 'nominal' },
      y: { field: 'value', type: 'quantitative', title: o.yTitle, scale: scale(o.yLog, o.yZero ?? true) },
      color: { field: 'series', type: 'nominal', title: null },
    },
  } as ChartSpec;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export interface PageSection {
  heading: string;
  /** Paragraph text (escaped). */
  text?: string;
  /** SVG documents from renderSvg, inlined. */
  svgs?: string[];
  /** A table: header row and body rows (escaped). */
  table?: { head: string[]; rows: (string | number)[][] };
}

/** One self-contained HTML page (inline SVG and CSS, no scripts, nothing fetched). */
export function htmlPage(title: string, sections: PageSection[], subtitle?: string): string {
  const body = sections
    .map((s) => {
      const parts = [`<h2>${escapeHtml(s.heading)}</h2>`];
      if (s.text) parts.push(`<p>${escapeHtml(s.text)}</p>`);
      for (const svg of s.svgs ?? []) parts.push(`<figure>${svg.replace(/^<\?xml[^>]*>\s*/, '')}</figure>`);
      if (s.table) {
        const head = s.table.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
        const rows = s.table.rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`).join('\n');
        parts.push(`<table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`);
      }
      return `<section>\n${parts.join('\n')}\n</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
figure { margin: 1em 0; display: inline-block; } table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; } th { background: #f4f4f4; }
td:first-child, th:first-child { text-align: left; } .sub { color: #666; }
</style></head>
<body>
<h1>${escapeHtml(title)}</h1>${subtitle ? `\n<p class="sub">${escapeHtml(subtitle)}</p>` : ''}
${body}
</body></html>
`;
}
