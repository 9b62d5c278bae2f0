/**
 * A small SVG chart generator (no DOM, no canvas): log-log line charts for throughput vs size and horizontal
 * log-scale bar charts for latencies. Output is standalone SVG 1.1 with text in a generic sans-serif family, so
 * resvg (chart/png.ts) and browsers render it alike.
 *
 *   +------------------------------------------------------------+
 *   |                     title                                  |
 *   |  y ticks |  plot area (grid, lines, markers)  |  legend    |
 *   |          +------------------------------------+            |
 *   |                 x ticks, x label                           |
 *   +------------------------------------------------------------+
 */

export interface Series {
  readonly name: string;
  /** [x, y] pairs, x and y > 0 (log axes); others are dropped. */
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
  readonly color?: string;
}

export interface LineChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly width?: number;
  readonly height?: number;
  /** Tick positions on x (default: powers of 10 in range). */
  readonly xTicks?: readonly number[];
  readonly xFormat?: (v: number) => string;
  readonly yFormat?: (v: number) => string;
}

export interface BarChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly categories: readonly string[];
  /** One bar per group inside each category; values > 0 (log axis), NaN = no bar. */
  readonly groups: readonly { readonly name: string; readonly values: readonly number[]; readonly color?: string }[];
  readonly width?: number;
  readonly xFormat?: (v: number) => string;
}

export const PALETTE: readonly string[] = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22', '#393b79', '#ad494a'];
const FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}" ${FONT} ${attrs}>${escapeXml(s)}</text>`;
}

function defaultFormat(v: number): string {
  const e = Math.log10(v);
  if (Math.abs(e - Math.round(e)) < 1e-9) {
    const k = Math.round(e);
    if (k >= 0 && k <= 3) return String(10 ** k);
    return `1e${k}`;
  }
  return String(v);
}

/** Decades covering [lo, hi]. */
function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

class LogScale {
  private readonly l0: number;
  private readonly l1: number;
  constructor(
    readonly lo: number,
    readonly hi: number,
    private readonly p0: number,
    private readonly p1: number,
  ) {
    this.l0 = Math.log10(lo);
    this.l1 = Math.log10(hi);
  }
  at(v: number): number {
    const f = this.l1 === this.l0 ? 0.5 : (Math.log10(v) - this.l0) / (this.l1 - this.l0);
    return this.p0 + f * (this.p1 - this.p0);
  }
}

export function lineChart(spec: LineChartSpec): string {
  const W = spec.width ?? 960;
  const H = spec.height ?? 540;
  const legendW = 250;
  const m = { l: 112, r: legendW + 20, t: 52, b: 64 };
  const series = spec.series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => x > 0 && y > 0 && Number.isFinite(x) && Number.isFinite(y)) })).filter((s) => s.points.length > 0);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMin = xs.length ? Math.min(...xs) : 1;
  const xMax = xs.length ? Math.max(...xs) : 10;
  const yLo = ys.length ? 10 ** Math.floor(Math.log10(Math.min(...ys))) : 1;
  const yHi = ys.length ? 10 ** Math.ceil(Math.log10(Math.max(...ys))) : 10;
  const xPad = (Math.log10(xMax) - Math.log10(xMin) || 1) * 0.04;
  const x = new LogScale(xMin / 10 ** xPad, xMax * 10 ** xPad, m.l, W - m.r);
  const y = new LogScale(yLo, yHi === yLo ? yLo * 10 : yHi, H - m.b, m.t);
  const xf = spec.xFormat ?? defaultFormat;
  const yf = spec.yFormat ?? defaultFormat;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(text(W / 2 - legendW / 2, 30, spec.title, 'font-size="18" font-weight="bold" text-anchor="middle" fill="#111"'));
  // grid and y ticks (decades, with 2 and 5 as minor lines)
  out.push('<g class="grid" stroke="#e3e3e3" stroke-width="1">');
  for (const d of decades(y.lo, y.hi)) {
    for (const k of [1, 2, 5]) {
      const v = d * k;
      if (v < y.lo || v > y.hi) continue;
      out.push(`<line x1="${m.l}" y1="${n(y.at(v))}" x2="${W - m.r}" y2="${n(y.at(v))}"${k === 1 ? ' stroke="#c8c8c8"' : ''}/>`);
    }
  }
  const xTicks = (spec.xTicks ?? decades(x.lo, x.hi)).filter((v) => v >= x.lo && v <= x.hi);
  for (const v of xTicks) out.push(`<line x1="${n(x.at(v))}" y1="${m.t}" x2="${n(x.at(v))}" y2="${H - m.b}"/>`);
  out.push('</g>');
  // axes
  out.push(`<g class="axes" stroke="#222" stroke-width="1.2"><line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}"/></g>`);
  out.push('<g class="ticks" font-size="12" fill="#222">');
  for (const d of decades(y.lo, y.hi)) if (d >= y.lo && d <= y.hi) out.push(text(m.l - 8, y.at(d) + 4, yf(d), 'text-anchor="end" font-size="12" fill="#222"'));
  for (const v of xTicks) out.push(text(x.at(v), H - m.b + 18, xf(v), 'text-anchor="middle" font-size="12" fill="#222"'));
  out.push('</g>');
  out.push(text((m.l + W - m.r) / 2, H - 18, spec.xLabel, 'font-size="14" text-anchor="middle" fill="#111"'));
  out.push(text(20, (m.t + H - m.b) / 2, spec.yLabel, `font-size="14" text-anchor="middle" fill="#111" transform="rotate(-90 20 ${n((m.t + H - m.b) / 2)})"`));
  // series
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    const d = pts.map(([px, py], j) => `${j === 0 ? 'M' : 'L'}${n(x.at(px))},${n(y.at(py))}`).join(' ');
    out.push(`<g class="series" stroke="${color}" fill="${color}">`);
    out.push(`<path d="${d}" fill="none" stroke-width="2.2"${s.dashed ? ' stroke-dasharray="7 4"' : ''}/>`);
    for (const [px, py] of pts) out.push(`<circle cx="${n(x.at(px))}" cy="${n(y.at(py))}" r="3.2"/>`);
    out.push('</g>');
  });
  // legend
  out.push(`<g class="legend" font-size="13">`);
  const lx = W - legendW;
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const ly = m.t + 10 + i * 22;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="7 4"' : ''}/>`);
    out.push(text(lx + 36, ly + 4, s.name, 'font-size="13" fill="#111"'));
  });
  out.push('</g></svg>');
  return out.join('\n');
}

export function barChart(spec: BarChartSpec): string {
  const W = spec.width ?? 960;
  const labelW = 250;
  const barH = 11;
  const gap = 10;
  const catH = spec.groups.length * barH + gap;
  const m = { l: labelW, r: 40, t: 78, b: 56 };
  const H = m.t + m.b + spec.categories.length * catH;
  const vals = spec.groups.flatMap((g) => g.values).filter((v) => v > 0 && Number.isFinite(v));
  const lo = vals.length ? 10 ** Math.floor(Math.log10(Math.min(...vals))) : 1;
  const hi = vals.length ? 10 ** Math.ceil(Math.log10(Math.max(...vals))) : 10;
  const x = new LogScale(lo, hi === lo ? lo * 10 : hi, m.l, W - m.r);
  const xf = spec.xFormat ?? defaultFormat;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(text(W / 2, 28, spec.title, 'font-size="18" font-weight="bold" text-anchor="middle" fill="#111"'));
  // legend on top
  out.push('<g class="legend" font-size="13">');
  spec.groups.forEach((g, i) => {
    const lx = m.l + i * 150;
    out.push(`<rect x="${lx}" y="44" width="16" height="12" fill="${g.color ?? PALETTE[i % PALETTE.length]}"/>`);
    out.push(text(lx + 22, 55, g.name, 'font-size="13" fill="#111"'));
  });
  out.push('</g>');
  out.push('<g class="grid" stroke="#dddddd" stroke-width="1">');
  for (const d of decades(x.lo, x.hi)) for (const k of [1, 2, 5]) {
    const v = d * k;
    if (v >= x.lo && v <= x.hi) out.push(`<line x1="${n(x.at(v))}" y1="${m.t}" x2="${n(x.at(v))}" y2="${H - m.b}"${k === 1 ? ' stroke="#bbbbbb"' : ''}/>`);
  }
  out.push('</g>');
  out.push(`<g class="axes" stroke="#222" stroke-width="1.2"><line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}"/></g>`);
  out.push('<g class="ticks">');
  for (const d of decades(x.lo, x.hi)) if (d >= x.lo && d <= x.hi) out.push(text(x.at(d), H - m.b + 18, xf(d), 'text-anchor="middle" font-size="12" fill="#222"'));
  out.push('</g>');
  out.push(text((m.l + W - m.r) / 2, H - 16, spec.xLabel, 'font-size="14" text-anchor="middle" fill="#111"'));
  out.push('<g class="bars">');
  spec.categories.forEach((c, ci) => {
    const y0 = m.t + gap / 2 + ci * catH;
    out.push(text(m.l - 8, y0 + (spec.groups.length * barH) / 2 + 4, c, 'text-anchor="end" font-size="12" fill="#111"'));
    spec.groups.forEach((g, gi) => {
      const v = g.values[ci];
      if (v === undefined || !(v > 0) || !Number.isFinite(v)) return;
      const w = Math.max(1, x.at(Math.max(v, x.lo)) - m.l);
      out.push(`<rect x="${m.l}" y="${n(y0 + gi * barH)}" width="${n(w)}" height="${barH - 1}" fill="${g.color ?? PALETTE[gi % PALETTE.length]}"/>`);
    });
  });
  out.push('</g></svg>');
  return out.join('\n');
}
