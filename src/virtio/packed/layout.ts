/**
 * Packed virtqueue memory layout (VIRTIO 1.2 §2.8, §2.8.13 descriptor format, §2.8.14 event suppression format).
 *
 *   Descriptor Ring (16-aligned, 16*N; N in 1..32768, any value)      Driver Area / Device Area (4-aligned, 4 each)
 *   +-------------+-----+-----+-------+                                +----------------------+------------------+
 *   | addr        | len | id  | flags | x N                            | desc_event_off_wrap  | desc_event_flags |
 *   | u64         | u32 | u16 | u16   |                                | u16: off 0..14,      | u16: ENABLE 0,   |
 *   +-------------+-----+-----+-------+                                |      wrap bit 15     | DISABLE 1, DESC 2|
 *     0             8     12    14                                     +----------------------+------------------+
 *
 * One ring carries both directions: the driver writes available descriptors in ring order, the device overwrites
 * them with used descriptors in completion order. Each side keeps a position and a one-bit wrap counter (both start
 * at 1, §2.8.1) that flips every time its position passes the end of the ring:
 *
 *   available:  AVAIL == driver wrap counter, USED != it        (flags & 0x8080 is 0x0080 with wrap 1, 0x8000 with 0)
 *   used:       AVAIL == USED == device wrap counter             (flags & 0x8080 is 0x8080 with wrap 1, 0x0000 with 0)
 *
 * The Driver Area is written by the driver and read by the device (it gates used-buffer notifications); the Device
 * Area is written by the device and read by the driver (it gates available-buffer notifications).
 */
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hex, type MemoryRegion, type PhysicalMemory } from '../memory.js';

/** Guest-physical addresses of the three areas of one packed ring. */
export interface PackedRingAddresses {
  /** Descriptor ring, 16-aligned, 16*N bytes. */
  desc: number;
  /** Driver Event Suppression area, 4-aligned, 4 bytes (written by the driver). */
  driverEvent: number;
  /** Device Event Suppression area, 4-aligned, 4 bytes (written by the device). */
  deviceEvent: number;
}

export const PACKED_DESC_SIZE = 16;
export const PACKED_EVENT_SIZE = 4;
/** Largest packed queue size (§2.8: up to 2^15 entries). */
export const MAX_PACKED_QUEUE_SIZE = 32768;

/** Descriptor flags (AVAIL/USED §2.8.1, WRITE §2.8.3, NEXT §2.8.6, INDIRECT §2.8.7). */
export const PACKED_DESC_F_NEXT = 1;
export const PACKED_DESC_F_WRITE = 2;
export const PACKED_DESC_F_INDIRECT = 4;
export const PACKED_DESC_F_AVAIL = 1 << 7;
export const PACKED_DESC_F_USED = 1 << 15;

/** desc_event_flags values (§2.8.10). DESC is only valid when VIRTIO_F_EVENT_IDX was negotiated; 3 is reserved. */
export const PACKED_EVENT_FLAG_ENABLE = 0;
export const PACKED_EVENT_FLAG_DISABLE = 1;
export const PACKED_EVENT_FLAG_DESC = 2;
/** Bit of desc_event_off_wrap holding the wrap counter. */
export const PACKED_EVENT_WRAP_BIT = 15;

/** Throws BAD_QUEUE_SIZE unless size is an integer in 1..32768 (a packed ring need not be a power of two). */
export function checkPackedQueueSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_PACKED_QUEUE_SIZE) {
    throw new VirtioError(VirtioErrorCode.BAD_QUEUE_SIZE, `packed queue size ${size} must be an integer in 1..${MAX_PACKED_QUEUE_SIZE}`, { size });
  }
}

/** Bytes of each area for queue size N (§2.8.10.1 table). */
export function packedRingSizes(size: number): { descBytes: number; driverEventBytes: number; deviceEventBytes: number } {
  checkPackedQueueSize(size);
  return { descBytes: PACKED_DESC_SIZE * size, driverEventBytes: PACKED_EVENT_SIZE, deviceEventBytes: PACKED_EVENT_SIZE };
}

/** The flags bits that mark a descriptor available for a driver wrap counter (AVAIL = wrap, USED = !wrap). */
export function packedAvailFlags(wrap: boolean): number {
  return wrap ? PACKED_DESC_F_AVAIL : PACKED_DESC_F_USED;
}

/** The flags bits that mark a descriptor used for a device wrap counter (AVAIL = USED = wrap). */
export function packedUsedFlags(wrap: boolean): number {
  return wrap ? PACKED_DESC_F_AVAIL | PACKED_DESC_F_USED : 0;
}

/** True when `flags` marks a descriptor available in the lap whose wrap counter is `wrap`. */
export function isPackedAvail(flags: number, wrap: boolean): boolean {
  return (flags & (PACKED_DESC_F_AVAIL | PACKED_DESC_F_USED)) === (wrap ? PACKED_DESC_F_AVAIL : PACKED_DESC_F_USED);
}

/** True when `flags` marks a descriptor used in the lap whose wrap counter is `wrap`. */
export function isPackedUsed(flags: number, wrap: boolean): boolean {
  return (flags & (PACKED_DESC_F_AVAIL | PACKED_DESC_F_USED)) === (wrap ? PACKED_DESC_F_AVAIL | PACKED_DESC_F_USED : 0);
}

/** The views a queue keeps of its three areas, resolved once (region-relative element indices). */
export interface PackedRingViews {
  readonly descRegion: MemoryRegion;
  /** u32 index of descriptor 0's first word; descriptor i starts at d32 + 4i. */
  readonly d32: number;
  /** u16 index of descriptor 0's first half-word; descriptor i's id is at d16 + 8i + 6, its flags at d16 + 8i + 7. */
  readonly d16: number;
  /** u32 view and index of the driver area (off_wrap in the low half-word, flags in the high one: little-endian). */
  readonly drvU32: Uint32Array;
  readonly drv32: number;
  /** u32 view and index of the device area. */
  readonly devU32: Uint32Array;
  readonly dev32: number;
}

/**
 * Checks sizes and alignment (§2.8.10.1: desc 16, event areas 4) and resolves each area to its region once. Reads
 * and writes nothing. Throws BAD_QUEUE_SIZE, BAD_ALIGNMENT or BAD_RING_ADDRESS (an area not inside one region).
 */
export function resolvePackedRing(memory: PhysicalMemory, size: number, addrs: PackedRingAddresses): PackedRingViews {
  checkPackedQueueSize(size);
  const check = (name: string, addr: number, len: number, align: number): MemoryRegion => {
    if (!Number.isSafeInteger(addr) || addr < 0) {
      throw new VirtioError(VirtioErrorCode.BAD_RING_ADDRESS, `packed ${name} address ${addr} is not an address`, { name, addr });
    }
    if (addr % align !== 0) {
      throw new VirtioError(VirtioErrorCode.BAD_ALIGNMENT, `packed ${name} area at ${hex(addr)} must be ${align}-aligned`, { name, addr, align });
    }
    const r = memory.findRegion(addr, len);
    if (r === undefined) {
      throw new VirtioError(VirtioErrorCode.BAD_RING_ADDRESS, `packed ${name} area ${hex(addr)}+${len} is not inside one memory region`, { name, addr, len });
    }
    return r;
  };
  const descRegion = check('descriptor ring', addrs.desc, PACKED_DESC_SIZE * size, 16);
  const drv = check('driver event', addrs.driverEvent, PACKED_EVENT_SIZE, 4);
  const dev = check('device event', addrs.deviceEvent, PACKED_EVENT_SIZE, 4);
  const rel = addrs.desc - descRegion.base;
  return {
    descRegion,
    d32: rel >>> 2,
    d16: rel >>> 1,
    drvU32: drv.u32,
    drv32: (addrs.driverEvent - drv.base) >>> 2,
    devU32: dev.u32,
    dev32: (addrs.deviceEvent - dev.base) >>> 2,
  };
}
