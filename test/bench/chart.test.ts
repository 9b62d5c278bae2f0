import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, lineChart } from '../../src/bench/chart/svg.js';
import { svgToPng } from '../../src/bench/chart/png.js';
import { fmtSize, fmtTick } from '../../src/bench/report/format.js';
import { checkWellFormed } from './xml.js';

const series = [
  { name: 'virtqueue (multi-core)', points: [[64, 1e8], [4096, 3e9], [65536, 6e9]] as [number, number][] },
  { name: 'a <b> & "c"', points: [[64, 2e7], [4096, 5e8]] as [number, number][], dashed: true },
];

describe('lineChart', () => {
  const svg = lineChart({ title: 'Bandwidth & size', xLabel: 'size', yLabel: 'B/s', series, xTicks: [64, 4096, 65536], xFormat: fmtSize, yFormat: (v) => fmtTick(v, 'B/s') });

  it('is well-formed SVG with axes, ticks, a legend entry per series and a path per series', () => {
    checkWellFormed(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('class="axes"');
    expect(svg).toContain('class="legend"');
    expect((svg.match(/<path /g) ?? []).length).toBe(2);
    expect(svg).toContain('stroke-dasharray');
    for (const t of ['64 B', '4 KiB', '64 KiB', '1 GB/s', '100 MB/s', '10 MB/s']) expect(svg).toContain(`>${t}<`);
  });

  it('escapes text', () => {
    expect(svg).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
    expect(svg).toContain('Bandwidth &amp; size');
    expect(escapeXml('<&>"')).toBe('&lt;&amp;&gt;&quot;');
  });

  it('places larger values higher (log y axis) and larger sizes further right', () => {
    const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const [a, b, c] = circles; // first series, sorted by x
    expect(a![0]).toBeLessThan(b![0]!);
    expect(b![0]).toBeLessThan(c![0]!);
    expect(a![1]).toBeGreaterThan(b![1]!);
    expect(b![1]).toBeGreaterThan(c![1]!);
  });

  it('drops non-positive points and survives an empty chart', () => {
    const s = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'z', points: [[0, 1], [10, -1], [Number.NaN, 3]] }] });
    checkWellFormed(s);
    expect(s).not.toContain('<path');
  });
});

describe('barChart', () => {
  it('is well-formed with a bar per finite positive value and a label per category', () => {
    const svg = barChart({ title: 'RTT', xLabel: 'µs', categories: ['virtqueue / poll', 'postMessage / event-loop'], groups: [{ name: 'p50', values: [0.9, 40] }, { name: 'p99', values: [2, Number.NaN] }] });
    checkWellFormed(svg);
    const bars = svg.slice(svg.indexOf('<g class="bars">'));
    expect((bars.match(/<rect /g) ?? []).length).toBe(3);
    expect(svg).toContain('>virtqueue / poll<');
    expect(svg).toContain('class="legend"');
  });
});

describe('svgToPng', () => {
  it('renders a PNG', () => {
    const png = svgToPng(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series }), 1);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(5000);
  });
});
