import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DescriptorChain } from '../../src/virtio/chain.js';
import { PhysicalMemory } from '../../src/virtio/memory.js';

const BASE = 0x1000;

/** A chain over scattered segments of one memory: readable lengths, then writable lengths, with gaps between. */
function chainOf(mem: PhysicalMemory, readable: number[], writable: number[]): DescriptorChain {
  const c = new DescriptorChain(readable.length + writable.length);
  let at = BASE;
  for (const [lens, w] of [[readable, false], [writable, true]] as const) {
    for (const len of lens) {
      c.push(mem, at, len, w);
      at += len + 8; // a gap: segments are not contiguous
    }
  }
  return c;
}

const lens = fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 5 });

describe('DescriptorChain.gather / scatter: bytes at any offset, across segment boundaries', () => {
  it('gather reads the same bytes as slicing the concatenated readable segments', () => {
    fc.assert(
      fc.property(lens, fc.nat(120), fc.nat(120), (readable, offset, len) => {
        const mem = new PhysicalMemory([{ name: 'm', base: BASE, size: 4096 }]);
        const all = mem.bytes(BASE, 4096);
        for (let i = 0; i < all.length; i++) all[i] = (i * 7 + 3) & 0xff;
        const c = chainOf(mem, readable, []);
        const model: number[] = [];
        for (let i = 0; i < c.readable; i++) model.push(...mem.bytes(c.addr[i]!, c.len[i]!));
        const want = model.slice(offset, offset + len);
        const dst = new Uint8Array(len + 3).fill(0xee);
        const n = c.gather(mem, offset, dst, 3, len);
        expect(n).toBe(want.length);
        expect([...dst.subarray(3, 3 + n)]).toEqual(want);
        expect(dst[0]).toBe(0xee);
      }),
    );
  });

  it('scatter writes the same bytes as writing into the concatenated writable segments, and nothing else', () => {
    fc.assert(
      fc.property(lens, lens, fc.nat(120), fc.nat(120), (readable, writable, offset, len) => {
        const mem = new PhysicalMemory([{ name: 'm', base: BASE, size: 4096 }]);
        const c = chainOf(mem, readable, writable);
        const before = Uint8Array.from(mem.bytes(BASE, 4096));
        const src = Uint8Array.from({ length: len + 2 }, (_, i) => (i + 1) & 0xff);
        const n = c.scatter(mem, offset, src, 2, len);
        const room = c.writableBytes;
        expect(n).toBe(Math.max(0, Math.min(len, room - offset)));
        // the writable part as one array: the written range holds src, the rest is as it was
        const got: number[] = [];
        const was: number[] = [];
        for (let i = c.readable; i < c.count; i++) {
          got.push(...mem.bytes(c.addr[i]!, c.len[i]!));
          was.push(...before.subarray(c.addr[i]! - BASE, c.addr[i]! - BASE + c.len[i]!));
        }
        const want = was.slice();
        for (let k = 0; k < n; k++) want[offset + k] = src[2 + k]!;
        expect(got).toEqual(want);
        // readable segments untouched
        for (let i = 0; i < c.readable; i++) expect([...mem.bytes(c.addr[i]!, c.len[i]!)]).toEqual([...before.subarray(c.addr[i]! - BASE, c.addr[i]! - BASE + c.len[i]!)]);
      }),
    );
  });

  it('readInto / writeFrom are gather / scatter from the start', () => {
    const mem = new PhysicalMemory([{ name: 'm', base: BASE, size: 4096 }]);
    const c = chainOf(mem, [3, 0, 5], [4, 6]);
    mem.bytes(c.addr[0]!, 3).set([1, 2, 3]);
    mem.bytes(c.addr[2]!, 5).set([4, 5, 6, 7, 8]);
    const dst = new Uint8Array(6);
    expect(c.readInto(mem, dst)).toBe(6);
    expect([...dst]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.writeFrom(mem, Uint8Array.from([9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]))).toBe(10);
    expect([...mem.bytes(c.addr[3]!, 4), ...mem.bytes(c.addr[4]!, 6)]).toEqual(Array(10).fill(9));
  });
});
