/**
 * Walking one available packed chain (VIRTIO 1.2 §2.8.6 chaining by NEXT, §2.8.7 indirect tables) into a
 * DescriptorChain, checking every rule a driver can break, each with its own code:
 *
 *   PACKED_BAD_FLAGS          a descriptor of the chain is not marked available for its lap (§2.8.6: AVAIL/USED
 *                             must be right in every descriptor of a list, not only the first)
 *   PACKED_BAD_ID             the buffer id (in the chain's last descriptor, §2.8.6) is >= N
 *   CHAIN_TOO_LONG            more than N ring descriptors, or more than maxSegments segments in total
 *   INDIRECT_NOT_NEGOTIATED   INDIRECT without VIRTIO_F_INDIRECT_DESC
 *   INDIRECT_WITH_NEXT        INDIRECT together with NEXT, or INDIRECT inside a NEXT list (§2.8.7 driver rules)
 *   NESTED_INDIRECT           INDIRECT inside an indirect table
 *   INDIRECT_BAD_LENGTH       table length 0 or not a multiple of 16
 *   BUFFER_OUT_OF_RANGE       a buffer or an indirect table not wholly inside the device's memory
 *   READABLE_AFTER_WRITABLE   a device-readable element after a device-writable one
 *
 * The driver is not trusted and may rewrite the ring while we read it: every field is read once into a local and
 * only locals are checked and used. The head's flags are read by the caller with Atomics.load (the publication
 * point, §2.8.21); everything else with plain reads, which that acquire orders. Bounded: at most N ring
 * descriptors and at most maxSegments table entries are read.
 */
import type { DescriptorChain } from '../chain.js';
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hex, span, toAddress, type PhysicalMemory } from '../memory.js';
import { checkPackedQueueSize, isPackedAvail, PACKED_DESC_F_INDIRECT, PACKED_DESC_F_NEXT, PACKED_DESC_F_WRITE, PACKED_DESC_SIZE } from './layout.js';

function fail(code: VirtioErrorCode, pos: number, msg: string, details: Record<string, unknown> = {}): never {
  throw new VirtioError(code, `packed chain at descriptor ${pos}: ${msg}`, { pos, ...details });
}

/** Reads an indirect table (§2.8.7: only WRITE is meaningful inside; NEXT and id are ignored). */
function walkIndirect(memory: PhysicalMemory, pos: number, table: number, len: number, out: DescriptorChain, maxSegments: number): void {
  if (len === 0 || len % PACKED_DESC_SIZE !== 0) fail(VirtioErrorCode.INDIRECT_BAD_LENGTH, pos, `indirect table length ${len} is not a non-zero multiple of 16`, { len });
  const entries = len / PACKED_DESC_SIZE;
  if (entries > maxSegments) fail(VirtioErrorCode.CHAIN_TOO_LONG, pos, `indirect table of ${entries} entries exceeds ${maxSegments} segments`, { entries });
  const r = table < 0 ? undefined : memory.findRegion(table, len);
  if (r === undefined) fail(VirtioErrorCode.BUFFER_OUT_OF_RANGE, pos, `indirect table ${span(table, len)} is outside the device's memory`, { addr: table, len });
  const v = r.view;
  let o = table - r.base;
  for (let k = 0; k < entries; k++, o += PACKED_DESC_SIZE) {
    const lo = v.getUint32(o, true);
    const hi = v.getUint32(o + 4, true);
    const l = v.getUint32(o + 8, true);
    const f = v.getUint16(o + 14, true);
    if ((f & PACKED_DESC_F_INDIRECT) !== 0) fail(VirtioErrorCode.NESTED_INDIRECT, pos, `indirect table entry ${k} is itself indirect`, { entry: k });
    out.push(memory, toAddress(lo, hi), l, (f & PACKED_DESC_F_WRITE) !== 0);
  }
  out.indirect = true;
}

/**
 * Walks the chain whose head is ring slot `start` (lap `wrap`, head flags `headFlags` already loaded and found
 * available) of the ring viewed by u16/u32 (descriptor 0 at element indices d16/d32). Fills `out` (out.head = the
 * buffer id, out.ringDescs = ring slots used). Returns the slot after the chain: next position | (next wrap << 16).
 */
export function walkPackedViews(
  memory: PhysicalMemory,
  u16: Uint16Array,
  u32: Uint32Array,
  d16: number,
  d32: number,
  size: number,
  start: number,
  wrap: boolean,
  headFlags: number,
  out: DescriptorChain,
  indirectOk: boolean,
  maxSegments: number,
): number {
  out.clear(0);
  let pos = start;
  let w = wrap;
  let flags = headFlags;
  for (let n = 1; ; n++) {
    const i32 = d32 + pos * 4;
    const i16 = d16 + pos * 8;
    const lo = u32[i32]!;
    const hi = u32[i32 + 1]!;
    const len = u32[i32 + 2]!;
    const id = u16[i16 + 6]!;
    if (n > 1) {
      flags = u16[i16 + 7]!;
      if (!isPackedAvail(flags, w)) fail(VirtioErrorCode.PACKED_BAD_FLAGS, pos, `descriptor after NEXT is not available (flags 0x${flags.toString(16)}, wrap ${w ? 1 : 0})`, { flags });
    }
    const here = pos;
    if (++pos === size) {
      pos = 0;
      w = !w;
    }
    if ((flags & PACKED_DESC_F_INDIRECT) !== 0) {
      if (!indirectOk) fail(VirtioErrorCode.INDIRECT_NOT_NEGOTIATED, here, 'INDIRECT flag without VIRTIO_F_INDIRECT_DESC');
      if (n > 1 || (flags & PACKED_DESC_F_NEXT) !== 0) fail(VirtioErrorCode.INDIRECT_WITH_NEXT, here, 'an indirect descriptor must be alone (no NEXT before or on it)');
      walkIndirect(memory, here, toAddress(lo, hi), len, out, maxSegments);
    } else {
      if (out.count >= maxSegments) fail(VirtioErrorCode.CHAIN_TOO_LONG, here, `chain exceeds ${maxSegments} segments`, { maxSegments });
      out.push(memory, toAddress(lo, hi), len, (flags & PACKED_DESC_F_WRITE) !== 0);
    }
    if ((flags & PACKED_DESC_F_NEXT) === 0) {
      if (id >= size) fail(VirtioErrorCode.PACKED_BAD_ID, here, `buffer id ${id} >= queue size ${size}`, { id });
      out.head = id;
      out.ringDescs = n;
      return pos | (w ? 0x1_0000 : 0);
    }
    if (n >= size) fail(VirtioErrorCode.CHAIN_TOO_LONG, here, `chain longer than the queue size ${size}`, { size });
  }
}

/**
 * A standalone, non-mutating walk for tools (inspect, dumps): walks the available chain at ring slot `startIndex`
 * of the ring at `descAddr`, for lap `wrapCounter`. Throws PACKED_BAD_FLAGS when the head is not available, and
 * the codes above for any broken rule. Returns where the next chain starts.
 */
export function walkPackedChain(
  memory: PhysicalMemory,
  descAddr: number,
  size: number,
  startIndex: number,
  wrapCounter: boolean,
  out: DescriptorChain,
  opts: { indirect: boolean; maxSegments?: number },
): { nextIndex: number; nextWrap: boolean } {
  checkPackedQueueSize(size);
  if (!Number.isSafeInteger(descAddr) || descAddr < 0 || descAddr % 16 !== 0) {
    throw new VirtioError(VirtioErrorCode.BAD_ALIGNMENT, `packed descriptor ring ${descAddr} must be a 16-aligned address`, { addr: descAddr });
  }
  if (!Number.isInteger(startIndex) || startIndex < 0 || startIndex >= size) {
    throw new VirtioError(VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE, `start index ${startIndex} is outside a ring of ${size}`, { startIndex, size });
  }
  const r = memory.regionFor(descAddr, PACKED_DESC_SIZE * size);
  const rel = descAddr - r.base;
  const d16 = rel >>> 1;
  const headFlags = Atomics.load(r.u16, d16 + startIndex * 8 + 7);
  if (!isPackedAvail(headFlags, wrapCounter)) {
    fail(VirtioErrorCode.PACKED_BAD_FLAGS, startIndex, `head is not available (flags 0x${headFlags.toString(16)}, wrap ${wrapCounter ? 1 : 0})`, { flags: headFlags });
  }
  const maxSegments = Math.min(opts.maxSegments ?? size, size);
  const next = walkPackedViews(memory, r.u16, r.u32, d16, rel >>> 2, size, startIndex, wrapCounter, headFlags, out, opts.indirect, maxSegments);
  return { nextIndex: next & 0xffff, nextWrap: next > 0xffff };
}
