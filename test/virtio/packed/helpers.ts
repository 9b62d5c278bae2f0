/** Shared set-up for the packed virtqueue tests: one memory region holding a ring, its event areas, data and tables. */
import {
  DescriptorChain,
  PackedVirtqueueDevice,
  PackedVirtqueueDriver,
  PhysicalMemory,
  features,
  type DriverQueueOptions,
  type DeviceQueueOptions,
  type PackedRingAddresses,
  VirtioError,
} from '../../../src/virtio/index.js';

export const RAM_BASE = 0x4000_0000;
export const RAM_SIZE = 0x10_0000;
export const RING = RAM_BASE + 0x1000;
export const DATA = RAM_BASE + 0x2_0000;
export const TABLES = RAM_BASE + 0x8_0000;

export function ringAddrs(size: number): PackedRingAddresses {
  const ev = RING + 16 * size;
  return { desc: RING, driverEvent: ev, deviceEvent: ev + 4 };
}

export function newMemory(): PhysicalMemory {
  return new PhysicalMemory([{ name: 'ram', base: RAM_BASE, size: RAM_SIZE }]);
}

export interface Pair {
  mem: PhysicalMemory;
  addrs: PackedRingAddresses;
  drv: PackedVirtqueueDriver<number>;
  dev: PackedVirtqueueDevice;
  chain: DescriptorChain;
}

export function pair(size: number, feat: number[] = [], drvOpts: DriverQueueOptions = {}, devOpts: DeviceQueueOptions = {}): Pair {
  const mem = newMemory();
  const addrs = ringAddrs(size);
  const f = features(...feat);
  const drv = new PackedVirtqueueDriver<number>(mem, size, addrs, { features: f, ...drvOpts });
  const dev = new PackedVirtqueueDevice(mem, size, addrs, { features: f, ...devOpts });
  return { mem, addrs, drv, dev, chain: new DescriptorChain(size) };
}

/** Raw descriptor writer, as a (possibly hostile) driver would write it. */
export function putDesc(mem: PhysicalMemory, base: number, i: number, addr: number, len: number, id: number, flags: number): void {
  const a = base + 16 * i;
  mem.write64(a, addr);
  mem.write32(a + 8, len);
  mem.write16(a + 12, id);
  mem.write16(a + 14, flags);
}

export function descHex(mem: PhysicalMemory, base: number, i: number): string {
  return Buffer.from(mem.bytes(base + 16 * i, 16)).toString('hex');
}

/** The VirtioError code thrown by fn (fails the test when nothing or something else is thrown). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof VirtioError) return e.code;
    throw e;
  }
  throw new Error('expected a VirtioError, nothing was thrown');
}
