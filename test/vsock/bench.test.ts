/** The vsock bench contenders run and verify every message (built code from dist/: run `npx tsc` first). */
import { describe, expect, it } from 'vitest';

type Bench = typeof import('../../src/bench/index.js');
const dist = new URL('../../dist/src/bench/index.js', import.meta.url).href;

describe('bench: vsock contenders', () => {
  it('throughput and rtt rows for vsock and vsock-packed, every message verified', async () => {
    const bench = (await import(dist)) as Bench;
    const o = bench.defaultOptions(true, { sizes: [64, 4096], rounds: 1, messages: 400, window: 16, rttCount: 60, scale: 0.01, only: ['throughput', 'rtt'], seed: 7, timeoutMs: 60_000, contenders: ['vsock', 'vsock-packed'] });
    const report = await bench.runBench(o);
    expect(report.results.filter((r) => 'skipped' in r)).toEqual([]);
    const rows = report.results.filter((r) => 'verified' in r);
    expect(rows.length).toBeGreaterThanOrEqual(6);
    for (const r of rows) expect((r as { verified: boolean }).verified, JSON.stringify(r)).toBe(true);
    const tp = report.results.filter((r) => r.experiment === 'throughput' && 'msgsPerSec' in r);
    expect(new Set(tp.map((r) => `${r.contender}@${(r as { size: number }).size}`))).toEqual(new Set(['vsock@64', 'vsock@4096', 'vsock-packed@64', 'vsock-packed@4096']));
    expect(report.results.filter((r) => r.experiment === 'rtt' && 'p50Us' in r).map((r) => r.contender).sort()).toEqual(['vsock', 'vsock-packed']);
  }, 180_000);
});
