import { describe, expect, it } from 'vitest';
import { DATA, descHex, pair, RING } from './helpers.js';

/** 16 bytes of a packed descriptor: addr u64, len u32, id u16, flags u16, little-endian (§2.8.13). */
function le(addr: number, len: number, id: number, flags: number): string {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(addr % 0x1_0000_0000, 0);
  b.writeUInt32LE(Math.floor(addr / 0x1_0000_0000), 4);
  b.writeUInt32LE(len, 8);
  b.writeUInt16LE(id, 12);
  b.writeUInt16LE(flags, 14);
  return b.toString('hex');
}

describe('packed ring byte vectors', () => {
  it('writes a single-descriptor buffer and publishes it with AVAIL (0x0080) only on kick', () => {
    const { mem, drv } = pair(4);
    expect(drv.addBuffer(0x4002_0000, 0x100, false, 7)).toBe(0);
    expect(descHex(mem, RING, 0)).toBe('0000024000000000' + '00010000' + '0000' + '0000');
    expect(drv.kick()).toBe(true);
    expect(descHex(mem, RING, 0)).toBe('0000024000000000' + '00010000' + '0000' + '8000');
  });

  it('keeps a 64-bit address as two halves', () => {
    const { mem, drv } = pair(4);
    drv.addBuffer(0x12_3456_7890, 8, true, 1);
    drv.kick();
    expect(descHex(mem, RING, 0)).toBe(le(0x12_3456_7890, 8, 0, 0x0082));
    expect(descHex(mem, RING, 0)).toBe('9078563412000000' + '08000000' + '0000' + '8200');
  });

  it('writes a chain with NEXT on all but the last, the id in every descriptor, and the head flags last', () => {
    const { mem, drv } = pair(4);
    drv.addBuffer(DATA, 32, false, 0); // id 0, slot 0
    const id = drv.add([{ addr: DATA + 0x100, len: 16 }], [{ addr: DATA + 0x200, len: 64 }], 9);
    expect(id).toBe(1);
    // Before kick: the tail is complete and marked, the head's flags are still zero.
    expect(descHex(mem, RING, 1)).toBe(le(DATA + 0x100, 16, 1, 0));
    expect(descHex(mem, RING, 2)).toBe(le(DATA + 0x200, 64, 1, 0x0082));
    drv.kick();
    expect(descHex(mem, RING, 0)).toBe(le(DATA, 32, 0, 0x0080));
    expect(descHex(mem, RING, 1)).toBe(le(DATA + 0x100, 16, 1, 0x0081));
    expect(descHex(mem, RING, 2)).toBe(le(DATA + 0x200, 64, 1, 0x0082));
    expect(drv.numFree).toBe(1);
  });

  it('writes used descriptors in completion order, each skipping the slots of its chain', () => {
    const { mem, drv, dev, chain } = pair(4);
    drv.addBuffer(DATA, 32, false, 7); // id 0, slot 0
    drv.add([{ addr: DATA + 0x100, len: 16 }], [{ addr: DATA + 0x200, len: 64 }], 9); // id 1, slots 1-2
    drv.kick();
    expect(dev.pop(chain)).toBe(true);
    expect(dev.pop(chain)).toBe(true);
    expect(chain.toJSON()).toEqual({
      head: 1,
      segments: [
        { addr: '0x40020100', len: 16, write: false },
        { addr: '0x40020200', len: 64, write: true },
      ],
    });
    expect(chain.ringDescs).toBe(2);
    dev.pushUsed(1, 20);
    dev.pushUsed(0, 0);
    dev.publishUsed();
    // id 1 first, at slot 0: AVAIL|USED (wrap 1) | WRITE (something written); addr left as it was.
    expect(descHex(mem, RING, 0)).toBe(le(DATA, 20, 1, 0x8082));
    // id 0 next, at slot 0 + 2 slots: nothing written, so no WRITE and len 0.
    expect(descHex(mem, RING, 2)).toBe(le(DATA + 0x200, 0, 0, 0x8080));
    expect(drv.popUsed()).toBe(9);
    expect(drv.lastUsedLen).toBe(20);
    expect(drv.popUsed()).toBe(7);
    expect(drv.lastUsedLen).toBe(0);
    expect(drv.popUsed()).toBeUndefined();
    expect(drv.numFree).toBe(4);
  });

  it('wraps a chain past the end of the ring: flags follow each slot’s lap (0x0080 then 0x8000)', () => {
    const { mem, drv, dev, chain } = pair(4);
    for (let i = 0; i < 3; i++) drv.addBuffer(DATA + i * 0x100, 8, false, i);
    drv.kick();
    for (let i = 0; i < 3; i++) {
      expect(dev.pop(chain)).toBe(true);
      dev.pushUsed(chain.head, 0);
    }
    dev.publishUsed();
    for (let i = 0; i < 3; i++) expect(drv.popUsed()).toBe(i);
    // Next slot is 3 (wrap 1); a 2-descriptor chain takes slots 3 and 0 (wrap 0).
    const id = drv.add([{ addr: DATA + 0x400, len: 8 }], [{ addr: DATA + 0x500, len: 8 }], 42);
    drv.kick();
    expect(descHex(mem, RING, 3)).toBe(le(DATA + 0x400, 8, id, 0x0081));
    expect(descHex(mem, RING, 0)).toBe(le(DATA + 0x500, 8, id, 0x8002));
    expect(dev.pop(chain)).toBe(true);
    expect(chain.head).toBe(id);
    expect(chain.count).toBe(2);
    dev.pushUsed(id, 5);
    dev.publishUsed();
    // The used descriptor goes to slot 3 with the device's wrap 1 (0x8080 | WRITE); its position then wraps.
    expect(descHex(mem, RING, 3)).toBe(le(DATA + 0x400, 5, id, 0x8082));
    expect(drv.popUsed()).toBe(42);
    expect(drv.lastUsedLen).toBe(5);
    // Lap 2 (wrap 0): available = USED set, AVAIL clear; used = both clear.
    const id2 = drv.addBuffer(DATA, 4, true, 5);
    drv.kick();
    expect(descHex(mem, RING, 1)).toBe(le(DATA, 4, id2, 0x8002));
    expect(dev.pop(chain)).toBe(true);
    dev.pushUsed(chain.head, 4);
    dev.publishUsed();
    expect(descHex(mem, RING, 1)).toBe(le(DATA, 4, id2, 0x0002));
    expect(drv.popUsed()).toBe(5);
  });
});
