import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dropConsumed } from '../../src/vsock/drop-consumed.js';

describe('dropConsumed (the head-indexed arrays of a vsock socket)', () => {
  it('starts over at 0 once consumed to the end, keeps short arrays as they are, compacts long half-consumed ones', () => {
    const a = [1, 2, 3];
    expect(dropConsumed(a, 3)).toBe(0);
    expect(a).toEqual([]);
    const b = [1, 2, 3, 4];
    expect(dropConsumed(b, 2)).toBe(2);
    expect(b).toEqual([1, 2, 3, 4]);
    const c = Array.from({ length: 100 }, (_, i) => i);
    expect(dropConsumed(c, 64)).toBe(64); // not past 64 yet
    expect(dropConsumed(c, 65)).toBe(0);
    expect(c).toEqual(Array.from({ length: 35 }, (_, i) => i + 65));
    const d = Array.from({ length: 200 }, (_, i) => i);
    expect(dropConsumed(d, 100)).toBe(100); // exactly half: kept
  });

  it('against a plain queue model: same elements in the same order, and the array stays bounded', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat(20).map((n) => ({ push: n })), fc.nat(20).map((n) => ({ take: n }))), { maxLength: 200 }), (ops) => {
        const a: number[] = [];
        let head = 0;
        const model: number[] = [];
        let next = 0;
        for (const op of ops) {
          if ('push' in op) {
            for (let i = 0; i < op.push; i++) {
              a.push(next);
              model.push(next++);
            }
          } else {
            for (let i = 0; i < op.take && head < a.length; i++) {
              expect(a[head]).toBe(model.shift());
              head = dropConsumed(a, head + 1);
            }
          }
          expect(a.slice(head)).toEqual(model);
          expect(head).toBeLessThanOrEqual(Math.max(64, a.length - head));
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});
