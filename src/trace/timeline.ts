/**
 * A timeline picture of a trace window, as SVG (the CLI turns it into PNG with the benchmark charts' renderer):
 *
 *   core 0   ███ secure ███░░░ non-secure ░░░███ …      one row per core: who holds it
 *   rt task  |  ▮   |  ▮   |  ▮ ▼                        release ticks, job slices, deadline misses (red ▼)
 *   vq …     ▁▂▃▂▁                                        buffers in flight per queue (step line)
 *   0 ms ───────────────────────────── window end
 */
import type { ChromeEvent, ChromeTrace } from './chrome.js';
import { PID } from './chrome.js';

export interface TimelineOptions {
  /** Window in ms from the trace's start; default: the first 5 ms. */
  readonly startMs?: number;
  readonly endMs?: number;
  readonly width?: number;
  readonly title?: string;
}

const COLORS = { secure: '#b03a2e', nonsecure: '#2e86c1', job: '#27ae60', release: '#7f8c8d', miss: '#e74c3c', counter: '#8e44ad', axis: '#333333' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderTimelineSvg(trace: ChromeTrace, o: TimelineOptions = {}): string {
  const startUs = (o.startMs ?? 0) * 1000;
  const endUs = (o.endMs ?? (o.startMs ?? 0) + 5) * 1000;
  if (!(endUs > startUs)) throw new RangeError(`trace window end ${endUs / 1000} ms must be after its start ${startUs / 1000} ms`);
  const width = o.width ?? 1200;
  const labelW = 150;
  const plotW = width - labelW - 20;
  const x = (ts: number) => labelW + ((Math.min(Math.max(ts, startUs), endUs) - startUs) / (endUs - startUs)) * plotW;
  const inWin = (e: ChromeEvent) => e.ts <= endUs && e.ts + (e.dur ?? 0) >= startUs;
  const threadNames = new Map<string, string>();
  for (const e of trace.traceEvents) if (e.ph === 'M' && e.name === 'thread_name') threadNames.set(`${e.pid}/${e.tid}`, String((e.args as { name: string }).name));

  const rows: { key: string; label: string; kind: 'core' | 'rt' | 'ring' }[] = [];
  const seen = new Set<string>();
  const addRow = (pid: number, tid: number, kind: 'core' | 'rt' | 'ring') => {
    const key = `${pid}/${tid}`;
    if (seen.has(key)) return;
    seen.add(key);
    rows.push({ key, label: threadNames.get(key) ?? key, kind });
  };
  const evs = trace.traceEvents.filter((e) => e.ph !== 'M');
  for (const e of evs) {
    if (e.pid === PID.CORES && e.ph === 'X') addRow(e.pid, e.tid, 'core');
    else if (e.pid === PID.SECURE && e.tid < 90) addRow(e.pid, e.tid, 'rt');
    else if (e.pid === PID.RINGS && e.ph === 'C') addRow(e.pid, e.tid, 'ring');
  }
  const order = { core: 0, rt: 1, ring: 2 };
  rows.sort((a, b) => order[a.kind] - order[b.kind] || a.key.localeCompare(b.key));
  const shownRows = rows.slice(0, 12);
  const rowH = 34;
  const top = 50;
  const height = top + shownRows.length * rowH + 60;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${labelW}" y="22" font-size="15" font-weight="bold">${esc(o.title ?? 'tz-virtio timeline')}</text>`);
  out.push(`<text x="${labelW}" y="40" fill="#555">${(startUs / 1000).toFixed(2)}–${(endUs / 1000).toFixed(2)} ms · secure <tspan fill="${COLORS.secure}">■</tspan> non-secure <tspan fill="${COLORS.nonsecure}">■</tspan> RT job <tspan fill="${COLORS.job}">■</tspan> release <tspan fill="${COLORS.release}">|</tspan> deadline miss <tspan fill="${COLORS.miss}">▼</tspan></text>`);
  shownRows.forEach((row, i) => {
    const y = top + i * rowH;
    const [pidS, tidS] = row.key.split('/');
    const pid = Number(pidS);
    const tid = Number(tidS);
    out.push(`<text x="8" y="${y + rowH / 2 + 4}">${esc(row.label.slice(0, 22))}</text>`);
    out.push(`<line x1="${labelW}" y1="${y + rowH - 2}" x2="${labelW + plotW}" y2="${y + rowH - 2}" stroke="#eeeeee"/>`);
    const mine = evs.filter((e) => e.pid === pid && e.tid === tid && inWin(e));
    if (row.kind === 'core') {
      for (const e of mine) {
        if (e.ph !== 'X') continue;
        const x0 = x(e.ts);
        const w = Math.max(0.5, x(e.ts + (e.dur ?? 0)) - x0);
        out.push(`<rect x="${x0.toFixed(2)}" y="${y + 6}" width="${w.toFixed(2)}" height="${rowH - 12}" fill="${e.name === 'secure' ? COLORS.secure : COLORS.nonsecure}"/>`);
      }
    } else if (row.kind === 'rt') {
      for (const e of mine) {
        if (e.ph === 'X') {
          const x0 = x(e.ts);
          out.push(`<rect x="${x0.toFixed(2)}" y="${y + 10}" width="${Math.max(1, x(e.ts + (e.dur ?? 0)) - x0).toFixed(2)}" height="${rowH - 20}" fill="${COLORS.job}"/>`);
        } else if (e.name === 'release') {
          out.push(`<line x1="${x(e.ts).toFixed(2)}" y1="${y + 4}" x2="${x(e.ts).toFixed(2)}" y2="${y + rowH - 6}" stroke="${COLORS.release}"/>`);
        } else if (e.name === 'deadline miss') {
          const cx = x(e.ts);
          out.push(`<path d="M${(cx - 5).toFixed(2)} ${y + 2} L${(cx + 5).toFixed(2)} ${y + 2} L${cx.toFixed(2)} ${y + 11} Z" fill="${COLORS.miss}"/>`);
        }
      }
    } else {
      const counters = evs.filter((e) => e.pid === pid && e.tid === tid && e.ph === 'C');
      const vals = counters.map((e) => Number(Object.values(e.args ?? {})[0] ?? 0));
      const max = Math.max(1, ...vals);
      let d = '';
      let prevY: number | undefined;
      counters.forEach((e, k) => {
        if (e.ts > endUs) return;
        // values before the window only set where the line starts
        if (e.ts < startUs && counters[k + 1] !== undefined && counters[k + 1]!.ts <= startUs) return;
        const yy = y + rowH - 4 - (vals[k]! / max) * (rowH - 10);
        const xx = x(e.ts);
        d += prevY === undefined ? `M${xx.toFixed(2)} ${yy.toFixed(2)}` : ` L${xx.toFixed(2)} ${prevY.toFixed(2)} L${xx.toFixed(2)} ${yy.toFixed(2)}`;
        prevY = yy;
      });
      if (prevY !== undefined) d += ` L${(labelW + plotW).toFixed(2)} ${prevY.toFixed(2)}`;
      if (d !== '') out.push(`<path d="${d}" fill="none" stroke="${COLORS.counter}" stroke-width="1.2"/>`);
      out.push(`<text x="${labelW + plotW - 4}" y="${y + 12}" text-anchor="end" fill="#777" font-size="10">max ${max}</text>`);
    }
  });
  const axisY = top + shownRows.length * rowH + 10;
  out.push(`<line x1="${labelW}" y1="${axisY}" x2="${labelW + plotW}" y2="${axisY}" stroke="${COLORS.axis}"/>`);
  for (let k = 0; k <= 10; k++) {
    const t = startUs + ((endUs - startUs) * k) / 10;
    const xx = x(t);
    out.push(`<line x1="${xx.toFixed(2)}" y1="${axisY}" x2="${xx.toFixed(2)}" y2="${axisY + 5}" stroke="${COLORS.axis}"/>`);
    out.push(`<text x="${xx.toFixed(2)}" y="${axisY + 18}" text-anchor="middle" font-size="10">${(t / 1000).toFixed(2)} ms</text>`);
  }
  if (rows.length > shownRows.length) out.push(`<text x="${labelW}" y="${axisY + 38}" fill="#777">${rows.length - shownRows.length} more tracks in the JSON trace</text>`);
  out.push('</svg>');
  return out.join('\n');
}
