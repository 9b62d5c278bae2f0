import { describe, expect, it } from 'vitest';
import { BackgroundWork } from '../../src/guest/background.js';
import { GuestErrorCode, isGuestError } from '../../src/guest/errors.js';

function clock() {
  let t = 0;
  return { now: () => t, set: (v: number) => (t = v), add: (d: number) => (t += d) };
}

describe('background work of the RT executive (fake clock)', () => {
  it('runs steps only while the next release leaves room for one, and counts the deferral', async () => {
    const c = clock();
    const bg = new BackgroundWork(c.now, () => undefined, { guardUs: 10, maxStepsPerPass: 100 });
    let left = 100;
    bg.add({ name: 'svc', costUs: 50, step: () => (left > 0 ? (left--, c.add(50), true) : false) });
    // release at 1000: steps of 50 µs fit while now + 50 + 10 <= 1000, i.e. until now = 940
    const ran = await bg.pass(() => 1000);
    expect(ran).toBe(19); // starts at 0, 50, ..., 900 (900 + 50 + 10 <= 1000); the one at 950 would end past the guard
    expect(c.now()).toBeLessThanOrEqual(1000 - 10);
    const s = bg.stats()[0]!;
    expect(s.deferred).toBe(1);
    expect(s.steps).toBe(ran);
  });

  it('never starts a step that would cross the release, however long the backlog', async () => {
    const c = clock();
    const bg = new BackgroundWork(c.now, () => undefined, { guardUs: 0, maxStepsPerPass: 1000 });
    bg.add({ name: 'svc', costUs: 30, step: () => (c.add(30), true) });
    for (let release = 1000; release <= 10_000; release += 1000) {
      await bg.pass(() => release);
      expect(c.now()).toBeLessThanOrEqual(release);
      c.set(release); // the RT job runs at the release
    }
  });

  it('raises the estimate after slow steps, bounded by maxEstimateUs so the service cannot starve', async () => {
    const c = clock();
    const bg = new BackgroundWork(c.now, () => undefined, { guardUs: 0, maxEstimateUs: 200, alpha: 0.5, maxStepsPerPass: 1 });
    let cost = 20;
    bg.add({ name: 'svc', costUs: 20, step: () => (c.add(cost), true) });
    await bg.pass(() => Infinity);
    expect(bg.stats()[0]!.estimateUs).toBe(20);
    cost = 5000; // an outlier (GC, the OS descheduling the worker)
    await bg.pass(() => Infinity);
    const s = bg.stats()[0]!;
    expect(s.overruns).toBe(1);
    expect(s.maxStepUs).toBe(5000);
    expect(s.estimateUs).toBe(200);
    // 200 µs of slack is still enough to start a step
    c.set(0);
    cost = 20;
    expect(await bg.pass(() => 200)).toBe(1);
  });

  it('an idle step is retried only after wake(); at most maxStepsPerPass steps per pass', async () => {
    const c = clock();
    const bg = new BackgroundWork(c.now, () => undefined, { maxStepsPerPass: 4 });
    let work = 10;
    let calls = 0;
    bg.add({ name: 'svc', step: () => (calls++, work > 0 ? (work--, true) : false) });
    expect(await bg.pass(() => Infinity)).toBe(4);
    expect(bg.hasBusy()).toBe(true);
    expect(await bg.pass(() => Infinity)).toBe(4);
    expect(await bg.pass(() => Infinity)).toBe(2);
    expect(bg.hasBusy()).toBe(false);
    const before = calls;
    expect(await bg.pass(() => Infinity)).toBe(0);
    expect(calls).toBe(before);
    work = 1;
    bg.wake();
    expect(await bg.pass(() => Infinity)).toBe(1);
  });

  it('a throwing step is counted and reported, not fatal; bad specs are refused', async () => {
    const c = clock();
    const errors: string[] = [];
    const bg = new BackgroundWork(c.now, (n) => errors.push(n), { maxStepsPerPass: 2 });
    bg.add({ name: 'bad', step: () => { throw new Error('x'); } });
    await bg.pass(() => Infinity);
    expect(bg.stats()[0]!.errors).toBe(2);
    expect(errors).toEqual(['bad', 'bad']);
    for (const spec of [{ name: 'a', step: 3 as unknown as () => boolean }, { name: 'b', step: () => true, costUs: -1 }]) {
      try {
        bg.add(spec);
        expect.unreachable();
      } catch (e) {
        expect(isGuestError(e, GuestErrorCode.BAD_ARGUMENT)).toBe(true);
      }
    }
  });
});
