import { afterEach, describe, expect, it } from 'vitest';
import { CROWDED_WINDOWS, Doorbell, installRunQueueProbe, LOAD_CHECK_MS, Waiter, type WaitPolicy } from '../../src/sync/index.js';
import { threadRunQueueProbe } from '../../src/host/schedstat.js';

/**
 * A thread that waits for a CPU `share` of the wall time, as the kernel would count it: the probe's value grows with
 * the same clock the waiter reads, so the fraction the waiter computes is the share whatever the machine does. A
 * change of share is integrated at the moment it is made (a descheduled test thread must not smear one share over
 * the next).
 */
function fakeRunQueue(initial: number): (share: number) => void {
  let ns = 0;
  let at = performance.now();
  let share = initial;
  const advance = (): number => {
    const now = performance.now();
    ns += (now - at) * 1e6 * share;
    at = now;
    return ns;
  };
  installRunQueueProbe(advance);
  return (next) => {
    advance();
    share = next;
  };
}

/** Idle passes for `ms` of wall time; arm() reports pending work, so the waiter never actually sleeps. */
function idleFor(w: Waiter, bell: Doorbell, ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) w.idle(bell.seq(), () => false, () => undefined);
}

/** Idle passes until `done()` (checked every pass) or `maxMs` (generous: a loaded CI host deschedules us). */
function idleUntil(w: Waiter, bell: Doorbell, done: () => boolean, maxMs = 10_000): void {
  const end = performance.now() + maxMs;
  while (!done() && performance.now() < end) w.idle(bell.seq(), () => false, () => undefined);
}

/** Whether the first idle pass of a fresh episode goes straight to arm() (sleep at once) instead of spinning. */
function sleepsAtOnce(w: Waiter, bell: Doorbell): boolean {
  w.progressed();
  let armed = false;
  w.idle(
    bell.seq(),
    () => {
      armed = true;
      return false;
    },
    () => undefined,
  );
  return armed;
}

const windows = (n: number): number => n * LOAD_CHECK_MS + LOAD_CHECK_MS / 2;

function waiter(policy: WaitPolicy = 'peer-aware'): { w: Waiter; bell: Doorbell } {
  const words = new Int32Array(new SharedArrayBuffer(64));
  const bell = new Doorbell(words, 0);
  const peer = new Doorbell(words, 4); // awake peer: no sleepers
  return { w: new Waiter(bell, policy, { peer }), bell };
}

describe('peer-aware waiter on a crowded machine (run-queue wait)', () => {
  afterEach(() => {
    installRunQueueProbe(undefined);
  });

  it('sleeps as soon as idle once its thread waited for a CPU above the threshold for CROWDED_WINDOWS checks in a row', () => {
    fakeRunQueue(0.5);
    const { w, bell } = waiter();
    expect(sleepsAtOnce(w, bell)).toBe(false); // spins at first
    const t0 = performance.now();
    idleUntil(w, bell, () => w.crowded);
    expect(w.crowded).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual((CROWDED_WINDOWS - 1) * LOAD_CHECK_MS); // not before the windows
    expect(w.crowdedSpells).toBe(1);
    expect(sleepsAtOnce(w, bell)).toBe(true);
  });

  it('spins again after one check below the leave threshold', () => {
    const setShare = fakeRunQueue(0.5);
    const { w, bell } = waiter();
    idleUntil(w, bell, () => w.crowded);
    expect(w.crowded).toBe(true);
    setShare(0);
    idleUntil(w, bell, () => !w.crowded);
    expect(w.crowded).toBe(false);
    expect(sleepsAtOnce(w, bell)).toBe(false);
  });

  it('a burst shorter than CROWDED_WINDOWS checks (a JIT thread, another time slice) leaves it spinning', () => {
    const setShare = fakeRunQueue(0.5);
    const { w, bell } = waiter();
    idleFor(w, bell, (CROWDED_WINDOWS - 3) * LOAD_CHECK_MS);
    setShare(0);
    idleFor(w, bell, windows(3));
    setShare(0.5);
    idleFor(w, bell, (CROWDED_WINDOWS - 3) * LOAD_CHECK_MS);
    expect(w.crowded).toBe(false);
    expect(w.crowdedSpells).toBe(0);
  });

  it('a quiet thread (no run-queue wait) is never crowded', () => {
    fakeRunQueue(0);
    const { w, bell } = waiter();
    idleFor(w, bell, windows(CROWDED_WINDOWS + 2));
    expect(w.crowded).toBe(false);
    expect(sleepsAtOnce(w, bell)).toBe(false);
  });

  it('spin-then-block and poll keep their definition: the load signal is not consulted', () => {
    fakeRunQueue(0.9);
    for (const policy of ['spin-then-block', 'poll'] as const) {
      const { w, bell } = waiter(policy);
      idleFor(w, bell, windows(CROWDED_WINDOWS + 2));
      expect(w.crowded).toBe(false);
      expect(sleepsAtOnce(w, bell)).toBe(false);
    }
  });

  it('without a probe (other systems) the waiter is never crowded', () => {
    installRunQueueProbe(undefined);
    const { w, bell } = waiter();
    idleFor(w, bell, windows(3));
    expect(w.crowded).toBe(false);
  });

  it('the Linux probe reads this thread’s run-queue wait as a growing number of ns (or is absent)', () => {
    const p = threadRunQueueProbe();
    if (p === undefined) return; // no /proc/thread-self/schedstat here
    const a = p();
    const b = p();
    expect(Number.isInteger(a) && a >= 0).toBe(true);
    expect(b).toBeGreaterThanOrEqual(a);
  });
});
