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
    expect(waiter.peerAsleepCuts).toBe(1);
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

  it('keeps spinning for a peer it has just woken: a woken peer still counts as a sleeper until it runs', () => {
    const w = words();
    const mine = new Doorbell(w, 0, 1);
    const peer = new Doorbell(w, 4, 5);
    const waiter = new Waiter(mine, 'peer-aware', { peer, minMs: 1000, maxMs: 1000 });
    Atomics.store(w, 5, 1); // the peer sleeps ...
    peer.ring(); // ... and we wake it: the kernel has not run it yet, so its sleeper count is still 1
    expect(peer.wakes).toBe(1);
    for (let i = 0; i < 100; i++) expect(waiter.idle(mine.seq(), never, noop, 1)).toBe(false);
    expect(waiter.peerAsleepCuts).toBe(0);
    // a peer asleep that we did not wake within the budget is asleep: the waiter stops spinning
    const waiter2 = new Waiter(mine, 'peer-aware', { peer: { hasSleepers: () => true, lastWakeMs: performance.now() - 2000 }, minMs: 1000, maxMs: 1000 });
    expect(waiter2.idle(mine.seq(), never, noop, 1)).toBe(true);
    expect(waiter2.peerAsleepCuts).toBe(1);
  });

  it('spins a full budget past the moment it sees its woken peer still waking, up to the wake grace', () => {
    const w = words();
    const mine = new Doorbell(w, 0, 1);
    let woke = performance.now();
    const peer = { hasSleepers: () => true, get lastWakeMs() { return woke; } };
    const waiter = new Waiter(mine, 'peer-aware', { peer, minMs: 0.05, maxMs: 0.05 });
    // the budget (50 µs) runs out many times over while the peer is waking: no sleep
    const until = performance.now() + 0.2;
    while (performance.now() < until) {
      woke = performance.now() - 0.01; // woken 10 µs ago, within the grace
      expect(waiter.idle(mine.seq(), never, noop, 1)).toBe(false);
    }
    // once the grace (at least the budget, at most 250 µs) has passed since the wake, the peer is asleep: sleep
    woke = performance.now() - 1;
    let slept = false;
    for (let i = 0; i < 10_000 && !slept; i++) slept = waiter.idle(mine.seq(), never, noop, 1);
    expect(slept).toBe(true);
  });

  it('without a peer doorbell behaves as spin-then-block (spins first)', () => {
    const w = words();
    const mine = new Doorbell(w, 0, 1);
    const waiter = new Waiter(mine, 'peer-aware', { minMs: 1000, maxMs: 1000 });
    expect(waiter.idle(mine.seq(), never, noop, 1)).toBe(false);
    expect(waiter.peerAsleepCuts).toBe(0);
  });
});
