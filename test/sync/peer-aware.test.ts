import { describe, expect, it } from 'vitest';
import { Doorbell, Waiter, type FutexOps, type SleepResult } from '../../src/sync/index.js';

const words = (): Int32Array => new Int32Array(new SharedArrayBuffer(64));

describe('Doorbell with FutexOps (memory shared by processes)', () => {
  it('sleeps and wakes through the given ops, only when someone sleeps', () => {
    const w = words();
    const calls: string[] = [];
    const ops: FutexOps = {
      wait: (_w, i, v, ms): SleepResult => {
        calls.push(`wait ${i} ${v} ${ms}`);
        return 'timed-out';
      },
      wake: (_w, i) => void calls.push(`wake ${i}`),
    };
    const b = new Doorbell(w, 4, 5, -1, ops);
    b.ring(); // nobody sleeps: no wake
    expect(calls).toEqual([]);
    expect(b.sleep(b.seq(), 3)).toBe('timed-out');
    expect(calls).toEqual(['wait 4 1 3']);
    Atomics.store(w, 5, 1); // a sleeper (in another process)
    b.ring();
    expect(calls).toEqual(['wait 4 1 3', 'wake 4']);
    expect(b.wakes).toBe(1);
  });
});

describe("Waiter policy 'peer-aware'", () => {
  const never = (): boolean => true;
  const noop = (): void => undefined;

  it('sleeps at once while the peer sleeps (no spin for a peer that produces nothing)', () => {
    const w = words();
    const mine = new Doorbell(w, 0, 1);
    const peer = new Doorbell(w, 4, 5);
    Atomics.store(w, 5, 1); // the peer is asleep
    const waiter = new Waiter(mine, 'peer-aware', { peer });
    const slept = waiter.idle(mine.seq(), never, noop, 1);
    expect(slept).toBe(true);
    expect(waiter.peerAsleep).toBe(1);
    expect(waiter.lastSleep).toBe('timed-out');
  });

  it('spins (returns without sleeping) while the peer is awake, within its budget', () => {
    const w = words();
    const mine = new Doorbell(w, 0, 1);
    const peer = new Doorbell(w, 4, 5);
    const waiter = new Waiter(mine, 'peer-aware', { peer, minMs: 1000 });
    for (let i = 0; i < 100; i++) expect(waiter.idle(mine.seq(), never, noop, 1)).toBe(false);
    expect(mine.sleeps).toBe(0);
    Atomics.store(w, 5, 1); // now the peer sleeps: the next idle pass sleeps
    expect(waiter.idle(mine.seq(), never, noop, 1)).toBe(true);
  });

  it('without a peer doorbell behaves as spin-then-block (spins first)', () => {
    const w = words();
    const mine = new Doorbell(w, 0, 1);
    const waiter = new Waiter(mine, 'peer-aware', { minMs: 1000, maxMs: 1000 });
    expect(waiter.idle(mine.seq(), never, noop, 1)).toBe(false);
    expect(waiter.peerAsleep).toBe(0);
  });
});
