/** Turns trial results (several rounds each) into report rows: medians with min/max, pooled percentiles. */
import { median, sortedQuantile, spread } from './stats.js';
import type { RttResult, SideReport, ThroughputResult, TrialResult } from './types.js';

function key(r: TrialResult): string {
  const s = r.spec;
  return `${s.experiment}|${s.contender}|${s.mode}|${s.policy}|${s.size}`;
}

function group(results: readonly TrialResult[]): Map<string, TrialResult[]> {
  const m = new Map<string, TrialResult[]>();
  for (const r of results) {
    const k = key(r);
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  }
  return m;
}

/** Every side saw every message (warm-up included). */
export function allVerified(r: TrialResult): boolean {
  const total = r.spec.warmup + r.spec.count;
  return r.sides.length > 0 && r.sides.every((s) => s.verified === total);
}

function cpuFractions(rounds: readonly TrialResult[], wall: (r: TrialResult) => number): Record<string, number> {
  const out: Record<string, number> = {};
  const roles = rounds[0]!.sides.map((s) => s.role);
  for (const role of roles) {
    const v = rounds.map((r) => r.sides.find((s) => s.role === role)!.cpuNs / wall(r));
    out[role] = Math.round(median(v) * 100) / 100;
  }
  return out;
}

function sumCounters(sides: readonly SideReport[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sides) for (const [k, v] of Object.entries(s.counters ?? {})) out[`${s.role}.${k}`] = v;
  return out;
}

/** Report order: contender (registry order), mode, size or policy. */
export function orderOf(names: readonly string[]): (a: { contender: string; mode: string; size: number; policy: string }, b: { contender: string; mode: string; size: number; policy: string }) => number {
  const modes = ['multi-core', 'single-core', 'n/a'];
  const pol = ['block', 'spin-then-block', 'poll', 'event-loop'];
  const idx = (c: string): number => (names.indexOf(c) < 0 ? 1e6 : names.indexOf(c));
  return (a, b) => idx(a.contender) - idx(b.contender) || modes.indexOf(a.mode) - modes.indexOf(b.mode) || pol.indexOf(a.policy) - pol.indexOf(b.policy) || a.size - b.size;
}

export function aggregateThroughput(results: readonly TrialResult[]): ThroughputResult[] {
  const out: ThroughputResult[] = [];
  for (const rounds of group(results.filter((r) => r.spec.experiment === 'throughput')).values()) {
    const s = rounds[0]!.spec;
    const rate = rounds.map((r) => r.sides[0]!.messages / (r.sides[0]!.elapsedNs / 1e9));
    const bw = rate.map((x) => x * s.size);
    const rs = spread(rate);
    const bs = spread(bw);
    out.push({
      experiment: 'throughput',
      contender: s.contender,
      mode: s.mode,
      policy: s.policy,
      size: s.size,
      window: s.window,
      messages: s.count,
      rounds: rounds.length,
      msgsPerSec: rs.median,
      bytesPerSec: bs.median,
      msgsPerSecSpread: rs,
      bytesPerSecSpread: bs,
      cpu: cpuFractions(rounds, (r) => r.sides[0]!.elapsedNs),
      verified: rounds.every(allVerified),
      counters: sumCounters(rounds[rounds.length - 1]!.sides),
    });
  }
  return out;
}

export function aggregateRtt(results: readonly TrialResult[], eventLoop: (contender: string) => boolean): RttResult[] {
  const out: RttResult[] = [];
  for (const rounds of group(results.filter((r) => r.spec.experiment === 'rtt')).values()) {
    const s = rounds[0]!.spec;
    const client = (r: TrialResult): SideReport => r.sides.find((x) => x.samples !== undefined) ?? r.sides[0]!;
    let n = 0;
    for (const r of rounds) n += client(r).samples?.length ?? 0;
    const pooled = new Float64Array(n);
    let o = 0;
    for (const r of rounds) {
      const smp = client(r).samples ?? new Float64Array(0);
      pooled.set(smp, o);
      o += smp.length;
    }
    pooled.sort();
    const p50s = rounds.map((r) => sortedQuantile(Float64Array.from(client(r).samples ?? []).sort(), 0.5) / 1000);
    const us = (q: number): number => Math.round((sortedQuantile(pooled, q) / 1000) * 1000) / 1000;
    out.push({
      experiment: 'rtt',
      contender: s.contender,
      mode: s.mode,
      policy: eventLoop(s.contender) ? 'event-loop' : s.policy,
      size: s.size,
      samples: n,
      rounds: rounds.length,
      p50Us: us(0.5),
      p99Us: us(0.99),
      p999Us: us(0.999),
      p50UsSpread: spread(p50s),
      cpu: cpuFractions(rounds, (r) => client(r).elapsedNs),
      verified: rounds.every(allVerified),
    });
  }
  return out;
}
