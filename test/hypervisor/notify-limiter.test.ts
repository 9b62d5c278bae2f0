import { describe, expect, it } from 'vitest';
import { NotifyLimiter } from '../../src/hypervisor/notify-limiter.js';

describe('NotifyLimiter (token bucket of accepted non-secure notifications)', () => {
  it('accepts a burst, then masks until tokens come back at the rate', () => {
    const l = new NotifyLimiter(1000, 4, 0); // a token per 1000 µs
    for (let i = 0; i < 4; i++) l.take(0);
    expect(l.masked(0)).toBe(true);
    l.take(0);
    expect(l.limited).toBe(1);
    expect(l.masked(999)).toBe(true);
    expect(l.masked(1000)).toBe(false);
    l.take(1000);
    expect(l.masked(1000)).toBe(true);
    expect(l.periodUs).toBe(1000);
  });

  it('never holds more than the burst, whatever the idle time; a clock going back changes nothing', () => {
    const l = new NotifyLimiter(1_000_000, 2, 0);
    expect(l.masked(10_000_000)).toBe(false);
    l.take(10_000_000);
    l.take(10_000_000);
    expect(l.masked(10_000_000)).toBe(true);
    expect(l.masked(5)).toBe(true);
    expect(l.limited).toBe(0);
  });
});
