/**
 * Every contender as a fraction of `native` (the C ring and ping-pong of the same run): throughput rows divided by
 * native's rate at the same size, rtt rows as a multiple of native's spin p50. Undefined when native did not run.
 */
import type { BenchReport, RttResult, ThroughputResult } from '../types.js';

export const NATIVE = 'native';

export interface NativeRatios {
  /** msg/s of `r` over native's msg/s at the same size (1 = as fast as C). */
  throughput(r: ThroughputResult): number | undefined;
  /** p50 of `r` over native's p50 (1 = as fast as C; 3 = three times the C round trip). */
  rtt(r: RttResult): number | undefined;
  readonly hasThroughput: boolean;
  readonly hasRtt: boolean;
}

export function nativeRatios(report: BenchReport): NativeRatios {
  const tp = new Map<number, number>();
  let rttP50: number | undefined;
  for (const r of report.results) {
    if (!('contender' in r) || r.contender !== NATIVE || 'skipped' in r) continue;
    if (r.experiment === 'throughput' && 'msgsPerSec' in r && r.verified) tp.set(r.size, r.msgsPerSec);
    if (r.experiment === 'rtt' && 'p50Us' in r && r.verified) rttP50 = r.p50Us;
  }
  return {
    throughput: (r) => {
      const n = tp.get(r.size);
      return n !== undefined && n > 0 ? r.msgsPerSec / n : undefined;
    },
    rtt: (r) => (rttP50 !== undefined && rttP50 > 0 ? r.p50Us / rttP50 : undefined),
    hasThroughput: tp.size > 0,
    hasRtt: rttP50 !== undefined,
  };
}

/** 0.42 -> "0.42", 0.0123 -> "0.012" (two significant digits below 0.1). */
export function fmtFraction(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v >= 0.1 ? v.toFixed(2) : v.toPrecision(2);
}
