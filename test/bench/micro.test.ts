import { describe, expect, it } from 'vitest';
import { measureBench, microModules } from '../../src/bench/micro/runner.js';

describe('micro runner', () => {
  it('finds the area modules, never types or runner', () => {
    const names = microModules(new URL('../../dist/src/bench/micro/', import.meta.url)).map((h) => h.slice(h.lastIndexOf('/') + 1));
    expect(names).not.toContain('types.js');
    expect(names).not.toContain('runner.js');
    for (const n of names) expect(n.endsWith('.js')).toBe(true);
  });
  it('calibrates n and reports ns/op as the median of rounds', () => {
    let calls = 0;
    let ops = 0;
    const r = measureBench({ name: 'test/loop', prepare: () => (n) => { calls++; let x = 0; for (let i = 0; i < n; i++) x += i; ops += n; if (x < 0) throw new Error(); } }, { targetMs: 2, rounds: 3 });
    expect(r.name).toBe('test/loop');
    expect(r.experiment).toBe('micro');
    expect(r.rounds).toBe(3);
    expect(r.opsPerRound).toBeGreaterThan(100);
    expect(r.nsPerOp).toBeGreaterThan(0);
    expect(r.nsPerOpSpread.min).toBeLessThanOrEqual(r.nsPerOp);
    expect(calls).toBeGreaterThan(3);
    expect(ops).toBeGreaterThan(r.opsPerRound * 3);
  });
});
