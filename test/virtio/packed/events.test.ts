import { describe, expect, it } from 'vitest';
import { decodePackedEvent, packedEventWord, PACKED_EVENT_FLAG_DESC, packedNeedNotify, VirtioFeature } from '../../../src/virtio/index.js';
import { DATA, pair } from './helpers.js';

const EVENT_IDX = VirtioFeature.EVENT_IDX;

describe('packed need-notify decision', () => {
  it('ENABLE notifies, DISABLE does not, nothing published never notifies', () => {
    expect(packedNeedNotify(packedEventWord(0, 0, false), false, 8, 3, true, 1)).toBe(true);
    expect(packedNeedNotify(packedEventWord(1, 0, false), true, 8, 3, true, 1)).toBe(false);
    expect(packedNeedNotify(packedEventWord(0, 0, false), false, 8, 3, true, 0)).toBe(false);
  });

  it('DESC without EVENT_IDX, and the reserved value 3, notify (never lose a notification)', () => {
    expect(packedNeedNotify(packedEventWord(2, 7, true), false, 8, 3, true, 1)).toBe(true);
    expect(packedNeedNotify(packedEventWord(3, 7, true), true, 8, 3, true, 1)).toBe(true);
  });

  it('DESC notifies iff the event slot is among those just published, across the wrap', () => {
    const N = 8;
    const need = (off: number, wrap: boolean, newPos: number, newWrap: boolean, moved: number) =>
      packedNeedNotify(packedEventWord(PACKED_EVENT_FLAG_DESC, off, wrap), true, N, newPos, newWrap, moved);
    // Published slots 6,7 (lap 1) and 0,1 (lap 0): now at 2, wrap 0.
    expect(need(6, true, 2, false, 4)).toBe(true);
    expect(need(7, true, 2, false, 4)).toBe(true);
    expect(need(0, false, 2, false, 4)).toBe(true);
    expect(need(1, false, 2, false, 4)).toBe(true);
    expect(need(2, false, 2, false, 4)).toBe(false); // the next one, not yet published
    expect(need(5, true, 2, false, 4)).toBe(false); // before the batch
    expect(need(1, true, 2, false, 4)).toBe(false); // slot 1 of the previous lap: long past
    // A whole ring in one go.
    for (let off = 0; off < N; off++) expect(need(off, off < 3 ? false : true, 3, false, N)).toBe(true);
    // Largest ring: offsets use all 15 bits.
    expect(packedNeedNotify(packedEventWord(2, 32767, true), true, 32768, 0, false, 1)).toBe(true);
    expect(packedNeedNotify(packedEventWord(2, 0, false), true, 32768, 0, false, 1)).toBe(false);
  });
});

describe('available-buffer notifications (device area)', () => {
  it('without EVENT_IDX: kick wants a notification unless the device disabled them', () => {
    const { drv, dev } = pair(8);
    drv.addBuffer(DATA, 8, false, 0);
    expect(drv.kick()).toBe(true);
    expect(drv.kick()).toBe(false); // nothing new
    dev.disableNotifications();
    drv.addBuffer(DATA, 8, false, 1);
    expect(drv.kick()).toBe(false);
    // Re-enabling sees the pending chains and says so: the caller must pop (no lost notification).
    expect(dev.enableNotifications()).toBe(false);
    drv.addBuffer(DATA, 8, false, 2);
    expect(drv.kick()).toBe(true);
  });

  it('re-enabling with nothing pending returns true, and the next publish notifies', () => {
    const { drv, dev, chain } = pair(8, [EVENT_IDX]);
    dev.disableNotifications();
    drv.addBuffer(DATA, 8, false, 0);
    expect(drv.kick()).toBe(false);
    expect(dev.pop(chain)).toBe(true);
    expect(dev.enableNotifications()).toBe(true);
    drv.addBuffer(DATA, 8, false, 1);
    expect(drv.kick()).toBe(true);
  });

  it('with EVENT_IDX: only the publish that covers the device’s next slot notifies', () => {
    const { mem, addrs, drv, dev, chain } = pair(8, [EVENT_IDX]);
    expect(dev.enableNotifications()).toBe(true);
    expect(decodePackedEvent(mem.read32(addrs.deviceEvent))).toEqual({ flags: 2, off: 0, wrap: true });
    drv.addBuffer(DATA, 8, false, 0);
    expect(drv.kick()).toBe(true); // slot 0 published
    drv.addBuffer(DATA, 8, false, 1);
    expect(drv.kick()).toBe(false); // device still asleep on slot 0, already signalled
    expect(dev.pop(chain)).toBe(true);
    expect(dev.pop(chain)).toBe(true);
    expect(decodePackedEvent(mem.read32(addrs.deviceEvent))).toEqual({ flags: 2, off: 2, wrap: true });
    drv.add([{ addr: DATA, len: 1 }, { addr: DATA, len: 1 }], [], 2);
    drv.addBuffer(DATA, 8, false, 3);
    expect(drv.kick()).toBe(true); // slots 2..4 cover 2
  });

  it('with EVENT_IDX across several wraps of a 5-slot ring: exactly one notification per wake-up', () => {
    const { drv, dev, chain } = pair(5, [EVENT_IDX]);
    let kicks = 0;
    for (let round = 0; round < 40; round++) {
      expect(dev.enableNotifications()).toBe(true);
      // Two batches while the device sleeps: only the first one notifies.
      drv.addBuffer(DATA, 8, false, round);
      if (drv.kick()) kicks++;
      drv.add([{ addr: DATA, len: 1 }], [{ addr: DATA, len: 1 }], round);
      if (drv.kick()) kicks++;
      dev.disableNotifications();
      while (dev.pop(chain)) dev.pushUsed(chain.head, 0);
      dev.publishUsed();
      while (drv.popUsed() !== undefined);
    }
    expect(kicks).toBe(40);
  });
});

describe('used-buffer notifications (driver area)', () => {
  it('without EVENT_IDX: publishUsed wants an interrupt unless the driver disabled them', () => {
    const { drv, dev, chain } = pair(8);
    for (let i = 0; i < 3; i++) drv.addBuffer(DATA, 8, true, i);
    drv.kick();
    dev.pop(chain);
    dev.pushUsed(chain.head, 8);
    expect(dev.publishUsed()).toBe(true);
    expect(dev.publishUsed()).toBe(false); // nothing new
    drv.disableCallbacks();
    dev.pop(chain);
    dev.pushUsed(chain.head, 8);
    expect(dev.publishUsed()).toBe(false);
    expect(drv.enableCallbacks()).toBe(false); // used buffers waiting: drain them
    expect(drv.popUsed()).toBe(0);
    expect(drv.popUsed()).toBe(1);
    expect(drv.enableCallbacks()).toBe(true);
    dev.pop(chain);
    dev.pushUsed(chain.head, 8);
    expect(dev.publishUsed()).toBe(true);
  });

  it('with EVENT_IDX and callbacks on, each popUsed moves the driver’s event to its next used slot (like Linux)', () => {
    const { mem, addrs, drv, dev, chain } = pair(4, [EVENT_IDX]);
    drv.enableCallbacks();
    for (let i = 0; i < 6; i++) {
      drv.add([{ addr: DATA, len: 1 }], [{ addr: DATA, len: 1 }], i); // 2 slots each
      drv.kick();
      dev.pop(chain);
      dev.pushUsed(chain.head, 1);
      expect(dev.publishUsed()).toBe(true); // the driver asked for exactly this slot
      expect(drv.popUsed()).toBe(i);
      const slot = ((i + 1) * 2) % 4;
      const wrap = Math.floor(((i + 1) * 2) / 4) % 2 === 0;
      expect(decodePackedEvent(mem.read32(addrs.driverEvent))).toEqual({ flags: 2, off: slot, wrap });
    }
    drv.disableCallbacks();
    expect(decodePackedEvent(mem.read32(addrs.driverEvent)).flags).toBe(1);
  });

  it('with EVENT_IDX: the driver’s event follows its used position; one interrupt per wake-up across wraps', () => {
    const { mem, addrs, drv, dev, chain } = pair(7, [EVENT_IDX]);
    expect(drv.enableCallbacks()).toBe(true);
    expect(decodePackedEvent(mem.read32(addrs.driverEvent))).toEqual({ flags: 2, off: 0, wrap: true });
    let interrupts = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3; i++) drv.addBuffer(DATA, 8, true, i);
      drv.kick();
      for (let i = 0; i < 3; i++) {
        expect(dev.pop(chain)).toBe(true);
        dev.pushUsed(chain.head, 4);
        if (dev.publishUsed()) interrupts++; // the driver is asleep until it drains
      }
      let n = 0;
      while (drv.popUsed() !== undefined) n++;
      expect(n).toBe(3);
      expect(drv.enableCallbacks()).toBe(true);
    }
    expect(interrupts).toBe(50);
  });
});
