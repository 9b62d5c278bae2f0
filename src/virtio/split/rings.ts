/**
 * Resolves the three areas of a split ring to typed-array views once (at queue construction), so the hot paths
 * index `u16`/`u32` directly with precomputed element offsets instead of going through PhysicalMemory per access.
 *
 * Element offsets (views are over each area's region; a region's base is 8-aligned so physical alignment carries
 * over to the views):
 *   desc i:  addr lo = descU32[d32 + 4i], addr hi = descU32[d32 + 4i + 1], len = descU32[d32 + 4i + 2],
 *            flags = descU16[d16 + 8i + 6], next = descU16[d16 + 8i + 7]
 *   avail:   flags = availU16[a16], idx = availU16[a16 + 1], ring[j] = availU16[a16 + 2 + j], used_event = availU16[a16 + 2 + N]
 *   used:    flags = usedU16[u16], idx = usedU16[u16 + 1], ring[j].id = usedU32[u32 + 1 + 2j], .len = usedU32[u32 + 2 + 2j],
 *            avail_event = usedU16[u16 + 2 + 4N]
 */
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hex, type PhysicalMemory } from '../memory.js';
import { checkQueueSize, splitRingSizes, type SplitRingAddresses } from './layout.js';

export interface SplitRingViews {
  readonly descU16: Uint16Array;
  readonly descU32: Uint32Array;
  readonly d16: number;
  readonly d32: number;
  readonly availU16: Uint16Array;
  readonly a16: number;
  readonly usedU16: Uint16Array;
  readonly usedU32: Uint32Array;
  readonly u16: number;
  readonly u32: number;
}

function area(memory: PhysicalMemory, what: string, addr: number, len: number, align: number) {
  if (!Number.isSafeInteger(addr) || addr < 0) {
    throw new VirtioError(VirtioErrorCode.BAD_RING_ADDRESS, `${what} address ${addr} is not a valid address`, { what, addr });
  }
  if (addr % align !== 0) {
    throw new VirtioError(VirtioErrorCode.BAD_ALIGNMENT, `${what} at ${hex(addr)} must be ${align}-aligned (§2.7)`, { what, addr, align });
  }
  const r = memory.findRegion(addr, len);
  if (r === undefined) {
    throw new VirtioError(VirtioErrorCode.BAD_RING_ADDRESS, `${what} [${hex(addr)}, +${len}) is not inside one memory region`, { what, addr, len });
  }
  return r;
}

/** Resolves only the descriptor table (for tools that walk chains without a queue). */
export function resolveDescTable(memory: PhysicalMemory, size: number, desc: number): { descU16: Uint16Array; descU32: Uint32Array; d16: number; d32: number } {
  checkQueueSize(size);
  const d = area(memory, 'descriptor table', desc, 16 * size, 16);
  return { descU16: d.u16, descU32: d.u32, d16: (desc - d.base) / 2, d32: (desc - d.base) / 4 };
}

/** Checks size and addresses (alignment §2.7, wholly inside one region each) and builds the views. */
export function resolveSplitRing(memory: PhysicalMemory, size: number, addrs: SplitRingAddresses): SplitRingViews {
  checkQueueSize(size);
  const { descBytes, availBytes, usedBytes } = splitRingSizes(size);
  const d = area(memory, 'descriptor table', addrs.desc, descBytes, 16);
  const a = area(memory, 'available ring', addrs.avail, availBytes, 2);
  const u = area(memory, 'used ring', addrs.used, usedBytes, 4);
  return {
    descU16: d.u16,
    descU32: d.u32,
    d16: (addrs.desc - d.base) / 2,
    d32: (addrs.desc - d.base) / 4,
    availU16: a.u16,
    a16: (addrs.avail - a.base) / 2,
    usedU16: u.u16,
    usedU32: u.u32,
    u16: (addrs.used - u.base) / 2,
    u32: (addrs.used - u.base) / 4,
  };
}
