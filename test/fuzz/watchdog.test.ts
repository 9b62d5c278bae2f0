/**
 * The fuzz runner in worker threads: the pool gives the same totals as the in-process run, a hung device call is
 * reported as a hang with its replay command (and the run goes on), and the concurrent scribbler run is clean.
 * Workers run compiled code: the test script builds dist/ first.
 */
import { describe, expect, it } from 'vitest';
import { runConcurrentFuzz } from '../../src/fuzz/concurrent.js';
import { runFuzz } from '../../src/fuzz/run.js';
import { runWatchedFuzz } from '../../src/fuzz/watchdog.js';

describe('fuzzing under the watchdog', () => {
  it('two workers over chunks add up to the in-process run of the same seed', async () => {
    const seq = runFuzz({ seed: 11, iterations: 120 });
    const par = await runWatchedFuzz({ seed: 11, iterations: 120, workers: 2, chunk: 25 });
    expect(par.iterations).toBe(seq.iterations);
    expect(par.states).toBe(seq.states);
    expect(par.errorsByCode).toEqual(seq.errorsByCode);
    expect(par.crashes + par.hangs + par.violations).toBe(0);
  });

  it('a device call that never returns is a hang with a replay command, and the rest of the chunk still runs', async () => {
    const r = await runWatchedFuzz({ seed: 5, iterations: 6, targets: ['selftest-hang'], hangTimeoutMs: 400 });
    expect(r.hangs).toBe(1);
    expect(r.findings[0]).toMatchObject({ kind: 'hang', iteration: 2, repro: 'tz-virtio fuzz --seed 5 --target selftest-hang --replay 2' });
    // Iterations 3..5 ran in a fresh worker.
    expect(r.iterations).toBe(3);
  });
});

describe('concurrent fuzzing (a scribbler thread rewrites the ring during every read)', () => {
  it.each(['split', 'packed'] as const)('%s: only typed errors, no write outside the region, used entries exact', async (target) => {
    const r = await runConcurrentFuzz({ seed: 3, target, durationMs: 700 });
    expect(r.findings).toEqual([]);
    expect(r.scribbles).toBeGreaterThan(10_000);
    expect(r.resets).toBeGreaterThan(10);
    expect(r.chains).toBeGreaterThan(0);
  });
});
