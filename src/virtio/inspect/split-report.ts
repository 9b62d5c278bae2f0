/**
 * `inspect` for split virtqueues (VIRTIO 1.2 §2.7): decodes the descriptor table, the available and used rings of an
 * image and walks every outstanding chain (the available entries the device has not returned yet, from used.idx up
 * to avail.idx, indices free-running u16 per §2.7.6 / §2.7.8).
 *
 * Contract (JSON; 64-bit values are 0x-hex strings, the rest numbers):
 *   { layout: "split", queueSize, base, areas: {desc, avail, used},
 *     desc: [{addr, len, flags, next}] x N,
 *     avail: {flags, idx, ring: [u16] x N, usedEvent},
 *     used: {flags, idx, ring: [{id, len}] x N, availEvent},
 *     outstanding: [{head, segments: [{addr, len, write}]} | {head, error: CODE, message}],
 *     errors: [{code, message}] }
 *
 * Bad ring contents never throw: a broken chain becomes {head, error}, a bad index relation an entry of errors[].
 * Ring areas outside the image throw VirtioError(IMAGE_TRUNCATED); bad arguments throw BAD_QUEUE_SIZE/BAD_ALIGNMENT.
 */
import { DescriptorChain } from '../chain.js';
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hex } from '../memory.js';
import { checkQueueSize, splitLegacyLayout, splitRingSizes } from '../split/layout.js';
import { walkSplitChain } from '../split/walk.js';
import { hex64, imageMemory, type ImagePiece, type ImageRam, requireAligned, requireInImage, type ReportError, type ReportSegment } from './image.js';

export interface SplitReportOptions {
  readonly queueSize: number;
  /** Physical address of the image's first byte. Default 0. */
  readonly base?: number;
  /** Extra excerpts of memory mapped besides the image (e.g. ring areas cut from a guest RAM dump). */
  readonly pieces?: readonly ImagePiece[];
  /** The guest RAM range chain buffers may lie in when only excerpts (pieces) of it are mapped. */
  readonly ram?: ImageRam;
  readonly desc: number;
  /** Separate areas (VIRTIO 1.x)... */
  readonly avail?: number;
  readonly used?: number;
  /** ...or the legacy contiguous layout of vring_init with this alignment (avail/used computed). */
  readonly align?: number;
}

export interface SplitDescEntry {
  readonly addr: string;
  readonly len: number;
  readonly flags: number;
  readonly next: number;
}

export type OutstandingChain =
  | { readonly head: number; readonly segments: ReportSegment[]; readonly indirect: boolean }
  | { readonly head: number; readonly error: string; readonly message: string };

export interface SplitReport {
  readonly layout: 'split';
  readonly queueSize: number;
  readonly base: string;
  /** Present when the report was made with a declared RAM range. */
  readonly ram?: { readonly base: string; readonly size: number };
  readonly areas: { readonly desc: string; readonly avail: string; readonly used: string; readonly legacyAlign?: number };
  readonly desc: SplitDescEntry[];
  readonly avail: { readonly flags: number; readonly idx: number; readonly ring: number[]; readonly usedEvent: number };
  readonly used: { readonly flags: number; readonly idx: number; readonly ring: { id: number; len: number }[]; readonly availEvent: number };
  readonly outstanding: OutstandingChain[];
  readonly errors: ReportError[];
}

/** Resolves the three areas from the options (separate, or legacy contiguous with `align`). */
function areas(opts: SplitReportOptions): { desc: number; avail: number; used: number } {
  const hasSeparate = opts.avail !== undefined || opts.used !== undefined;
  if (opts.align !== undefined) {
    if (hasSeparate) throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, 'give either avail and used addresses or a legacy alignment, not both');
    const l = splitLegacyLayout(opts.desc, opts.queueSize, opts.align);
    return { desc: l.desc, avail: l.avail, used: l.used };
  }
  if (opts.avail === undefined || opts.used === undefined) {
    throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, 'a split ring needs the avail and used addresses (or a legacy alignment)');
  }
  return { desc: opts.desc, avail: opts.avail, used: opts.used };
}

export function splitReport(image: Uint8Array, opts: SplitReportOptions): SplitReport {
  const n = opts.queueSize;
  checkQueueSize(n);
  const a = areas(opts);
  const img = imageMemory(image, opts.base ?? 0, opts.pieces, opts.ram);
  const mem = img.memory;
  const sizes = splitRingSizes(n);
  // §2.7 alignment table: descriptor table 16, available ring 2, used ring 4.
  requireAligned('descriptor table', a.desc, 16);
  requireAligned('available ring', a.avail, 2);
  requireAligned('used ring', a.used, 4);
  requireInImage(img, 'descriptor table', a.desc, sizes.descBytes);
  requireInImage(img, 'available ring', a.avail, sizes.availBytes);
  requireInImage(img, 'used ring', a.used, sizes.usedBytes);

  const desc: SplitDescEntry[] = [];
  for (let i = 0; i < n; i++) {
    const d = a.desc + 16 * i;
    desc.push({ addr: hex64(mem, d), len: mem.read32(d + 8), flags: mem.read16(d + 12), next: mem.read16(d + 14) });
  }
  const availRing: number[] = [];
  for (let i = 0; i < n; i++) availRing.push(mem.read16(a.avail + 4 + 2 * i));
  const avail = { flags: mem.read16(a.avail), idx: mem.read16(a.avail + 2), ring: availRing, usedEvent: mem.read16(a.avail + 4 + 2 * n) };
  const usedRing: { id: number; len: number }[] = [];
  for (let i = 0; i < n; i++) usedRing.push({ id: mem.read32(a.used + 4 + 8 * i), len: mem.read32(a.used + 8 + 8 * i) });
  const used = { flags: mem.read16(a.used), idx: mem.read16(a.used + 2), ring: usedRing, availEvent: mem.read16(a.used + 4 + 8 * n) };

  const errors: ReportError[] = [];
  // Free-running u16 indices: the number of entries the device has not used yet is (avail.idx - used.idx) mod 2^16,
  // and it can never exceed N (§2.7.6: the driver never has more than N heads outstanding).
  let pending = (avail.idx - used.idx) & 0xffff;
  if (pending > n) {
    errors.push({
      code: VirtioErrorCode.AVAIL_IDX_TOO_FAR,
      message: `avail.idx ${avail.idx} is ${pending} entries ahead of used.idx ${used.idx}, more than the queue size ${n}; listing the first ${n}`,
    });
    pending = n;
  }
  if ((avail.flags & ~1) !== 0) errors.push({ code: VirtioErrorCode.BAD_ARGUMENT, message: `avail.flags 0x${avail.flags.toString(16)} has reserved bits set` });
  if ((used.flags & ~1) !== 0) errors.push({ code: VirtioErrorCode.BAD_ARGUMENT, message: `used.flags 0x${used.flags.toString(16)} has reserved bits set` });

  const outstanding: OutstandingChain[] = [];
  const chain = new DescriptorChain(n);
  for (let k = 0; k < pending; k++) {
    const head = availRing[(used.idx + k) & (n - 1)]!;
    try {
      // An image carries no negotiated features: allow indirect tables, bound the chain by the queue size.
      walkSplitChain(mem, a.desc, n, head, chain, { indirect: true, maxSegments: n });
      outstanding.push({ head, segments: chain.toJSON().segments, indirect: chain.indirect });
    } catch (e) {
      if (!(e instanceof VirtioError)) throw e;
      outstanding.push({ head, error: e.code, message: e.message });
    }
  }

  return {
    layout: 'split',
    queueSize: n,
    base: hex(img.base),
    ...(opts.ram !== undefined ? { ram: { base: hex(opts.ram.base), size: opts.ram.size } } : {}),
    areas: { desc: hex(a.desc), avail: hex(a.avail), used: hex(a.used), ...(opts.align !== undefined ? { legacyAlign: opts.align } : {}) },
    desc,
    avail,
    used,
    outstanding,
    errors,
  };
}
