/** The adaptive wake-up lead: follows the p99 of the recorded lateness, within [base, max] (counters only). */
import { describe, expect, it } from 'vitest';
import { AdaptiveWakeLead } from '../../src/hypervisor/wake-lead.js';

describe('AdaptiveWakeLead', () => {
  it('starts at the base lead and stays there while the lateness fits in it', () => {
    const l = new AdaptiveWakeLead({ baseUs: 250, maxUs: 2000, every: 4 });
    expect(l.take()).toBe(250);
    for (let i = 0; i < 100; i++) l.record(50);
    expect(l.leadUs).toBe(250);
    expect(l.stats()).toMatchObject({ adaptive: true, baseUs: 250, maxUs: 2000, leadUs: 250, peakUs: 250, capped: 0 });
  });

  it('grows to cover the p99 lateness plus the margin', () => {
    const l = new AdaptiveWakeLead({ baseUs: 250, maxUs: 2000, window: 100, every: 10, marginUs: 30 });
    // 97 short waits, 3 that the OS ended 900 µs late: the p99 is 900
    for (let i = 0; i < 100; i++) l.record(i % 33 === 0 && i > 0 ? 900 : 40);
    expect(l.leadUs).toBe(930);
  });

  it('never exceeds the bound, and counts the recomputations that did not fit', () => {
    const l = new AdaptiveWakeLead({ baseUs: 250, maxUs: 500, every: 8 });
    for (let i = 0; i < 64; i++) l.record(5000);
    expect(l.leadUs).toBe(500);
    expect(l.stats().capped).toBe(8);
    expect(l.stats().peakUs).toBe(500);
  });

  it('comes back down when the late waits leave the window', () => {
    const l = new AdaptiveWakeLead({ baseUs: 100, maxUs: 2000, window: 32, every: 8 });
    for (let i = 0; i < 32; i++) l.record(1500);
    expect(l.leadUs).toBe(1530);
    for (let i = 0; i < 32; i++) l.record(10);
    expect(l.leadUs).toBe(100);
    expect(l.stats().peakUs).toBe(1530);
  });

  it('adaptive: false keeps the base lead; bad numbers are ignored', () => {
    const l = new AdaptiveWakeLead({ baseUs: 300, maxUs: 2000, adaptive: false, every: 1 });
    for (let i = 0; i < 50; i++) l.record(1000);
    l.record(Number.NaN);
    expect(l.leadUs).toBe(300);
    const b = new AdaptiveWakeLead({ baseUs: 300, maxUs: 100 });
    expect(b.maxUs).toBe(300); // the bound is never below the base
  });

  it('above the base, a wait is given at most half of the time left as lead', () => {
    const l = new AdaptiveWakeLead({ baseUs: 250, maxUs: 2000, every: 8 });
    for (let i = 0; i < 64; i++) l.record(1500);
    expect(l.take(10_000)).toBe(1530);
    expect(l.take(1000)).toBe(500);
    expect(l.take(300)).toBe(250); // never below the base
  });

  it('the mean lead covers the waits that used it', () => {
    const l = new AdaptiveWakeLead({ baseUs: 200, maxUs: 2000, window: 8, every: 8, marginUs: 0 });
    l.take();
    for (let i = 0; i < 8; i++) l.record(600);
    l.take();
    expect(l.stats().meanUs).toBe(400);
  });
});
