/**
 * Soak through the whole machine (hypervisor model, both partitions as workers), short: nothing lost, duplicated or
 * corrupted in either core mode; backpressure: a receiver that stops reading makes the sender wait (nothing lost
 * when it resumes) or, past the sender's stall timeout, fail with a timeout, with bounded memory either way.
 * Runs compiled guests from dist/ (the test script builds first).
 */
import { describe, expect, it } from 'vitest';
// The machine starts its partition workers relative to its own module: use the compiled tree.
import { runSoak } from '../../dist/src/soak/run.js';

describe('soak (short)', () => {
  it.each([1, 2] as const)('%i core(s): 20000 messages of random sizes arrive exactly once, intact', async (cores) => {
    const r = await runSoak({ messages: 20_000, cores, seed: 3 });
    expect(r.crashes).toEqual([]);
    expect({ lost: r.lost, duplicated: r.duplicated, corrupted: r.corrupted, delivered: r.delivered, acked: r.acked }).toEqual({
      lost: 0,
      duplicated: 0,
      corrupted: 0,
      delivered: 20_000,
      acked: 20_000,
    });
    expect(r.ok).toBe(true);
    expect(r.memory.receiver.heapStart).toBeGreaterThan(0);
  });
});

describe('backpressure', () => {
  it.each([1, 2] as const)('%i core(s): the receiver stops reading; the sender waits; on resume nothing is lost', async (cores) => {
    const r = await runSoak({ messages: 3000, cores, pauseAtMessage: 1000, pauseMs: 300, stallTimeoutMs: 5000 });
    expect(r.ok).toBe(true);
    expect(r.lost + r.duplicated + r.corrupted).toBe(0);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(300);
  });

  it.each([1, 2] as const)('%i core(s): past the stall timeout the sender fails with a timeout; nothing was queued beyond the window', async (cores) => {
    // on one core the paused receiver keeps the core: the sender judges the late acknowledgement when it runs again
    const r = await runSoak({ messages: 5000, cores, window: 64, pauseAtMessage: 1024, pauseMs: 1500, stallTimeoutMs: 200 });
    expect(r.timeout).toBe(true);
    expect(r.ok).toBe(false);
    expect(r.sent - r.acked).toBeLessThanOrEqual(64);
    expect(r.lost + r.duplicated + r.corrupted).toBe(0);
    // Bounded: the sender's heap did not grow with the stalled stream (window-limited, no queue).
    expect(r.memory.sender.heapMax - r.memory.sender.heapStart).toBeLessThan(8 * 1024 * 1024);
  });
});
