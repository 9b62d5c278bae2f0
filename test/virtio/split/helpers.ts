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

/** 16 descriptor bytes as hex, encoded independently of the code under test (Buffer LE writers). */
export function descHex(addr: number | bigint, len: number, flags: number, next: number): string {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(addr), 0);
  b.writeUInt32LE(len >>> 0, 8);
  b.writeUInt16LE(flags, 12);
  b.writeUInt16LE(next, 14);
  return b.toString('hex');
}

/** Writes hex bytes (spaces ignored) at a physical address. */
export function writeHex(memory: import('../../../src/virtio/index.js').PhysicalMemory, addr: number, hex: string): void {
  memory.write(addr, Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

export function u16Hex(...v: number[]): string {
  const b = Buffer.alloc(2 * v.length);
  v.forEach((x, i) => b.writeUInt16LE(x, 2 * i));
  return b.toString('hex');
}

export function u32Hex(...v: number[]): string {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b.toString('hex');
}
