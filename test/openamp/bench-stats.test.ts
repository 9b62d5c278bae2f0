/** The statistics of the OpenAMP bench: nearest-rank quantiles (as the C peer computes them) and medians of rounds. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { median, quantile } from '../../src/openamp/bench.js';

describe('openamp bench statistics', () => {
  it('quantile: nearest rank of sorted samples', () => {
    const v = Float64Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(quantile(v, 100, 0.5)).toBe(50);
    expect(quantile(v, 100, 0.99)).toBe(99);
    expect(quantile(v, 100, 1)).toBe(100);
    expect(quantile(v, 100, 0)).toBe(1);
    expect(quantile([3, 5, 9], 3, 0.5)).toBe(5);
    expect(quantile([7], 1, 0.99)).toBe(7);
    expect(quantile([], 0, 0.5)).toBeNaN();
  });

  it('quantile: at least a fraction q of the samples are <= it, and fewer than q are < it', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (xs, q) => {
        const s = Float64Array.from(xs).sort();
        const v = quantile(s, s.length, q);
        expect(xs.filter((x) => x <= v).length).toBeGreaterThanOrEqual(Math.ceil(q * s.length));
        expect(xs.filter((x) => x < v).length).toBeLessThan(Math.ceil(q * s.length));
      }),
    );
  });

  it('median: middle value, or the mean of the two middle ones; input order does not matter', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    const a = [9, 2, 7];
    median(a);
    expect(a).toEqual([9, 2, 7]); // not sorted in place
  });
});
