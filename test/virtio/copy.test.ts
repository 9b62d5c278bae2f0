/**
 * copyBytes (src/virtio/copy.ts): its bounds, its result against a model (copy the source range out, then write it),
 * overlapping ranges of one buffer included, and the dispatch between TypedArray.set and an installed copy.
 * The real addon is tested in test/host/native-copy.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { copyBytes, copyBytesImplementation, installCopyBytes, NATIVE_COPY_MIN_BYTES, type CopyBytesFn } from '../../src/virtio/copy.js';
import { isVirtioError, VirtioErrorCode } from '../../src/virtio/errors.js';
import { PhysicalMemory } from '../../src/virtio/memory.js';

/** What copyBytes must do: the source range as it was before the copy, written at the destination. */
function model(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  const tmp = Array.from(src.subarray(srcOff, srcOff + len));
  for (let i = 0; i < len; i++) dst[dstOff + i] = tmp[i]!;
}

function filled(buffer: ArrayBufferLike, seed: number): Uint8Array {
  const u8 = new Uint8Array(buffer);
  for (let i = 0; i < u8.length; i++) u8[i] = (seed + i * 29 + (i >>> 8)) & 0xff;
  return u8;
}

/** A copy that a test installs: a JS memmove that counts its calls. */
function countingCopy(): { fn: CopyBytesFn; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    fn: (dst, dstOff, src, srcOff, len) => {
      calls.push(len);
      model(dst, dstOff, src, srcOff, len);
    },
  };
}

afterEach(() => {
  installCopyBytes(undefined);
});

describe('copyBytes: bounds', () => {
  const src = new Uint8Array(64).fill(1);
  const bad: [string, number, number, number, number][] = [
    ['negative length', 0, 0, 0, -1],
    ['negative source offset', 0, 0, -1, 4],
    ['negative destination offset', -1, 0, 0, 4],
    ['source range past its end', 0, 0, 61, 4],
    ['destination range past its end', 29, 0, 0, 4],
    ['fractional length', 0, 0, 0, 1.5],
    ['fractional offset', 0.5, 0, 0, 4],
    ['NaN length', 0, 0, 0, NaN],
    ['infinite offset', 0, 0, Infinity, 0],
    ['a length beyond 2^53', 0, 0, 0, 2 ** 60],
  ];
  for (const impl of ['typed-array-set', 'installed'] as const) {
    for (const [what, dstOff, , srcOff, len] of bad) {
      it(`${impl}: ${what} is COPY_OUT_OF_RANGE and copies nothing`, () => {
        const c = countingCopy();
        if (impl === 'installed') installCopyBytes(c.fn);
        const dst = new Uint8Array(32);
        let err: unknown;
        try {
          copyBytes(dst, dstOff, src, srcOff, len);
        } catch (e) {
          err = e;
        }
        expect(isVirtioError(err, VirtioErrorCode.COPY_OUT_OF_RANGE)).toBe(true);
        expect((err as Error).message).toMatch(/inside their arrays/);
        expect(dst.every((b) => b === 0)).toBe(true);
        expect(c.calls).toEqual([]);
      });
    }
  }

  it('an empty copy at the very end of both arrays is fine', () => {
    const dst = new Uint8Array(8);
    copyBytes(dst, 8, src, 64, 0);
    expect(dst.every((b) => b === 0)).toBe(true);
  });
});

describe('copyBytes: dispatch', () => {
  it('without an installed copy it is TypedArray.set; install returns the previous one', () => {
    expect(copyBytesImplementation()).toBe('typed-array-set');
    const c = countingCopy();
    expect(installCopyBytes(c.fn)).toBeUndefined();
    expect(copyBytesImplementation()).toBe('native');
    expect(installCopyBytes(undefined)).toBe(c.fn);
    expect(copyBytesImplementation()).toBe('typed-array-set');
  });

  it(`the installed copy takes copies of ${NATIVE_COPY_MIN_BYTES} bytes and more, TypedArray.set the shorter ones`, () => {
    const c = countingCopy();
    installCopyBytes(c.fn);
    const src = filled(new SharedArrayBuffer(4 * NATIVE_COPY_MIN_BYTES), 5);
    const dst = new Uint8Array(4 * NATIVE_COPY_MIN_BYTES);
    copyBytes(dst, 0, src, 1, NATIVE_COPY_MIN_BYTES - 1);
    copyBytes(dst, 3, src, 0, NATIVE_COPY_MIN_BYTES);
    copyBytes(dst, 0, src, 0, 3 * NATIVE_COPY_MIN_BYTES);
    expect(c.calls).toEqual([NATIVE_COPY_MIN_BYTES, 3 * NATIVE_COPY_MIN_BYTES]);
    expect(Array.from(dst.subarray(0, 3 * NATIVE_COPY_MIN_BYTES))).toEqual(Array.from(src.subarray(0, 3 * NATIVE_COPY_MIN_BYTES)));
  });

  it('PhysicalMemory.readBytes / writeBytes go through it, and stay inside their region', () => {
    const c = countingCopy();
    installCopyBytes(c.fn);
    const n = NATIVE_COPY_MIN_BYTES + 500;
    const mem = new PhysicalMemory([{ name: 'a', base: 0x1000, size: 2 * n }]);
    const payload = filled(new ArrayBuffer(n + 100), 9);
    mem.writeBytes(0x1100, payload, 100, n);
    const back = new Uint8Array(n);
    mem.readBytes(0x1100, back, 0, n);
    expect(Array.from(back)).toEqual(Array.from(payload.subarray(100)));
    expect(c.calls).toEqual([n, n]);
    let err: unknown;
    try {
      mem.readBytes(0x1000 + n + 1, back, 0, n);
    } catch (e) {
      err = e;
    }
    expect(isVirtioError(err, VirtioErrorCode.MEM_OUT_OF_RANGE)).toBe(true);
  });
});

describe('copyBytes: equals the model on random ranges', () => {
  const range = (n: number) =>
    fc.record({ a: fc.nat({ max: n }), b: fc.nat({ max: n }), c: fc.nat({ max: n }) }).map(({ a, b, c }) => {
      const len = Math.min(c, n - Math.max(a, b));
      return { srcOff: a, dstOff: b, len: Math.max(0, len) };
    });

  for (const impl of ['typed-array-set', 'installed'] as const) {
    it(`${impl}: two buffers (shared or not, views at odd offsets)`, () => {
      fc.assert(
        fc.property(fc.boolean(), fc.nat({ max: 7 }), fc.nat({ max: 7 }), range(2000), (shared, so, dso, r) => {
          if (impl === 'installed') installCopyBytes(countingCopy().fn);
          const mk = (n: number) => (shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
          const src = filled(mk(2010), 3).subarray(so, so + 2000);
          const dst = filled(mk(2010), 200).subarray(dso, dso + 2000);
          const want = dst.slice();
          model(want, r.dstOff, src, r.srcOff, r.len);
          copyBytes(dst, r.dstOff, src, r.srcOff, r.len);
          expect(Array.from(dst)).toEqual(Array.from(want));
        }),
        { numRuns: 150 },
      );
    });

    it(`${impl}: overlapping ranges of one buffer (memmove, both directions)`, () => {
      fc.assert(
        fc.property(fc.boolean(), range(3000), (shared, r) => {
          if (impl === 'installed') installCopyBytes(countingCopy().fn);
          const buf = filled(shared ? new SharedArrayBuffer(3000) : new ArrayBuffer(3000), 77);
          const want = buf.slice();
          model(want, r.dstOff, want, r.srcOff, r.len);
          copyBytes(buf, r.dstOff, buf, r.srcOff, r.len);
          expect(Array.from(buf)).toEqual(Array.from(want));
        }),
        { numRuns: 150 },
      );
    });
  }
});
