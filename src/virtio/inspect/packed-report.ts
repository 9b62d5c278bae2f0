/**
 * `inspect` for packed virtqueues (VIRTIO 1.2 §2.8): decodes the descriptor ring and both event suppression areas of
 * an image, and, from the AVAIL/USED flags alone, which descriptors are available or used and which chains are
 * available.
 *
 * A packed ring image has no indices: the positions of driver and device are implied by the flags. A descriptor is
 * available in lap w when AVAIL = w and USED = !w, used in lap w when AVAIL = USED = w (§2.8.1). The driver makes
 * descriptors available in ring order, so available descriptors form runs: a run starts where the previous slot is
 * not available in the same lap (the slot before 0 is N-1 of the previous lap, whose wrap counter is the opposite).
 * Each run is walked chain by chain with the packed walker, bounded by N descriptors in total.
 *
 * Leftover tails: when the device returns a buffer it writes one used descriptor, at the slot of the chain's first
 * descriptor, and leaves the chain's other slots as the driver wrote them (§2.8.7, §2.8.21), so they still read as
 * available. A run directly followed (in ring order, same lap) by a used descriptor of that lap cannot be outstanding:
 * the device writes used descriptors only at slots it has already consumed. Such runs are listed in `consumed` and not
 * decoded as chains. A run after the last used descriptor stays ambiguous from the flags alone (a new chain, or the
 * tail of the chain returned just before it) and is decoded; Linux's virtio_blk leaves such tails (docs/linux-rings.md).
 *
 * Contract (JSON; 64-bit values are 0x-hex strings, the rest numbers):
 *   { layout: "packed", queueSize, base, areas: {desc, driverEvent, deviceEvent},
 *     desc: [{addr, len, id, flags}] x N,
 *     driverEvent: {offWrap, flags, off, wrap, mode}, deviceEvent: {...},
 *     decoded: { states: [{index, avail, used, state: "available"|"used", wrap}] x N,
 *                chains: [{index, wrap, id, segments, indirect, ringDescs} | {index, wrap, error: CODE, message}],
 *                consumed: [{index, wrap, count, usedAt}] },
 *     errors: [{code, message}] }
 */
import { DescriptorChain } from '../chain.js';
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hex } from '../memory.js';
import {
  checkPackedQueueSize,
  PACKED_DESC_F_AVAIL,
  PACKED_DESC_F_USED,
  PACKED_DESC_SIZE,
  PACKED_EVENT_FLAG_DESC,
  PACKED_EVENT_FLAG_DISABLE,
  PACKED_EVENT_FLAG_ENABLE,
  PACKED_EVENT_SIZE,
} from '../packed/layout.js';
import { walkPackedChain } from '../packed/walk.js';
import { hex64, imageMemory, type ImagePiece, type ImageRam, requireAligned, requireInImage, type ReportError, type ReportSegment } from './image.js';

export interface PackedReportOptions {
  readonly queueSize: number;
  /** Physical address of the image's first byte. Default 0. */
  readonly base?: number;
  /** Extra excerpts of memory mapped besides the image (e.g. ring areas cut from a guest RAM dump). */
  readonly pieces?: readonly ImagePiece[];
  /** The guest RAM range chain buffers may lie in when only excerpts (pieces) of it are mapped. */
  readonly ram?: ImageRam;
  readonly desc: number;
  readonly driverEvent: number;
  readonly deviceEvent: number;
}

export interface PackedDescEntry {
  readonly addr: string;
  readonly len: number;
  readonly id: number;
  readonly flags: number;
}

export interface PackedEventReport {
  readonly offWrap: number;
  readonly flags: number;
  readonly off: number;
  readonly wrap: number;
  readonly mode: 'ENABLE' | 'DISABLE' | 'DESC' | 'RESERVED';
}

export interface PackedDescState {
  readonly index: number;
  readonly avail: number;
  readonly used: number;
  readonly state: 'available' | 'used';
  readonly wrap: number;
}

export type PackedChainReport =
  | { readonly index: number; readonly wrap: number; readonly id: number; readonly segments: ReportSegment[]; readonly indirect: boolean; readonly ringDescs: number }
  | { readonly index: number; readonly wrap: number; readonly error: string; readonly message: string };

/** An available-looking run the device has consumed: `count` slots from `index`, followed by a used slot `usedAt`. */
export interface PackedConsumedRun {
  readonly index: number;
  readonly wrap: number;
  readonly count: number;
  readonly usedAt: number;
}

export interface PackedReport {
  readonly layout: 'packed';
  readonly queueSize: number;
  readonly base: string;
  /** Present when the report was made with a declared RAM range. */
  readonly ram?: { readonly base: string; readonly size: number };
  readonly areas: { readonly desc: string; readonly driverEvent: string; readonly deviceEvent: string };
  readonly desc: PackedDescEntry[];
  readonly driverEvent: PackedEventReport;
  readonly deviceEvent: PackedEventReport;
  readonly decoded: { readonly states: PackedDescState[]; readonly chains: PackedChainReport[]; readonly consumed: PackedConsumedRun[] };
  readonly errors: ReportError[];
}

const MODES = { [PACKED_EVENT_FLAG_ENABLE]: 'ENABLE', [PACKED_EVENT_FLAG_DISABLE]: 'DISABLE', [PACKED_EVENT_FLAG_DESC]: 'DESC' } as Record<number, PackedEventReport['mode']>;

function eventReport(offWrap: number, flags: number): PackedEventReport {
  return { offWrap, flags, off: offWrap & 0x7fff, wrap: offWrap >>> 15, mode: MODES[flags] ?? 'RESERVED' };
}

/** The lap in which slot `flags` is marked used (AVAIL = USED = lap), or -1 when it is available. */
function usedLap(flags: number): number {
  const a = (flags & PACKED_DESC_F_AVAIL) !== 0 ? 1 : 0;
  const u = (flags & PACKED_DESC_F_USED) !== 0 ? 1 : 0;
  return a === u ? a : -1;
}

/** The lap in which slot `flags` is available (0 or 1), or -1 when it is marked used. */
function availableLap(flags: number): number {
  const a = (flags & PACKED_DESC_F_AVAIL) !== 0 ? 1 : 0;
  const u = (flags & PACKED_DESC_F_USED) !== 0 ? 1 : 0;
  return a !== u ? a : -1;
}

export function packedReport(image: Uint8Array, opts: PackedReportOptions): PackedReport {
  const n = opts.queueSize;
  checkPackedQueueSize(n);
  const img = imageMemory(image, opts.base ?? 0, opts.pieces, opts.ram);
  const mem = img.memory;
  // §2.8.10.1 alignment: descriptor ring 16, event suppression areas 4.
  requireAligned('descriptor ring', opts.desc, 16);
  requireAligned('driver event area', opts.driverEvent, 4);
  requireAligned('device event area', opts.deviceEvent, 4);
  requireInImage(img, 'descriptor ring', opts.desc, PACKED_DESC_SIZE * n);
  requireInImage(img, 'driver event area', opts.driverEvent, PACKED_EVENT_SIZE);
  requireInImage(img, 'device event area', opts.deviceEvent, PACKED_EVENT_SIZE);

  const desc: PackedDescEntry[] = [];
  const states: PackedDescState[] = [];
  const laps: number[] = [];
  const usedLaps: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = opts.desc + PACKED_DESC_SIZE * i;
    const flags = mem.read16(d + 14);
    desc.push({ addr: hex64(mem, d), len: mem.read32(d + 8), id: mem.read16(d + 12), flags });
    const lap = availableLap(flags);
    laps.push(lap);
    usedLaps.push(usedLap(flags));
    const avail = (flags & PACKED_DESC_F_AVAIL) !== 0 ? 1 : 0;
    states.push({ index: i, avail, used: (flags & PACKED_DESC_F_USED) !== 0 ? 1 : 0, state: lap >= 0 ? 'available' : 'used', wrap: avail });
  }
  const driverEvent = eventReport(mem.read16(opts.driverEvent), mem.read16(opts.driverEvent + 2));
  const deviceEvent = eventReport(mem.read16(opts.deviceEvent), mem.read16(opts.deviceEvent + 2));
  const errors: ReportError[] = [];
  for (const [name, ev] of [['driver', driverEvent], ['device', deviceEvent]] as const) {
    if (ev.mode === 'RESERVED') errors.push({ code: VirtioErrorCode.BAD_ARGUMENT, message: `${name} event area: desc_event_flags ${ev.flags} is reserved` });
    if (ev.off >= n && ev.mode === 'DESC') errors.push({ code: VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE, message: `${name} event area: event offset ${ev.off} >= queue size ${n}` });
  }

  // Run starts: available slot i whose predecessor is not available in the same lap.
  const runStarts: number[] = [];
  for (let i = 0; i < n; i++) {
    const lap = laps[i]!;
    if (lap < 0) continue;
    const prev = laps[(i + n - 1) % n]!;
    const prevSameRun = i === 0 ? prev === 1 - lap : prev === lap;
    if (!prevSameRun) runStarts.push(i);
  }
  // Runs followed by a used descriptor of the same lap are consumed leftovers (see the header), not outstanding.
  const starts: number[] = [];
  const consumed: PackedConsumedRun[] = [];
  for (const start of runStarts) {
    let pos = start;
    let wrap = laps[start]!;
    let count = 0;
    while (count < n && laps[pos] === wrap) {
      count++;
      if (++pos === n) {
        pos = 0;
        wrap ^= 1; // the lap changes at the ring's end
      }
    }
    if (count < n && usedLaps[pos] === wrap) consumed.push({ index: start, wrap: laps[start]!, count, usedAt: pos });
    else starts.push(start);
  }
  // (There is always a start when anything is available: a run cannot close on itself, since going once round the
  // ring flips the lap at slot 0.)
  if (starts.length > 1) {
    errors.push({
      code: VirtioErrorCode.PACKED_BAD_FLAGS,
      message: `available descriptors form ${starts.length} separate runs (at ${starts.join(', ')}); a driver makes them available in ring order`,
    });
  }

  const chains: PackedChainReport[] = [];
  const chain = new DescriptorChain(n);
  let budget = n; // descriptors visited over all runs: the decode is bounded by the ring size
  for (const start of starts) {
    let pos = start;
    let wrap = laps[start]!;
    while (budget > 0 && laps[pos] === wrap) {
      try {
        const next = walkPackedChain(mem, opts.desc, n, pos, wrap === 1, chain, { indirect: true, maxSegments: n });
        chains.push({ index: pos, wrap, id: chain.head, segments: chain.toJSON().segments, indirect: chain.indirect, ringDescs: chain.ringDescs });
        budget -= chain.ringDescs;
        pos = next.nextIndex;
        wrap = next.nextWrap ? 1 : 0;
      } catch (e) {
        if (!(e instanceof VirtioError)) throw e;
        chains.push({ index: pos, wrap, error: e.code, message: e.message });
        budget -= 1;
        if (++pos === n) {
          pos = 0;
          wrap ^= 1;
        }
      }
    }
  }

  return {
    layout: 'packed',
    queueSize: n,
    base: hex(img.base),
    ...(opts.ram !== undefined ? { ram: { base: hex(opts.ram.base), size: opts.ram.size } } : {}),
    areas: { desc: hex(opts.desc), driverEvent: hex(opts.driverEvent), deviceEvent: hex(opts.deviceEvent) },
    desc,
    driverEvent,
    deviceEvent,
    decoded: { states, chains, consumed },
    errors,
  };
}
