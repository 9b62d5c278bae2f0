/**
 * Packed ring event suppression (VIRTIO 1.2 §2.8.10 "Driver and Device Event Suppression", §2.8.14 format).
 *
 * Each side writes one 4-byte structure that the other side reads after publishing descriptors:
 *
 *   u32 word (little-endian) = desc_event_flags << 16 | desc_event_wrap << 15 | desc_event_off
 *
 * so a whole structure is written and read with one Atomics.store / Atomics.load of its aligned u32 (the offset
 * and the flags can never be seen torn). The publisher then decides:
 *
 *   flags DISABLE             never notify
 *   flags DESC + EVENT_IDX    notify iff the descriptor (off, wrap) lies among the ones just published
 *   anything else             notify (ENABLE; DESC without EVENT_IDX and the reserved value 3 are treated as
 *                             ENABLE: a spurious notification is harmless, a lost one is not)
 *
 * "Among the ones just published" works like Linux's packed need-event: positions live in [0, N); an event whose
 * wrap bit differs from the publisher's current wrap counter belongs to the previous lap, so N is subtracted from
 * its offset, and the split-ring test vring_need_event(event, new, new - moved) is applied in u16 arithmetic
 * (exact because N <= 2^15 and moved <= N).
 */
import { vringNeedEvent } from '../event.js';
import { PACKED_EVENT_FLAG_DESC, PACKED_EVENT_FLAG_DISABLE } from './layout.js';

/** The u32 value of an event suppression structure. */
export function packedEventWord(flags: number, off: number, wrap: boolean): number {
  return (((flags & 0xffff) << 16) | (off & 0x7fff) | (wrap ? 0x8000 : 0)) >>> 0;
}

/** Splits an event suppression word into its fields (for tools and tests). */
export function decodePackedEvent(word: number): { flags: number; off: number; wrap: boolean } {
  return { flags: word >>> 16, off: word & 0x7fff, wrap: (word & 0x8000) !== 0 };
}

/**
 * Whether a publisher that just moved its ring position by `moved` descriptors, to (newPos, newWrap), must notify
 * the side whose event suppression word is `word`. `eventIdx`: VIRTIO_F_EVENT_IDX was negotiated.
 */
export function packedNeedNotify(word: number, eventIdx: boolean, size: number, newPos: number, newWrap: boolean, moved: number): boolean {
  if (moved === 0) return false;
  const flags = word >>> 16;
  if (flags === PACKED_EVENT_FLAG_DISABLE) return false;
  if (flags !== PACKED_EVENT_FLAG_DESC || !eventIdx) return true;
  let event = word & 0x7fff;
  if ((word & 0x8000) !== 0 !== newWrap) event -= size;
  return vringNeedEvent(event & 0xffff, newPos, (newPos - moved) & 0xffff);
}
