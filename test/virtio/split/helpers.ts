/** Shared fixtures for the split virtqueue tests: one memory, a ring at fixed addresses, buffers after it. */
import { PhysicalMemory, SplitVirtqueueDevice, SplitVirtqueueDriver, splitRingSizes, type DeviceQueueOptions, type DriverQueueOptions, type SplitRingAddresses } from '../../../src/virtio/index.js';

export const MEM_BASE = 0x1000_0000;
export const MEM_SIZE = 0x10_0000;

export function ringAt(size: number, base = MEM_BASE): SplitRingAddresses {
  const { descBytes, availBytes } = splitRingSizes(size);
  const desc = base;
  const avail = desc + descBytes;
  const used = Math.ceil((avail + availBytes) / 4) * 4;
  return { desc, avail, used };
}

/** A buffer area after the ring (offset 0x8_0000 into memory). */
export const BUF_BASE = MEM_BASE + 0x8_0000;
export const IND_BASE = MEM_BASE + 0x4_0000;

export function makePair<T = number>(size: number, drv: DriverQueueOptions = {}, dev: DeviceQueueOptions = {}) {
  const memory = new PhysicalMemory([{ name: 'ram', base: MEM_BASE, size: MEM_SIZE }]);
  const addrs = ringAt(size);
  const driver = new SplitVirtqueueDriver<T>(memory, size, addrs, drv);
  const device = new SplitVirtqueueDevice(memory, size, addrs, dev);
  return { memory, addrs, driver, device };
}

export function hexBytes(u8: Uint8Array): string {
  return Buffer.from(u8).toString('hex');
}
