import { describe, expect, it } from 'vitest';
import { median, quantile, rng, shuffle, spread } from '../../src/bench/stats.js';
import { fmtSi, fmtSize, fmtUs, textTable } from '../../src/bench/report/format.js';

describe('stats', () => {
  it('median, spread and nearest-rank quantiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(spread([5, 1, 9])).toEqual({ median: 5, min: 1, max: 9 });
    const v = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(quantile(v, 0.5)).toBe(500);
    expect(quantile(v, 0.99)).toBe(990);
    expect(quantile(v, 0.999)).toBe(999);
    expect(quantile([], 0.5)).toBeNaN();
  });
  it('shuffles deterministically from a seed, keeping every element', () => {
    const a = shuffle([...Array(20).keys()], rng(7));
    const b = shuffle([...Array(20).keys()], rng(7));
    expect(a).toEqual(b);
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(20).keys()]);
    expect(a).not.toEqual([...Array(20).keys()]);
  });
});

describe('format', () => {
  it('formats sizes, SI values and microseconds', () => {
    expect(fmtSize(64)).toBe('64 B');
    expect(fmtSize(4096)).toBe('4 KiB');
    expect(fmtSize(262144)).toBe('256 KiB');
    expect(fmtSi(1.234e9, 'B/s')).toBe('1.23 GB/s');
    expect(fmtSi(456_000, 'msg/s')).toBe('456 kmsg/s');
    expect(fmtUs(0.456)).toBe('0.46 µs');
    expect(fmtUs(2500)).toBe('2.50 ms');
  });
  it('aligns a text table', () => {
    const t = textTable(['a', 'bb'], [['x', '1'], ['yyy', '22']]).split('\n');
    expect(t.map((l) => l.length)).toEqual([7, 7, 7, 7]);
  });
});
