import { describe, expect, it } from 'vitest';
import {
  checkPackedQueueSize,
  decodePackedEvent,
  isPackedAvail,
  isPackedUsed,
  PACKED_DESC_F_AVAIL,
  PACKED_DESC_F_INDIRECT,
  PACKED_DESC_F_NEXT,
  PACKED_DESC_F_USED,
  PACKED_DESC_F_WRITE,
  PACKED_EVENT_FLAG_DESC,
  PACKED_EVENT_FLAG_DISABLE,
  PACKED_EVENT_FLAG_ENABLE,
  packedEventWord,
  packedRingSizes,
  PackedVirtqueueDevice,
  PackedVirtqueueDriver,
  VirtioErrorCode,
} from '../../../src/virtio/index.js';
import { codeOf, newMemory, RING, ringAddrs } from './helpers.js';

describe('packed layout', () => {
  it('uses the spec values for flags and event flags', () => {
    expect([PACKED_DESC_F_NEXT, PACKED_DESC_F_WRITE, PACKED_DESC_F_INDIRECT, PACKED_DESC_F_AVAIL, PACKED_DESC_F_USED]).toEqual([1, 2, 4, 0x80, 0x8000]);
    expect([PACKED_EVENT_FLAG_ENABLE, PACKED_EVENT_FLAG_DISABLE, PACKED_EVENT_FLAG_DESC]).toEqual([0, 1, 2]);
  });

  it('sizes the areas as 16N and 4 + 4 bytes', () => {
    expect(packedRingSizes(256)).toEqual({ descBytes: 4096, driverEventBytes: 4, deviceEventBytes: 4 });
    expect(packedRingSizes(5).descBytes).toBe(80);
  });

  it('accepts any size 1..32768, powers of two or not', () => {
    for (const n of [1, 5, 7, 100, 32768]) expect(() => checkPackedQueueSize(n)).not.toThrow();
    for (const n of [0, -1, 32769, 1.5, Number.NaN]) expect(codeOf(() => checkPackedQueueSize(n))).toBe(VirtioErrorCode.BAD_QUEUE_SIZE);
  });

  it('tells available from used by the wrap counter', () => {
    expect(isPackedAvail(0x0080, true)).toBe(true);
    expect(isPackedAvail(0x8000, false)).toBe(true);
    expect(isPackedAvail(0x0000, true)).toBe(false); // zeroed ring
    expect(isPackedAvail(0x8080, true)).toBe(false);
    expect(isPackedUsed(0x8080, true)).toBe(true);
    expect(isPackedUsed(0x0000, false)).toBe(true);
    expect(isPackedUsed(0x0080, true)).toBe(false);
    expect(isPackedUsed(0x0000, true)).toBe(false);
  });

  it('packs an event suppression structure as off_wrap | flags << 16', () => {
    const w = packedEventWord(PACKED_EVENT_FLAG_DESC, 0x1234, true);
    expect(w).toBe(0x0002_9234);
    expect(decodePackedEvent(w)).toEqual({ flags: 2, off: 0x1234, wrap: true });
  });

  it('refuses misaligned or unmapped areas with typed errors', () => {
    const mem = newMemory();
    const a = ringAddrs(8);
    expect(codeOf(() => new PackedVirtqueueDriver(mem, 8, { ...a, desc: RING + 8 }))).toBe(VirtioErrorCode.BAD_ALIGNMENT);
    expect(codeOf(() => new PackedVirtqueueDevice(mem, 8, { ...a, driverEvent: a.driverEvent + 2 }))).toBe(VirtioErrorCode.BAD_ALIGNMENT);
    expect(codeOf(() => new PackedVirtqueueDevice(mem, 8, { ...a, deviceEvent: 0x10 }))).toBe(VirtioErrorCode.BAD_RING_ADDRESS);
    expect(codeOf(() => new PackedVirtqueueDriver(mem, 0, a))).toBe(VirtioErrorCode.BAD_QUEUE_SIZE);
  });

  it('builds a driver without touching memory, and reset() zeroes ring and event areas', () => {
    const mem = newMemory();
    const a = ringAddrs(4);
    mem.fill(RING, 16 * 4 + 8, 0xa5);
    const drv = new PackedVirtqueueDriver(mem, 4, a);
    expect([...mem.bytes(RING, 72)].every((b) => b === 0xa5)).toBe(true);
    drv.reset();
    expect([...mem.bytes(RING, 72)].every((b) => b === 0)).toBe(true);
  });
});
