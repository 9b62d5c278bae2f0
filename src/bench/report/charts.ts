/** The charts of a report: bandwidth and message rate vs size (log-log), rtt percentiles (log bars). */
import { barChart, lineChart, PALETTE, type Series } from '../chart/svg.js';
import type { BenchReport, RttResult, ThroughputResult } from '../types.js';
import { fmtSize, fmtTick } from './format.js';
import { fmtFraction, nativeRatios } from './native-ratio.js';

export interface Chart {
  readonly name: string;
  readonly title: string;
  readonly svg: string;
}

function throughputSeries(rows: readonly ThroughputResult[], y: (r: ThroughputResult) => number): Series[] {
  const names = [...new Set(rows.map((r) => r.contender))];
  const out: Series[] = [];
  for (const r of rows) {
    const label = r.mode === 'n/a' ? r.contender : `${r.contender} (${r.mode})`;
    let s = out.find((x) => x.name === label) as (Series & { points: [number, number][] }) | undefined;
    if (!s) {
      s = { name: label, points: [], dashed: r.mode === 'single-core', color: PALETTE[names.indexOf(r.contender) % PALETTE.length]! };
      out.push(s);
    }
    s.points.push([r.size, y(r)]);
  }
  return out;
}

export function buildCharts(report: BenchReport): Chart[] {
  const tp = report.results.filter((r): r is ThroughputResult => r.experiment === 'throughput' && 'bytesPerSec' in r);
  const rtt = report.results.filter((r): r is RttResult => r.experiment === 'rtt' && 'p50Us' in r);
  const charts: Chart[] = [];
  const nat = nativeRatios(report);
  const env = `${report.env.cpu}, ${report.env.cores} cores, Node ${report.env.node}`;
  if (tp.length) {
    const sizes = [...new Set(tp.map((r) => r.size))].sort((a, b) => a - b);
    const title1 = `One-way bandwidth vs message size (${env})`;
    charts.push({
      name: 'throughput-bandwidth',
      title: title1,
      svg: lineChart({ title: 'One-way bandwidth vs message size', xLabel: `message size (window ${tp[0]!.window}; ${env})`, yLabel: 'bytes per second', series: throughputSeries(tp, (r) => r.bytesPerSec), xTicks: sizes, xFormat: fmtSize, yFormat: (v) => fmtTick(v, 'B/s') }),
    });
    charts.push({
      name: 'throughput-rate',
      title: `One-way message rate vs message size (${env})`,
      svg: lineChart({ title: 'One-way message rate vs message size', xLabel: `message size (window ${tp[0]!.window}; ${env})`, yLabel: 'messages per second', series: throughputSeries(tp, (r) => r.msgsPerSec), xTicks: sizes, xFormat: fmtSize, yFormat: (v) => fmtTick(v, 'msg/s') }),
    });
    if (nat.hasThroughput) {
      const rows = tp.filter((r) => r.contender !== 'native' && nat.throughput(r) !== undefined);
      charts.push({
        name: 'throughput-vs-native',
        title: `One-way message rate as a fraction of native (C ring, same run) vs message size (${env})`,
        svg: lineChart({ title: 'Message rate as a fraction of native (C ring, same run)', xLabel: `message size (window ${tp[0]!.window}; ${env})`, yLabel: 'fraction of native msg/s (1 = C)', series: throughputSeries(rows, (r) => nat.throughput(r)!), xTicks: sizes, xFormat: fmtSize, yFormat: (v) => fmtFraction(v) }),
      });
    }
  }
  if (rtt.length) {
    const rows = [...rtt].sort((a, b) => a.p50Us - b.p50Us);
    charts.push({
      name: 'rtt',
      title: `Round-trip latency, ${rtt[0]!.size} B ping-pong (${env})`,
      svg: barChart({
        title: `Round-trip latency (${rtt[0]!.size} B ping-pong), log scale`,
        xLabel: `microseconds (${env})`,
        categories: rows.map((r) => {
          const q = nat.rtt(r);
          return `${r.contender} / ${r.policy}${q === undefined || r.contender === 'native' ? '' : ` (${q.toFixed(q >= 10 ? 0 : 1)}x native)`}`;
        }),
        groups: [
          { name: 'p50', values: rows.map((r) => r.p50Us) },
          { name: 'p99', values: rows.map((r) => r.p99Us) },
          { name: 'p99.9', values: rows.map((r) => r.p999Us) },
        ],
        xFormat: (v) => (v >= 1000 ? `${Number((v / 1000).toPrecision(3))} ms` : `${Number(v.toPrecision(3))} µs`),
      }),
    });
  }
  return charts;
}
