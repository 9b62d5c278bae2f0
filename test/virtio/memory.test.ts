import { describe, expect, it } from 'vitest';
import { PhysicalMemory, toAddress, addrHi, addrLo, VirtioError, VirtioErrorCode } from '../../src/virtio/index.js';

describe('PhysicalMemory', () => {
  const mem = new PhysicalMemory([
    { name: 'low', base: 0x1000, size: 0x1000 },
    { name: 'high', base: 0x1_0000_0000, size: 0x100 },
  ]);

  it('reads and writes little-endian values in a region', () => {
    mem.write32(0x1004, 0x11223344);
    expect([...mem.bytes(0x1004, 4)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    mem.write64(0x1008, 0x1_2345_6789);
    expect(mem.read32(0x1008)).toBe(0x23456789);
    expect(mem.read32(0x100c)).toBe(1);
    expect(mem.read64(0x1008)).toBe(0x1_2345_6789);
  });

  it('addresses above 4 GiB through two u32 halves', () => {
    mem.write16(0x1_0000_0010, 0xbeef);
    expect(mem.read16(0x1_0000_0010)).toBe(0xbeef);
    expect(toAddress(addrLo(0x1_0000_0010), addrHi(0x1_0000_0010))).toBe(0x1_0000_0010);
    expect(toAddress(0, 0xffff_ffff)).toBe(-1);
  });

  it('refuses an access that straddles the end of a region with a typed error', () => {
    expect(() => mem.read32(0x1ffe)).toThrowError(VirtioError);
    try {
      mem.bytes(0x1f00, 0x200);
    } catch (e) {
      expect((e as VirtioError).code).toBe(VirtioErrorCode.MEM_OUT_OF_RANGE);
    }
    expect(mem.contains(0x2000, 1)).toBe(false);
    expect(mem.contains(-1, 1)).toBe(false);
    expect(mem.contains(Number.NaN, 1)).toBe(false);
  });

  it('refuses overlapping regions and misaligned atomics', () => {
    expect(() => mem.addRegion({ name: 'x', base: 0x1800, size: 0x1000 })).toThrowError(/OVERLAP/);
    expect(() => mem.atomicLoad16(0x1001)).toThrowError(/MISALIGNED/);
    mem.atomicStore16(0x1002, 7);
    expect(mem.atomicLoad16(0x1002)).toBe(7);
  });
});
