import { describe, expect, it } from 'vitest';
import { RtScheduler } from '../../src/guest/rt.js';
import { isGuestError, GuestErrorCode } from '../../src/guest/errors.js';

function clock() {
  let t = 0;
  return { now: () => t, set: (v: number) => (t = v), add: (d: number) => (t += d) };
}

describe('RT runtime (fake clock)', () => {
  it('releases periodic jobs and measures release jitter', async () => {
    const c = clock();
    const rt = new RtScheduler(c.now);
    const ran: number[] = [];
    rt.add({ name: 'a', periodUs: 1000, run: ({ releaseUs }) => void ran.push(releaseUs) });
    expect(rt.nextReleaseUs()).toBe(1000);
    c.set(1000);
    rt.release(c.now());
    c.set(1030);
    expect(await rt.runOne()).toBe(true);
    c.set(2000);
    rt.release(c.now());
    expect(await rt.runOne()).toBe(true);
    expect(await rt.runOne()).toBe(false);
    expect(ran).toEqual([1000, 2000]);
    const s = rt.stats()[0]!;
    expect(s.jobs).toBe(2);
    expect(s.jitterUs.max).toBe(30);
    expect(s.deadlineMisses).toBe(0);
  });

  it('runs the most urgent ready job first (lower number = higher priority)', async () => {
    const c = clock();
    const rt = new RtScheduler(c.now);
    const order: string[] = [];
    rt.add({ name: 'low', periodUs: 1000, priority: 5, run: () => void order.push('low') });
    rt.add({ name: 'high', periodUs: 1000, priority: 1, run: () => void order.push('high') });
    c.set(1000);
    rt.release(1000);
    while (await rt.runOne());
    expect(order).toEqual(['high', 'low']);
  });

  it('counts a job that ends after its deadline, and releases lost to an overrun, as misses', async () => {
    const c = clock();
    const rt = new RtScheduler(c.now);
    rt.add({ name: 'slow', periodUs: 1000, deadlineUs: 500, run: () => void c.add(700) });
    c.set(1000);
    rt.release(1000);
    await rt.runOne(); // ends at 1700 > 1500
    expect(rt.stats()[0]!.deadlineMisses).toBe(1);
    c.set(4500); // releases at 2000, 3000, 4000 are due; one job pending, two skipped
    rt.release(4500);
    const s = rt.stats()[0]!;
    expect(s.skippedReleases).toBe(2);
    expect(s.deadlineMisses).toBe(3);
    expect(rt.nextReleaseUs()).toBe(5000);
  });

  it('stops after `jobs` jobs; a throwing job is counted, not fatal', async () => {
    const c = clock();
    const errors: string[] = [];
    const rt = new RtScheduler(c.now, (t) => errors.push(t));
    rt.add({ name: 'bad', periodUs: 10, jobs: 2, run: () => { throw new Error('x'); } });
    for (let t = 10; t <= 50; t += 10) {
      c.set(t);
      rt.release(t);
      await rt.runOne();
    }
    const s = rt.stats()[0]!;
    expect(s.jobs).toBe(2);
    expect(s.errors).toBe(2);
    expect(errors).toEqual(['bad', 'bad']);
    expect(rt.nextReleaseUs()).toBe(Infinity);
  });

  it('refuses a non-positive period or deadline', () => {
    const rt = new RtScheduler(() => 0);
    for (const spec of [{ periodUs: 0 }, { periodUs: -1 }, { periodUs: NaN }, { periodUs: 10, deadlineUs: 0 }]) {
      try {
        rt.add({ name: 'x', run: () => undefined, ...spec });
        expect.unreachable();
      } catch (e) {
        expect(isGuestError(e, GuestErrorCode.BAD_ARGUMENT)).toBe(true);
      }
    }
  });
});
