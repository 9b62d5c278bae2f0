/** The tables of a report, as text (terminal) or Markdown (docs). */
import type { BenchReport, ExternalResult, HeapResult, JitterResult, MicroResult, RttResult, SkippedResult, ThroughputResult } from '../types.js';
import { fmtSi, fmtSize, fmtUs, markdownTable, textTable } from './format.js';
import { fmtFraction, nativeRatios } from './native-ratio.js';
import { checkTargets } from './targets.js';

export interface Table {
  readonly title: string;
  readonly head: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

function cpu(c: Readonly<Record<string, number>>): string {
  return Object.values(c)
    .map((v) => v.toFixed(2))
    .join('/');
}

export function buildTables(report: BenchReport): Table[] {
  const res = report.results;
  const tp = res.filter((r): r is ThroughputResult => r.experiment === 'throughput' && 'bytesPerSec' in r);
  const rtt = res.filter((r): r is RttResult => r.experiment === 'rtt' && 'p50Us' in r);
  const jit = res.filter((r): r is JitterResult => r.experiment === 'jitter');
  const heap = res.filter((r): r is HeapResult => r.experiment === 'heap');
  const micro = res.filter((r): r is MicroResult => r.experiment === 'micro');
  const external = res.filter((r): r is ExternalResult => (r.experiment === 'process' || r.experiment === 'openamp' || r.experiment === 'linux') && 'meanUs' in r);
  const skipped = res.filter((r): r is SkippedResult => 'skipped' in r);
  const tables: Table[] = [];
  const nat = nativeRatios(report);
  if (tp.length) {
    const sizes = [...new Set(tp.map((r) => r.size))].sort((a, b) => a - b);
    const series = [...new Set(tp.map((r) => `${r.contender}|${r.mode}`))];
    const cell = (k: string, s: number, f: (r: ThroughputResult) => string): string => {
      const r = tp.find((x) => `${x.contender}|${x.mode}` === k && x.size === s);
      return r ? f(r) + (r.verified ? '' : ' !') : '-';
    };
    const label = (k: string): string => {
      const [c, m] = k.split('|');
      return m === 'n/a' ? c! : `${c} (${m})`;
    };
    tables.push({ title: `Throughput: bandwidth, one way (policy ${tp[0]!.policy}, window ${tp[0]!.window}; "!" = not every message verified)`, head: ['contender', ...sizes.map(fmtSize)], rows: series.map((k) => [label(k), ...sizes.map((s) => cell(k, s, (r) => fmtSi(r.bytesPerSec, 'B/s')))]) });
    tables.push({ title: 'Throughput: message rate, one way', head: ['contender', ...sizes.map(fmtSize)], rows: series.map((k) => [label(k), ...sizes.map((s) => cell(k, s, (r) => fmtSi(r.msgsPerSec, 'msg/s')))]) });
    if (nat.hasThroughput) {
      tables.push({ title: 'Throughput: message rate as a fraction of native (the C ring of this run at the same size; 1 = as fast as C)', head: ['contender', ...sizes.map(fmtSize)], rows: series.map((k) => [label(k), ...sizes.map((s) => cell(k, s, (r) => fmtFraction(nat.throughput(r))))]) });
    }
    tables.push({ title: 'Throughput: CPU per side (sender/receiver, fraction of one core over the wall time)', head: ['contender', ...sizes.map(fmtSize)], rows: series.map((k) => [label(k), ...sizes.map((s) => cell(k, s, (r) => cpu(r.cpu)))]) });
  }
  if (rtt.length) {
    tables.push({
      title: `Round-trip latency (${rtt[0]!.size} B ping-pong)`,
      head: ['contender', 'policy', 'p50', 'p50 / native', 'p99', 'p99.9', 'p50 min..max', 'cpu client/server', 'samples'],
      rows: rtt.map((r) => {
        const q = nat.rtt(r);
        return [r.contender, r.policy, fmtUs(r.p50Us), q === undefined ? '-' : `${q.toFixed(q >= 10 ? 0 : 2)}x`, fmtUs(r.p99Us), fmtUs(r.p999Us), `${fmtUs(r.p50UsSpread.min)}..${fmtUs(r.p50UsSpread.max)}`, cpu(r.cpu), String(r.samples) + (r.verified ? '' : ' !')];
      }),
    });
  }
  if (jit.length) {
    tables.push({
      title: `Secure periodic task: release jitter and deadline misses (period ${jit[0]!.periodUs} µs, work ${jit[0]!.workUs} µs, deadline ${jit[0]!.deadlineUs} µs)`,
      head: ['mode', 'non-secure load', 'jitter p50', 'p99', 'max', 'misses', 'periods', 'msgs streamed', 'world switches', 'longest receive burst'],
      rows: jit.map((r) => [r.mode, r.load, fmtUs(r.jitterP50Us), fmtUs(r.jitterP99Us), fmtUs(r.jitterMaxUs), String(r.deadlineMisses), String(r.periods), String(r.messagesStreamed), String(r.worldSwitches), r.load === 'none' ? '-' : fmtUs(r.maxServiceUs)]),
    });
  }
  if (heap.length) {
    tables.push({
      title: 'Heap growth over many messages (after GC, same worker)',
      head: ['contender', 'messages', 'heap before', 'heap after', 'growth', 'bytes/message'],
      rows: heap.map((r) => [r.contender, String(r.messages), fmtSi(r.heapBeforeBytes, 'B'), fmtSi(r.heapAfterBytes, 'B'), fmtSi(r.growthBytes, 'B'), r.bytesPerMessage.toFixed(4)]),
    });
  }
  if (micro.length) {
    tables.push({ title: 'Micro benchmarks (median of rounds)', head: ['name', 'ns/op', 'min..max'], rows: micro.map((r) => [r.name, r.nsPerOp.toFixed(1), `${r.nsPerOpSpread.min.toFixed(1)}..${r.nsPerOpSpread.max.toFixed(1)}`]) });
  }
  for (const [exp, title] of [
    ['process', 'Process isolation: the default scenario (signer), partitions as workers vs OS processes'],
    ['openamp', 'OpenAMP pairing across two OS processes (shared file + AF_UNIX kicks), µs per message: median of rounds (min..max)'],
    ['linux', 'Linux 6.1 (UML) user space over AF_VSOCK: our vsock device via vhost-user vs the same guest\'s vsock_loopback (UML runs the guest on one host thread)'],
  ] as const) {
    const rows = external.filter((r) => r.experiment === exp);
    if (rows.length === 0) continue;
    tables.push({
      title,
      head: ['contender', 'kind', 'setting', 'mean', 'p50', 'p99', 'min..max', 'msg/s', 'messages'],
      rows: rows.map((r) => [r.contender, r.kind, r.setting, fmtUs(r.meanUs), r.p50Us !== undefined ? fmtUs(r.p50Us) : '-', r.p99Us !== undefined ? fmtUs(r.p99Us) : '-', r.minUs !== undefined && r.maxUs !== undefined ? `${fmtUs(r.minUs)}..${fmtUs(r.maxUs)}` : '-', fmtSi(r.msgPerSec, 'msg/s'), String(r.messages)]),
    });
  }
  const checks = checkTargets(report).filter((c) => c.met !== undefined);
  if (checks.length) {
    tables.push({ title: 'Targets (ratios from this run)', head: ['target', 'measured', 'met'], rows: checks.map((c) => [c.target, c.measured, c.met ? 'yes' : 'NO']) });
  }
  if (skipped.length) {
    tables.push({ title: 'Skipped', head: ['experiment', 'contender', 'why'], rows: skipped.map((r) => [r.experiment, `${r.contender ?? ''}${r.mode ? ` (${r.mode})` : ''}${r.size ? ` ${fmtSize(r.size)}` : ''}`, r.skipped]) });
  }
  return tables;
}

export function renderText(tables: readonly Table[]): string {
  return tables.map((t) => `${t.title}\n${textTable(t.head, t.rows)}`).join('\n\n');
}

export function renderMarkdown(tables: readonly Table[]): string {
  return tables.map((t) => `**${t.title}**\n\n${markdownTable(t.head, t.rows)}`).join('\n\n');
}
