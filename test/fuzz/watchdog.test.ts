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
    // Runs of 700 ms until the scribbler and the device both got enough CPU (a loaded machine may starve either in
    // one run); every run must be clean.
    let scribbles = 0;
    let resets = 0;
    let chains = 0;
    for (let run = 0; run < 20 && (scribbles <= 10_000 || resets <= 10 || chains === 0); run++) {
      const r = await runConcurrentFuzz({ seed: 3 + run, target, durationMs: 700 });
      expect(r.findings).toEqual([]);
      scribbles += r.scribbles;
      resets += r.resets;
      chains += r.chains;
    }
    expect(scribbles).toBeGreaterThan(10_000);
    expect(resets).toBeGreaterThan(10);
    expect(chains).toBeGreaterThan(0);
  }, 60_000);
});
