import { describe, expect, it } from 'vitest';
import { DescriptorChain, features, PackedVirtqueueDevice, VirtioErrorCode, VirtioFeature } from '../../../src/virtio/index.js';
import { codeOf, DATA, newMemory, pair, putDesc, RAM_BASE, RAM_SIZE, RING, ringAddrs, TABLES } from './helpers.js';

const A = 0x0080; // available in lap 1
const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;
const N = 8;

function device(feat: number[] = [], maxChainSegments?: number) {
  const mem = newMemory();
  const dev = new PackedVirtqueueDevice(mem, N, ringAddrs(N), { features: features(...feat), ...(maxChainSegments ? { maxChainSegments } : {}) });
  return { mem, dev, chain: new DescriptorChain(N) };
}

/** Pops and expects the given error code; the queue is then broken and pops nothing more. */
function expectBroken(dev: PackedVirtqueueDevice, chain: DescriptorChain, code: string): void {
  expect(codeOf(() => dev.pop(chain))).toBe(code);
  expect(dev.broken?.code).toBe(code);
  expect(dev.pop(chain)).toBe(false);
  expect(dev.pending()).toBe(0);
}

describe('packed device validates what the driver wrote', () => {
  it('accepts a well-formed chain (control case)', () => {
    const { mem, dev, chain } = device();
    putDesc(mem, RING, 0, DATA, 8, 3, A | NEXT);
    putDesc(mem, RING, 1, DATA + 8, 8, 3, A | WRITE);
    expect(dev.pending()).toBe(1);
    expect(dev.pop(chain)).toBe(true);
    expect(chain.head).toBe(3);
    expect(dev.broken).toBeUndefined();
  });

  it('PACKED_BAD_ID: id >= N', () => {
    const { mem, dev, chain } = device();
    putDesc(mem, RING, 0, DATA, 8, N, A);
    expectBroken(dev, chain, VirtioErrorCode.PACKED_BAD_ID);
  });

  it('PACKED_BAD_ID: an id that is already outstanding', () => {
    const { mem, dev, chain } = device();
    putDesc(mem, RING, 0, DATA, 8, 2, A);
    putDesc(mem, RING, 1, DATA, 8, 2, A);
    expect(dev.pop(chain)).toBe(true);
    expectBroken(dev, chain, VirtioErrorCode.PACKED_BAD_ID);
  });

  it('takes the buffer id from the last descriptor of a chain (§2.8.6)', () => {
    const { mem, dev, chain } = device();
    putDesc(mem, RING, 0, DATA, 8, 0x7777, A | NEXT); // ignored id
    putDesc(mem, RING, 1, DATA, 8, 5, A);
    expect(dev.pop(chain)).toBe(true);
    expect(chain.head).toBe(5);
  });

  it('PACKED_BAD_FLAGS: a descriptor after NEXT that is not marked available', () => {
    const { mem, dev, chain } = device();
    putDesc(mem, RING, 0, DATA, 8, 0, A | NEXT);
    putDesc(mem, RING, 1, DATA, 8, 0, 0); // still zero: not available
    expectBroken(dev, chain, VirtioErrorCode.PACKED_BAD_FLAGS);
  });

  it('CHAIN_TOO_LONG: NEXT on every descriptor of the ring (a loop in a packed ring)', () => {
    const { mem, dev, chain } = device();
    for (let i = 0; i < N; i++) putDesc(mem, RING, i, DATA, 8, 0, A | NEXT);
    expectBroken(dev, chain, VirtioErrorCode.CHAIN_TOO_LONG);
  });

  it('CHAIN_TOO_LONG: more segments than maxChainSegments', () => {
    const { mem, dev, chain } = device([], 2);
    for (let i = 0; i < 3; i++) putDesc(mem, RING, i, DATA, 8, 0, A | (i < 2 ? NEXT : 0));
    expectBroken(dev, chain, VirtioErrorCode.CHAIN_TOO_LONG);
  });

  it('CHAIN_TOO_LONG: an indirect table with more entries than maxChainSegments', () => {
    const { mem, dev, chain } = device([VirtioFeature.INDIRECT_DESC], 2);
    for (let k = 0; k < 3; k++) putDesc(mem, TABLES, k, DATA, 8, 0, 0);
    putDesc(mem, RING, 0, TABLES, 48, 0, A | INDIRECT);
    expectBroken(dev, chain, VirtioErrorCode.CHAIN_TOO_LONG);
  });

  it('INDIRECT_NOT_NEGOTIATED', () => {
    const { mem, dev, chain } = device();
    putDesc(mem, TABLES, 0, DATA, 8, 0, 0);
    putDesc(mem, RING, 0, TABLES, 16, 0, A | INDIRECT);
    expectBroken(dev, chain, VirtioErrorCode.INDIRECT_NOT_NEGOTIATED);
  });

  it('INDIRECT_WITH_NEXT: INDIRECT and NEXT on one descriptor', () => {
    const { mem, dev, chain } = device([VirtioFeature.INDIRECT_DESC]);
    putDesc(mem, TABLES, 0, DATA, 8, 0, 0);
    putDesc(mem, RING, 0, TABLES, 16, 0, A | INDIRECT | NEXT);
    putDesc(mem, RING, 1, DATA, 8, 0, A);
    expectBroken(dev, chain, VirtioErrorCode.INDIRECT_WITH_NEXT);
  });

  it('INDIRECT_WITH_NEXT: an indirect descriptor inside a NEXT list', () => {
    const { mem, dev, chain } = device([VirtioFeature.INDIRECT_DESC]);
    putDesc(mem, TABLES, 0, DATA, 8, 0, 0);
    putDesc(mem, RING, 0, DATA, 8, 0, A | NEXT);
    putDesc(mem, RING, 1, TABLES, 16, 0, A | INDIRECT);
    expectBroken(dev, chain, VirtioErrorCode.INDIRECT_WITH_NEXT);
  });

  it('NESTED_INDIRECT', () => {
    const { mem, dev, chain } = device([VirtioFeature.INDIRECT_DESC]);
    putDesc(mem, TABLES, 0, TABLES + 0x100, 16, 0, INDIRECT);
    putDesc(mem, RING, 0, TABLES, 16, 0, A | INDIRECT);
    expectBroken(dev, chain, VirtioErrorCode.NESTED_INDIRECT);
  });

  it('INDIRECT_BAD_LENGTH: zero or not a multiple of 16', () => {
    for (const len of [0, 24, 15]) {
      const { mem, dev, chain } = device([VirtioFeature.INDIRECT_DESC]);
      putDesc(mem, RING, 0, TABLES, len, 0, A | INDIRECT);
      expectBroken(dev, chain, VirtioErrorCode.INDIRECT_BAD_LENGTH);
    }
  });

  it('BUFFER_OUT_OF_RANGE: a buffer, a buffer straddling the end, a 64-bit address, an indirect table', () => {
    const cases: [number, number, number][] = [
      [0x1000, 8, 0],
      [RAM_BASE + RAM_SIZE - 4, 8, 0],
      [0x1_0000_0000 + RAM_BASE, 8, 0],
      [2 ** 60, 8, 0],
      [0x2000, 16, INDIRECT],
    ];
    for (const [addr, len, fl] of cases) {
      const { mem, dev, chain } = device([VirtioFeature.INDIRECT_DESC]);
      putDesc(mem, RING, 0, 0, len, 0, A | fl);
      mem.write32(RING + 0, addr % 0x1_0000_0000);
      mem.write32(RING + 4, Math.floor(addr / 0x1_0000_0000));
      expectBroken(dev, chain, VirtioErrorCode.BUFFER_OUT_OF_RANGE);
    }
  });

  it('READABLE_AFTER_WRITABLE: in the ring and inside an indirect table', () => {
    {
      const { mem, dev, chain } = device();
      putDesc(mem, RING, 0, DATA, 8, 0, A | NEXT | WRITE);
      putDesc(mem, RING, 1, DATA, 8, 0, A);
      expectBroken(dev, chain, VirtioErrorCode.READABLE_AFTER_WRITABLE);
    }
    {
      const { mem, dev, chain } = device([VirtioFeature.INDIRECT_DESC]);
      putDesc(mem, TABLES, 0, DATA, 8, 0, WRITE);
      putDesc(mem, TABLES, 1, DATA, 8, 0, 0);
      putDesc(mem, RING, 0, TABLES, 32, 0, A | INDIRECT);
      expectBroken(dev, chain, VirtioErrorCode.READABLE_AFTER_WRITABLE);
    }
  });

  it('AVAIL_IDX_TOO_FAR: more than N slots outstanding (the driver overwrote unused slots)', () => {
    const { mem, dev, chain } = device();
    // Ids 0..3, two slots each: the whole ring.
    for (let c = 0; c < 4; c++) {
      putDesc(mem, RING, 2 * c, DATA, 8, c, A | NEXT);
      putDesc(mem, RING, 2 * c + 1, DATA, 8, c, A);
    }
    for (let c = 0; c < 4; c++) expect(dev.pop(chain)).toBe(true);
    // Lap 2 (wrap 0: available = 0x8000) over slots the device has not returned yet.
    putDesc(mem, RING, 0, DATA, 8, 4, 0x8000);
    expectBroken(dev, chain, VirtioErrorCode.AVAIL_IDX_TOO_FAR);
  });

  it('reset() clears a broken queue', () => {
    const { mem, dev, chain } = device();
    putDesc(mem, RING, 0, DATA, 8, N, A);
    expectBroken(dev, chain, VirtioErrorCode.PACKED_BAD_ID);
    dev.reset();
    expect(dev.broken).toBeUndefined();
    mem.write16(RING + 12, 1);
    expect(dev.pop(chain)).toBe(true);
  });

  it('refuses our own caller’s mistakes in pushUsed without breaking the queue', () => {
    const { mem, dev, chain } = device();
    putDesc(mem, RING, 0, DATA, 8, 1, A | WRITE);
    expect(dev.pop(chain)).toBe(true);
    expect(codeOf(() => dev.pushUsed(2, 0))).toBe(VirtioErrorCode.BAD_ARGUMENT); // not popped
    expect(codeOf(() => dev.pushUsed(1, 9))).toBe(VirtioErrorCode.BAD_ARGUMENT); // more than writable
    expect(codeOf(() => dev.pop(new DescriptorChain(2)))).toBe(VirtioErrorCode.BAD_ARGUMENT); // chain too small
    dev.pushUsed(1, 8);
    expect(codeOf(() => dev.pushUsed(1, 8))).toBe(VirtioErrorCode.BAD_ARGUMENT); // twice
    expect(dev.broken).toBeUndefined();
  });
});

describe('packed driver validates what the device wrote', () => {
  function usedAt(p: ReturnType<typeof pair>, slot: number, id: number, len: number, flags = 0x8082): void {
    putDesc(p.mem, RING, slot, 0, len, id, flags);
  }

  it('USED_ID_OUT_OF_RANGE', () => {
    const p = pair(N);
    p.drv.addBuffer(DATA, 8, true, 1);
    p.drv.kick();
    usedAt(p, 0, N, 0);
    expect(codeOf(() => p.drv.popUsed())).toBe(VirtioErrorCode.USED_ID_OUT_OF_RANGE);
    expect(p.drv.broken?.code).toBe(VirtioErrorCode.USED_ID_OUT_OF_RANGE);
    expect(codeOf(() => p.drv.popUsed())).toBe(VirtioErrorCode.QUEUE_BROKEN);
    expect(codeOf(() => p.drv.addBuffer(DATA, 8, true, 2))).toBe(VirtioErrorCode.QUEUE_BROKEN);
    expect(p.drv.reset()).toEqual([1]);
    expect(p.drv.broken).toBeUndefined();
  });

  it('USED_ID_NOT_OUTSTANDING: a free id, and an id added but not yet kicked', () => {
    {
      const p = pair(N);
      p.drv.addBuffer(DATA, 8, true, 1); // id 0
      p.drv.kick();
      usedAt(p, 0, 3, 0);
      expect(codeOf(() => p.drv.popUsed())).toBe(VirtioErrorCode.USED_ID_NOT_OUTSTANDING);
    }
    {
      const p = pair(N);
      p.drv.addBuffer(DATA, 8, true, 1); // id 0, published
      p.drv.kick();
      p.drv.addBuffer(DATA, 8, true, 2); // id 1, not published
      usedAt(p, 0, 1, 0);
      expect(codeOf(() => p.drv.popUsed())).toBe(VirtioErrorCode.USED_ID_NOT_OUTSTANDING);
    }
  });

  it('USED_LEN_TOO_LARGE (and len is ignored without WRITE)', () => {
    const p = pair(N);
    p.drv.add([{ addr: DATA, len: 100 }], [{ addr: DATA + 100, len: 8 }], 1);
    p.drv.addBuffer(DATA, 8, false, 2);
    p.drv.kick();
    // The device used id 1 (1 slot) first, at slot 0, then id 0 at slot 1 with 9 bytes (its writable part is 8).
    usedAt(p, 0, 1, 0xffff, 0x8080); // no WRITE: len ignored
    usedAt(p, 1, 0, 9);
    expect(p.drv.popUsed()).toBe(2);
    expect(p.drv.lastUsedLen).toBe(0);
    expect(codeOf(() => p.drv.popUsed())).toBe(VirtioErrorCode.USED_LEN_TOO_LARGE);
  });

  it('refuses our own caller’s mistakes: EMPTY_CHAIN, BAD_SEGMENT, QUEUE_FULL', () => {
    const p = pair(4);
    expect(codeOf(() => p.drv.add([], [], 0))).toBe(VirtioErrorCode.EMPTY_CHAIN);
    expect(codeOf(() => p.drv.addBuffer(-1, 8, false, 0))).toBe(VirtioErrorCode.BAD_SEGMENT);
    expect(codeOf(() => p.drv.addBuffer(DATA, 2 ** 32, false, 0))).toBe(VirtioErrorCode.BAD_SEGMENT);
    expect(codeOf(() => p.drv.add([{ addr: DATA, len: 1.5 }], [], 0))).toBe(VirtioErrorCode.BAD_SEGMENT);
    p.drv.add([{ addr: DATA, len: 1 }, { addr: DATA, len: 1 }, { addr: DATA, len: 1 }], [], 0);
    expect(codeOf(() => p.drv.add([{ addr: DATA, len: 1 }], [{ addr: DATA, len: 1 }], 0))).toBe(VirtioErrorCode.QUEUE_FULL);
    p.drv.addBuffer(DATA, 1, false, 1);
    expect(p.drv.numFree).toBe(0);
    expect(codeOf(() => p.drv.addBuffer(DATA, 1, false, 2))).toBe(VirtioErrorCode.QUEUE_FULL);
  });
});
