/**
 * A tiny run of every contender (two sizes, few messages, fresh workers) through the real harness from dist/:
 * checks the result shape and that every message was verified. No timing assertions.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkWellFormed } from './xml.js';

type Bench = typeof import('../../src/bench/index.js');
const dist = new URL('../../dist/src/bench/index.js', import.meta.url).href;
let bench: Bench;
let report: import('../../src/bench/types.js').BenchReport;

/** The native contender needs a C compiler; where there is none it is skipped with that reason. */
const nativeMissing = ['cc', 'gcc', 'clang'].every((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status !== 0);
const REQUIRED = [...(nativeMissing ? [] : ['native']), 'js-ring', 'virtqueue', 'virtqueue-inplace', 'rpmsg', 'rpmsg-zerocopy', 'rpmsg-inplace', 'postMessage-clone', 'postMessage-transfer', 'ringbuf.js', 'atomics-floor', 'memcpy'];

beforeAll(async () => {
  bench = (await import(dist)) as Bench;
  const o = bench.defaultOptions(true, { sizes: [64, 1024], rounds: 1, messages: 300, window: 16, rttCount: 60, heapMessages: 20_000, scale: 0.01, only: ['throughput', 'rtt', 'jitter', 'heap'], seed: 42, timeoutMs: 20_000 });
  report = await bench.runBench(o);
}, 60_000);

describe('bench run (smoke, every contender)', () => {
  it('records the environment', () => {
    expect(report.env.node).toBe(process.version);
    expect(report.env.cores).toBeGreaterThan(0);
    expect(typeof report.env.cpu).toBe('string');
    expect(report.env.options['seed']).toBe(42);
  });

  it('skips nothing (native only without a C compiler) and verifies every message of every contender', () => {
    const skipped = report.results.filter((r) => 'skipped' in r && !(r.contender === 'native' && nativeMissing));
    expect(skipped).toEqual([]);
    for (const r of report.results) if ('verified' in r) expect(r.verified, JSON.stringify(r)).toBe(true);
  });

  it('has throughput rows for every contender but the floor, in every mode it supports, at both sizes', () => {
    const tp = report.results.filter((r): r is import('../../src/bench/types.js').ThroughputResult => r.experiment === 'throughput' && 'msgsPerSec' in r);
    for (const c of REQUIRED.filter((c) => c !== 'atomics-floor')) {
      const rows = tp.filter((r) => r.contender === c);
      expect(rows.length, c).toBeGreaterThanOrEqual(2);
      expect(new Set(rows.map((r) => r.size))).toEqual(new Set([64, 1024]));
    }
    for (const c of ['virtqueue', 'rpmsg', 'rpmsg-zerocopy']) expect(new Set(tp.filter((r) => r.contender === c).map((r) => r.mode))).toEqual(new Set(['multi-core', 'single-core']));
    for (const r of tp) {
      expect(['multi-core', 'single-core', 'n/a']).toContain(r.mode);
      expect(r.msgsPerSec).toBeGreaterThan(0);
      expect(r.bytesPerSec).toBeCloseTo(r.msgsPerSec * r.size, 0);
      expect(r.window).toBe(16);
      expect(Object.keys(r.cpu).length).toBeGreaterThan(0);
    }
    const single = tp.find((r) => r.contender === 'virtqueue' && r.mode === 'single-core')!;
    expect(single.counters?.['sender.worldSwitches']).toBeGreaterThan(0);
  });

  it('has rtt rows with percentiles for the shared-memory contenders (three policies) and postMessage (event loop)', () => {
    const rtt = report.results.filter((r): r is import('../../src/bench/types.js').RttResult => r.experiment === 'rtt' && 'p50Us' in r);
    for (const c of ['virtqueue', 'rpmsg', 'ringbuf.js']) expect(rtt.filter((r) => r.contender === c).map((r) => r.policy).sort()).toEqual(['block', 'peer-aware', 'poll', 'spin-then-block']);
    expect(rtt.filter((r) => r.contender === 'atomics-floor').map((r) => r.policy).sort()).toEqual(['block', 'poll', 'spin-then-block']);
    for (const c of ['postMessage-clone', 'postMessage-transfer']) expect(rtt.find((r) => r.contender === c)?.policy).toBe('event-loop');
    for (const r of rtt) {
      expect(r.samples).toBe(60);
      expect(r.p50Us).toBeGreaterThan(0);
      expect(r.p99Us).toBeGreaterThanOrEqual(r.p50Us);
      expect(r.p999Us).toBeGreaterThanOrEqual(r.p99Us);
    }
  });

  it('runs the secure-task jitter in both modes with and without load, and the heap check', () => {
    const j = report.results.filter((r): r is import('../../src/bench/types.js').JitterResult => r.experiment === 'jitter' && 'periods' in r);
    expect(j.map((r) => `${r.mode}/${r.load === 'none' ? 'none' : 'load'}`).sort()).toEqual(['multi-core/load', 'multi-core/none', 'single-core/load', 'single-core/none']);
    for (const r of j) {
      expect(r.periods).toBe(20);
      expect(r.deadlineMisses).toBeGreaterThanOrEqual(0);
      expect(r.messagesStreamed).toBeGreaterThanOrEqual(0);
      if (r.load !== 'none') expect(r.messagesStreamed).toBeGreaterThan(0);
    }
    expect(j.find((r) => r.mode === 'single-core' && r.load !== 'none')!.worldSwitches).toBeGreaterThan(0);
    const h = report.results.find((r): r is import('../../src/bench/types.js').HeapResult => r.experiment === 'heap' && 'growthBytes' in r)!;
    expect(h.messages).toBe(20_000);
    expect(h.verified).toBe(true);
    expect(typeof h.heapBeforeBytes).toBe('number');
  });

  it('round-trips through JSON and renders tables and well-formed charts', () => {
    const j = JSON.parse(bench.reportJson(report)) as { env: object; results: unknown[] };
    expect(Object.keys(j)).toEqual(['env', 'results']);
    expect(j.results.length).toBe(report.results.length);
    const text = bench.renderText(bench.buildTables(report));
    for (const c of REQUIRED) expect(text).toContain(c);
    const charts = bench.buildCharts(report);
    expect(charts.map((c) => c.name)).toEqual(['throughput-bandwidth', 'throughput-rate', ...(nativeMissing ? [] : ['throughput-vs-native']), 'rtt']);
    for (const c of charts) checkWellFormed(c.svg);
  });

  it.skipIf(nativeMissing)('runs native (C ring and spin ping-pong) with every message verified and reports every contender as a fraction of it', () => {
    const tp = report.results.filter((r): r is import('../../src/bench/types.js').ThroughputResult => r.experiment === 'throughput' && 'msgsPerSec' in r);
    const nat = tp.filter((r) => r.contender === 'native');
    expect(nat.map((r) => r.size).sort((a, b) => a - b)).toEqual([64, 1024]);
    for (const r of nat) {
      expect(r.verified).toBe(true);
      expect(r.counters?.['pthreads.producerCpuNs']).toBeGreaterThan(0);
    }
    const rtt = report.results.find((r): r is import('../../src/bench/types.js').RttResult => r.experiment === 'rtt' && r.contender === 'native' && 'p50Us' in r);
    expect(rtt?.policy).toBe('poll');
    expect(rtt?.samples).toBe(60);
    const tables = bench.buildTables(report);
    const frac = tables.find((t) => t.title.startsWith('Throughput: message rate as a fraction of native'))!;
    const row = (name: string): readonly string[] => frac.rows.find((r) => r[0] === name)!;
    expect(row('native (multi-core)').slice(1)).toEqual(['1.00', '1.00']);
    // the ratio is the row's rate over native's at the same size, whatever the numbers were in this run
    const vq = tp.find((r) => r.contender === 'virtqueue' && r.mode === 'multi-core' && r.size === 64)!;
    const n64 = nat.find((r) => r.size === 64)!;
    const q = vq.msgsPerSec / n64.msgsPerSec;
    expect(row('virtqueue (multi-core)')[1]).toBe(q >= 0.1 ? q.toFixed(2) : q.toPrecision(2));
    const rttTable = tables.find((t) => t.title.startsWith('Round-trip latency'))!;
    expect(rttTable.head).toContain('p50 / native');
    expect(rttTable.rows.find((r) => r[0] === 'native')![3]).toBe('1.00x');
  });
});

describe('tz-virtio bench --json (CLI contract)', () => {
  it('prints one {env, results} object with the contract fields', () => {
    const bin = fileURLToPath(new URL('../../bin/tz-virtio.mjs', import.meta.url));
    const out = execFileSync(process.execPath, [bin, 'bench', '--json', '--quick', '--only', 'throughput,rtt', '--contenders', 'atomics-floor,memcpy', '--sizes', '64,4k', '--rounds', '1', '--scale', '0.05', '--no-charts', '--out', fileURLToPath(new URL('../../bench-out/test', import.meta.url))], { encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out) as { env: Record<string, unknown>; results: Record<string, unknown>[] };
    expect(r.env['node']).toBe(process.version);
    const tp = r.results.filter((x) => x['experiment'] === 'throughput');
    expect(tp.map((x) => x['size'])).toEqual([64, 4096]);
    for (const x of tp) for (const k of ['contender', 'mode', 'size', 'msgsPerSec', 'bytesPerSec']) expect(x).toHaveProperty(k);
    const rtt = r.results.filter((x) => x['experiment'] === 'rtt');
    expect(rtt.length).toBe(3);
    for (const x of rtt) for (const k of ['contender', 'policy', 'p50Us', 'p99Us', 'p999Us']) expect(x).toHaveProperty(k);
  });
});
