import { describe, expect, it } from 'vitest';
import { VirtioErrorCode, VirtioFeature } from '../../../src/virtio/index.js';
import { codeOf, DATA, descHex, pair, putDesc, RING, TABLES } from './helpers.js';

const IN_ORDER = VirtioFeature.IN_ORDER;
const INDIRECT_DESC = VirtioFeature.INDIRECT_DESC;

describe('IN_ORDER (§2.8.8)', () => {
  it('the device writes one used descriptor for a batch of complete buffers; the driver returns them all', () => {
    const { mem, drv, dev, chain } = pair(8, [IN_ORDER]);
    drv.addBuffer(DATA, 8, false, 10); // slot 0
    drv.add([{ addr: DATA, len: 8 }, { addr: DATA, len: 8 }], [], 11); // slots 1-2
    drv.addBuffer(DATA, 8, false, 12); // slot 3
    drv.kick();
    const before = [1, 2, 3].map((i) => descHex(mem, RING, i));
    for (let i = 0; i < 3; i++) {
      expect(dev.pop(chain)).toBe(true);
      dev.pushUsed(chain.head, 0);
    }
    dev.publishUsed();
    // One used descriptor at slot 0 carrying the last id (2); slots 1..3 untouched.
    expect(mem.read16(RING + 12)).toBe(2);
    expect(mem.read16(RING + 14)).toBe(0x8080);
    expect([1, 2, 3].map((i) => descHex(mem, RING, i))).toEqual(before);
    expect([drv.popUsed(), drv.popUsed(), drv.popUsed(), drv.popUsed()]).toEqual([10, 11, 12, undefined]);
    expect(drv.numFree).toBe(8);
    // The next round continues at slot 4 on both sides.
    drv.addBuffer(DATA, 8, true, 13);
    drv.kick();
    expect(dev.pop(chain)).toBe(true);
    dev.pushUsed(chain.head, 3);
    dev.publishUsed();
    expect(mem.read16(RING + 4 * 16 + 14)).toBe(0x8082);
    expect(drv.popUsed()).toBe(13);
    expect(drv.lastUsedLen).toBe(3);
  });

  it('a partly written buffer ends a batch (its length must reach the driver)', () => {
    const { mem, drv, dev, chain } = pair(8, [IN_ORDER]);
    for (let i = 0; i < 3; i++) drv.addBuffer(DATA + 16 * i, 8, true, 20 + i);
    drv.kick();
    const lens = [8, 4, 8];
    for (let i = 0; i < 3; i++) {
      dev.pop(chain);
      dev.pushUsed(chain.head, lens[i]!);
    }
    dev.publishUsed();
    // Buffer 0 (complete) folds into buffer 1 (4 bytes): used {id 1, len 4} at slot 0; then {id 2, len 8} at slot 2.
    expect([mem.read16(RING + 12), mem.read32(RING + 8)]).toEqual([1, 4]);
    expect([mem.read16(RING + 32 + 12), mem.read32(RING + 32 + 8)]).toEqual([2, 8]);
    const got: [number | undefined, number][] = [];
    for (let i = 0; i < 3; i++) got.push([drv.popUsed(), drv.lastUsedLen]);
    expect(got).toEqual([
      [20, 8],
      [21, 4],
      [22, 8],
    ]);
  });

  it('the device refuses to use buffers out of order when IN_ORDER was negotiated', () => {
    const { drv, dev, chain } = pair(8, [IN_ORDER]);
    drv.addBuffer(DATA, 8, false, 0);
    drv.addBuffer(DATA, 8, false, 1);
    drv.kick();
    dev.pop(chain);
    dev.pop(chain);
    expect(codeOf(() => dev.pushUsed(1, 0))).toBe(VirtioErrorCode.BAD_ARGUMENT);
  });

  it('the driver treats every earlier buffer as used when a batch’s last id arrives (hand-written by a device)', () => {
    const { mem, drv } = pair(8, [IN_ORDER]);
    const ids = [0, 1, 2, 3].map((t) => drv.addBuffer(DATA, 8, true, t));
    drv.kick();
    putDesc(mem, RING, 0, 0, 5, ids[2]!, 0x8082); // batch up to the third buffer
    expect(drv.hasUsed()).toBe(true);
    const got: [number | undefined, number][] = [];
    for (let i = 0; i < 3; i++) got.push([drv.popUsed(), drv.lastUsedLen]);
    expect(got).toEqual([
      [0, 8],
      [1, 8],
      [2, 5],
    ]);
    expect(drv.popUsed()).toBeUndefined(); // slot 3 not used yet
    expect(drv.numFree).toBe(7);
  });
});

describe('indirect descriptors (§2.8.7)', () => {
  const opts = { indirect: { base: TABLES, tableEntries: 4 } };

  it('puts a multi-segment chain in a table: one ring slot with INDIRECT (0x0084)', () => {
    const { mem, drv, dev, chain } = pair(8, [INDIRECT_DESC], opts);
    const id = drv.add([{ addr: DATA, len: 16 }], [{ addr: DATA + 0x100, len: 32 }, { addr: DATA + 0x200, len: 8 }], 5);
    drv.kick();
    expect(drv.numFree).toBe(7);
    const table = TABLES + id * 4 * 16;
    const ring = Buffer.alloc(16);
    ring.writeUInt32LE(table, 0);
    ring.writeUInt32LE(48, 8);
    ring.writeUInt16LE(id, 12);
    ring.writeUInt16LE(0x0084, 14);
    expect(descHex(mem, RING, 0)).toBe(ring.toString('hex'));
    // Table entries: flags WRITE only, id 0.
    expect(descHex(mem, table, 0)).toBe('0000024000000000' + '10000000' + '0000' + '0000');
    expect(descHex(mem, table, 1)).toBe('0001024000000000' + '20000000' + '0000' + '0200');
    expect(descHex(mem, table, 2)).toBe('0002024000000000' + '08000000' + '0000' + '0200');
    expect(dev.pop(chain)).toBe(true);
    expect(chain.indirect).toBe(true);
    expect(chain.ringDescs).toBe(1);
    expect([chain.count, chain.readable, chain.readableBytes, chain.writableBytes]).toEqual([3, 1, 16, 40]);
    dev.pushUsed(id, 40);
    dev.publishUsed();
    expect(drv.popUsed()).toBe(5);
    expect(drv.lastUsedLen).toBe(40);
    expect(drv.numFree).toBe(8);
  });

  it('follows the policy: auto keeps single segments direct, always uses a table, never does not, too long falls back', () => {
    {
      const { mem, drv } = pair(8, [INDIRECT_DESC], opts);
      drv.addBuffer(DATA, 8, false, 0);
      drv.add([1, 2, 3, 4, 5].map((k) => ({ addr: DATA + k, len: 1 })), [], 1); // 5 > 4 entries: direct
      drv.kick();
      expect(mem.read16(RING + 14)).toBe(0x0080);
      expect(drv.numFree).toBe(2);
    }
    {
      const { mem, drv } = pair(8, [INDIRECT_DESC], { ...opts, indirectPolicy: 'always' });
      drv.addBuffer(DATA, 8, false, 0);
      drv.kick();
      expect(mem.read16(RING + 14)).toBe(0x0084);
      expect(mem.read32(RING + 8)).toBe(16);
    }
    {
      const { mem, drv } = pair(8, [INDIRECT_DESC], { ...opts, indirectPolicy: 'never' });
      drv.add([{ addr: DATA, len: 1 }], [{ addr: DATA, len: 1 }], 0);
      drv.kick();
      expect(mem.read16(RING + 14)).toBe(0x0081);
    }
    {
      // Not negotiated: tables are never used even if configured.
      const { mem, drv } = pair(8, [], opts);
      drv.add([{ addr: DATA, len: 1 }], [{ addr: DATA, len: 1 }], 0);
      drv.kick();
      expect(mem.read16(RING + 14)).toBe(0x0081);
    }
  });
});
