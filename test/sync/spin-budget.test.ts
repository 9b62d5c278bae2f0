import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IDLE_HOST_SPIN_CEILING_MS, MAX_SPIN_BUDGET_MS, SPIN_BUDGET_MS, SpinBudget } from '../../src/sync/index.js';

describe('SpinBudget', () => {
  it('starts at the floor and ignores unknown latencies', () => {
    const b = new SpinBudget();
    expect(b.ms).toBe(SPIN_BUDGET_MS);
    b.record(-1);
    b.record(Number.NaN);
    expect(b.ms).toBe(SPIN_BUDGET_MS);
  });

  it('is a fixed 50 µs by default (ceiling = floor), whatever the wake-ups cost', () => {
    const b = new SpinBudget();
    b.record(10_000);
    expect(MAX_SPIN_BUDGET_MS).toBe(SPIN_BUDGET_MS);
    expect(b.ms).toBe(SPIN_BUDGET_MS);
  });

  it('with a higher ceiling follows a slow host up at once (2x its wake-up latency) and never past the ceiling', () => {
    const b = new SpinBudget({ maxMs: IDLE_HOST_SPIN_CEILING_MS });
    b.record(120);
    expect(b.ms).toBeCloseTo(0.24, 6);
    b.record(10_000);
    expect(b.ms).toBe(IDLE_HOST_SPIN_CEILING_MS);
  });

  it('decays slowly back towards a fast host, never below the floor', () => {
    const b = new SpinBudget({ maxMs: IDLE_HOST_SPIN_CEILING_MS });
    b.record(200);
    for (let i = 0; i < 16; i++) b.record(10);
    expect(b.ms).toBeLessThan(0.4);
    expect(b.ms).toBeGreaterThan(SPIN_BUDGET_MS);
    for (let i = 0; i < 500; i++) b.record(10);
    expect(b.ms).toBe(SPIN_BUDGET_MS);
  });

  it('stays within [floor, ceiling] for any sequence of samples (model: clamp(2 x estimate))', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double({ min: -10, max: 1e7, noNaN: true }), fc.constant(-1)), { maxLength: 200 }), fc.double({ min: 0.001, max: 0.2, noNaN: true }), (xs, floor) => {
        const b = new SpinBudget({ minMs: floor, maxMs: 1 });
        let est = 0;
        for (const x of xs) {
          b.record(x);
          if (x >= 0) est = x > est ? x : est + (x - est) / 16;
          expect(b.ms).toBeGreaterThanOrEqual(floor);
          expect(b.ms).toBeLessThanOrEqual(1);
          expect(b.ms).toBeCloseTo(Math.min(1, Math.max(floor, (2 * est) / 1000)), 9);
        }
      }),
    );
  });

  it('is a fixed budget when floor and ceiling are equal', () => {
    const b = new SpinBudget({ minMs: 0.05, maxMs: 0.05 });
    b.record(5000);
    expect(b.ms).toBe(0.05);
  });
});
