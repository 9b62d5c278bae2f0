import { describe, expect, it } from 'vitest';
import { DescriptorChain, VirtioErrorCode, walkPackedChain } from '../../../src/virtio/index.js';
import { codeOf, DATA, pair, putDesc, RING } from './helpers.js';

describe('walkPackedChain (standalone, for tools)', () => {
  it('walks available chains one after another, across the end of the ring, without changing memory', () => {
    const { mem, drv } = pair(5);
    for (let i = 0; i < 3; i++) drv.addBuffer(DATA, 8, false, i);
    drv.kick();
    const before = Buffer.from(mem.bytes(RING, 80)).toString('hex');
    const out = new DescriptorChain(5);
    let at = { nextIndex: 0, nextWrap: true };
    for (let i = 0; i < 3; i++) {
      at = walkPackedChain(mem, RING, 5, at.nextIndex, at.nextWrap, out, { indirect: false });
      expect(out.head).toBe(i);
    }
    expect(at).toEqual({ nextIndex: 3, nextWrap: true });
    // Slot 3 is not available yet.
    expect(codeOf(() => walkPackedChain(mem, RING, 5, 3, true, out, { indirect: false }))).toBe(VirtioErrorCode.PACKED_BAD_FLAGS);
    expect(Buffer.from(mem.bytes(RING, 80)).toString('hex')).toBe(before);
    // A 3-descriptor chain at slots 3, 4, 0 (lap 2 for slot 0), written by hand.
    putDesc(mem, RING, 3, DATA, 1, 4, 0x0081);
    putDesc(mem, RING, 4, DATA + 1, 2, 4, 0x0083);
    putDesc(mem, RING, 0, DATA + 3, 3, 4, 0x8002);
    at = walkPackedChain(mem, RING, 5, 3, true, out, { indirect: false });
    expect(at).toEqual({ nextIndex: 1, nextWrap: false });
    expect([out.head, out.count, out.readable, out.ringDescs]).toEqual([4, 3, 1, 3]);
    // The same slot 0 is not available in lap 1 any more.
    expect(codeOf(() => walkPackedChain(mem, RING, 5, 0, true, out, { indirect: false }))).toBe(VirtioErrorCode.PACKED_BAD_FLAGS);
  });

  it('applies the same rules as the device and checks its own arguments', () => {
    const { mem } = pair(4);
    const out = new DescriptorChain(4);
    putDesc(mem, RING, 0, DATA, 8, 0, 0x0080 | 4);
    expect(codeOf(() => walkPackedChain(mem, RING, 4, 0, true, out, { indirect: false }))).toBe(VirtioErrorCode.INDIRECT_NOT_NEGOTIATED);
    putDesc(mem, RING, 0, DATA, 8, 0, 0x0081);
    putDesc(mem, RING, 1, DATA, 8, 0, 0x0081);
    putDesc(mem, RING, 2, DATA, 8, 0, 0x0080);
    expect(codeOf(() => walkPackedChain(mem, RING, 4, 0, true, out, { indirect: false, maxSegments: 2 }))).toBe(VirtioErrorCode.CHAIN_TOO_LONG);
    expect(codeOf(() => walkPackedChain(mem, RING + 8, 4, 0, true, out, { indirect: false }))).toBe(VirtioErrorCode.BAD_ALIGNMENT);
    expect(codeOf(() => walkPackedChain(mem, RING, 4, 4, true, out, { indirect: false }))).toBe(VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE);
    expect(codeOf(() => walkPackedChain(mem, 0x1000, 4, 0, true, out, { indirect: false }))).toBe(VirtioErrorCode.MEM_OUT_OF_RANGE);
  });
});

describe('pending() and reset()', () => {
  it('pending() counts whole published chains only', () => {
    const { drv, dev, chain } = pair(8);
    expect(dev.pending()).toBe(0);
    drv.addBuffer(DATA, 8, false, 0);
    drv.add([{ addr: DATA, len: 8 }, { addr: DATA, len: 8 }], [{ addr: DATA, len: 8 }], 1);
    expect(dev.pending()).toBe(0); // added, not kicked
    drv.kick();
    drv.add([{ addr: DATA, len: 8 }], [{ addr: DATA, len: 8 }], 2); // tail marked, head not
    expect(dev.pending()).toBe(2);
    dev.pop(chain);
    expect(dev.pending()).toBe(1);
  });

  it('after a reset of both sides the queue starts again at slot 0 with wrap counters 1', () => {
    const { mem, addrs, drv, dev, chain } = pair(5);
    for (let i = 0; i < 4; i++) drv.addBuffer(DATA, 8, true, i);
    drv.kick();
    dev.enableNotifications();
    dev.pop(chain);
    dev.pushUsed(chain.head, 8);
    dev.publishUsed();
    drv.add([{ addr: DATA, len: 8 }], [], 9); // added, never kicked
    // Token 0 was used but never collected: still the caller’s to reclaim.
    expect(drv.reset().sort()).toEqual([0, 1, 2, 3, 9]);
    dev.reset();
    expect([...mem.bytes(addrs.desc, 80)].every((b) => b === 0)).toBe(true);
    expect(mem.read32(addrs.driverEvent)).toBe(0);
    expect(mem.read32(addrs.deviceEvent)).toBe(0);
    expect(drv.numFree).toBe(5);
    expect(drv.addBuffer(DATA, 4, true, 42)).toBe(0);
    drv.kick();
    expect(mem.read16(addrs.desc + 14)).toBe(0x0082);
    expect(dev.pop(chain)).toBe(true);
    dev.pushUsed(chain.head, 4);
    dev.publishUsed();
    expect(drv.popUsed()).toBe(42);
  });
});
