/**
 * Split virtqueue memory layout (VIRTIO 1.2 §2.7, Linux uapi <linux/virtio_ring.h>).
 *
 *   Descriptor Table (16-aligned, 16*N)     Available Ring (2-aligned, 6+2N)      Used Ring (4-aligned, 6+8N)
 *   +------+-----+-------+------+          +-------+-----+---------+----------+  +-------+-----+---------------+-----------+
 *   | addr | len | flags | next | x N      | flags | idx | ring[N] |used_event|  | flags | idx | {id,len}[N]   |avail_event|
 *   | u64  | u32 | u16   | u16  |          | u16   | u16 | u16     | u16      |  | u16   | u16 | u32,u32       | u16       |
 *   +------+-----+-------+------+          +-------+-----+---------+----------+  +-------+-----+---------------+-----------+
 *     0      8     12      14                0       2     4         4+2N           0       2     4               4+8N
 *
 * VIRTIO 1.x places the three areas anywhere (separate addresses). The legacy interface (and remoteproc/RPMsg
 * vrings) use one contiguous block laid out by `vring_init`: avail right after the descriptors, used at the next
 * multiple of `align`.
 */
import { VirtioError, VirtioErrorCode } from '../errors.js';

/** Guest-physical addresses of the three areas of one split ring. */
export interface SplitRingAddresses {
  /** Descriptor table, 16-aligned. */
  desc: number;
  /** Available (driver) ring, 2-aligned. */
  avail: number;
  /** Used (device) ring, 4-aligned. */
  used: number;
}

export const DESC_SIZE = 16;
/** Descriptor flags (§2.7.5). */
export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;
/** avail.flags bit (§2.7.7): the driver asks for no interrupts (only without EVENT_IDX). */
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags bit (§2.7.10): the device asks for no notifications (only without EVENT_IDX). */
export const VRING_USED_F_NO_NOTIFY = 1;
/** Largest split queue size (§2.7: Queue Size is a power of 2 up to 32768). */
export const MAX_SPLIT_QUEUE_SIZE = 32768;

/** Throws BAD_QUEUE_SIZE unless size is a power of two in 1..32768 (§2.7). */
export function checkQueueSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_SPLIT_QUEUE_SIZE || (size & (size - 1)) !== 0) {
    throw new VirtioError(VirtioErrorCode.BAD_QUEUE_SIZE, `split queue size ${size} must be a power of two in 1..${MAX_SPLIT_QUEUE_SIZE}`, { size });
  }
}

/** Bytes of each area for queue size N (§2.7 table): desc 16N, avail 6+2N, used 6+8N (event fields included). */
export function splitRingSizes(size: number): { descBytes: number; availBytes: number; usedBytes: number } {
  checkQueueSize(size);
  return { descBytes: DESC_SIZE * size, availBytes: 6 + 2 * size, usedBytes: 6 + 8 * size };
}

function alignUp(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}

/**
 * The contiguous legacy layout of Linux `vring_init(vr, num, p, align)` at physical address `base`, and its
 * `vring_size` as `totalBytes` (counted from `base`). `align` must be a power of two (BAD_ALIGNMENT).
 */
export function splitLegacyLayout(base: number, size: number, align: number): { desc: number; avail: number; used: number; totalBytes: number } {
  checkQueueSize(size);
  if (!Number.isInteger(align) || align < 1 || align > 0x4000_0000 || (align & (align - 1)) !== 0) {
    throw new VirtioError(VirtioErrorCode.BAD_ALIGNMENT, `vring alignment ${align} must be a power of two`, { align });
  }
  if (!Number.isSafeInteger(base) || base < 0) {
    throw new VirtioError(VirtioErrorCode.BAD_RING_ADDRESS, `bad vring base ${base}`, { base });
  }
  const desc = base;
  const avail = desc + DESC_SIZE * size;
  // vring_init: used = ALIGN(&avail->ring[num] + sizeof(used_event), align) = ALIGN(avail + 4 + 2N + 2, align).
  const used = alignUp(avail + 6 + 2 * size, align);
  return { desc, avail, used, totalBytes: used + 6 + 8 * size - base };
}

/** Byte offset of used_event inside the avail area / avail_event inside the used area (§2.7.7, §2.7.10). */
export function usedEventOffset(size: number): number {
  return 4 + 2 * size;
}
export function availEventOffset(size: number): number {
  return 4 + 8 * size;
}
