import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Doorbell, Waiter } from '../../src/sync/index.js';

const words = (): Int32Array => new Int32Array(new SharedArrayBuffer(64));

describe('Doorbell', () => {
  it('ring() without sleepers only moves seq (no wake-up, no stamp)', () => {
    const w = words();
    const b = new Doorbell(w, 0, 1, 2);
    b.ring();
    b.ring();
    expect(b.seq()).toBe(2);
    expect(b.wakes).toBe(0);
    expect(w[2]).toBe(0);
  });

  it('sleep() returns at once when seq already moved, and times out when nobody rings', () => {
    const w = words();
    const b = new Doorbell(w, 0);
    const seen = b.seq();
    b.ring();
    expect(b.sleep(seen)).toBe('not-equal');
    expect(b.sleep(b.seq(), 1)).toBe('timed-out');
    expect(b.sleep(b.seq(), 0)).toBe('timed-out');
    expect(w[1]).toBe(0); // sleeper count back to zero
  });

  it('a ring from another thread wakes a sleeper, which measures its wake-up latency from the stamp', async () => {
    const w = words();
    const b = new Doorbell(w, 0, 1, 2);
    // the worker waits until we sleep (sleepers = 1), then rings through its own Doorbell on the same words
    const src = `
      const { workerData } = require('node:worker_threads');
      const w = workerData;
      while (Atomics.load(w, 1) === 0) {}
      Atomics.add(w, 0, 1);
      Atomics.store(w, 2, ((performance.timeOrigin + performance.now()) * 1000) % 0x80000000 | 0);
      Atomics.notify(w, 0);`;
    const worker = new Worker(src, { eval: true, workerData: w });
    const exited = new Promise((r) => worker.once('exit', r));
    const r = b.sleep(0, 30_000);
    await exited;
    expect(r).toBe('ok');
    expect(b.lastWakeUs).toBeGreaterThanOrEqual(0);
    expect(b.lastWakeUs).toBeLessThan(1_000_000);
  });
});

describe('Waiter', () => {
  function side(pendingAfterArm: boolean) {
    const log: string[] = [];
    return {
      log,
      arm: (): boolean => {
        log.push('arm');
        return !pendingAfterArm;
      },
      disarm: (): void => void log.push('disarm'),
    };
  }

  it('poll never arms or sleeps', () => {
    const w = new Waiter(new Doorbell(words(), 0), 'poll');
    const s = side(false);
    for (let i = 0; i < 100; i++) expect(w.idle(0, s.arm, s.disarm)).toBe(false);
    expect(s.log).toEqual([]);
  });

  it('block arms, sleeps on the doorbell and disarms; arm() = false (work pending) means no sleep', () => {
    const bell = new Doorbell(words(), 0);
    const w = new Waiter(bell, 'block');
    const busy = side(true);
    expect(w.idle(bell.seq(), busy.arm, busy.disarm)).toBe(false);
    expect(busy.log).toEqual(['arm']);
    const quiet = side(false);
    const seen = bell.seq();
    bell.ring(); // a ring after `seen`: the sleep returns at once
    expect(w.idle(seen, quiet.arm, quiet.disarm)).toBe(true);
    expect(quiet.log).toEqual(['arm', 'disarm']);
    expect(w.spinMisses).toBe(1);
  });

  it('spin-then-block spins (returns without arming) until its budget is spent, then sleeps', () => {
    const bell = new Doorbell(words(), 0);
    const w = new Waiter(bell, 'spin-then-block', { minMs: 1, maxMs: 1 });
    const s = side(false);
    const t0 = performance.now();
    expect(w.idle(bell.seq(), s.arm, s.disarm)).toBe(false);
    expect(s.log).toEqual([]);
    w.progressed();
    expect(w.spinHits).toBe(1);
    let slept = false;
    const seen = bell.seq();
    bell.ring();
    while (!slept) slept = w.idle(seen, s.arm, s.disarm);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1);
    expect(s.log).toEqual(['arm', 'disarm']);
  });
});
