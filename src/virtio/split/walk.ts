/**
 * Walking one split descriptor chain (VIRTIO 1.2 §2.7.5 descriptor table, §2.7.5.3 indirect descriptors) into a
 * DescriptorChain, checking every rule a driver can break, each with its own error code:
 *
 *   DESC_INDEX_OUT_OF_RANGE  head or next >= N; inside an indirect table, next >= the table's length
 *   DESC_LOOP                a descriptor index repeats within one walk (table or indirect table)
 *   CHAIN_TOO_LONG           more than maxSegments segments in total (an indirect table with more entries too)
 *   INDIRECT_NOT_NEGOTIATED  INDIRECT flag without VIRTIO_F_INDIRECT_DESC
 *   INDIRECT_WITH_NEXT       INDIRECT and NEXT on the same descriptor (§2.7.5.3.1)
 *   NESTED_INDIRECT          INDIRECT inside an indirect table (§2.7.5.3.1)
 *   INDIRECT_BAD_LENGTH      table len 0 or not a multiple of 16
 *   BUFFER_OUT_OF_RANGE      a buffer or the indirect table not wholly inside the device's memory
 *   READABLE_AFTER_WRITABLE  a device-readable descriptor after a device-writable one (§2.7.4.2)
 *
 * The driver may be writing the table while we read it (it is hostile or buggy, never trusted): each descriptor's
 * fields are read exactly once into locals and only the locals are validated and used (no time-of-check to
 * time-of-use gap). The walk is bounded: loops are caught with a per-walk generation stamp per index (no
 * allocation), so at most N table descriptors and at most maxSegments indirect entries are read.
 */
import type { DescriptorChain } from '../chain.js';
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hex, span, toAddress, type PhysicalMemory } from '../memory.js';
import { DESC_SIZE, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE } from './layout.js';
import { resolveDescTable } from './rings.js';

/** Reusable per-queue scratch state of the walker: visited stamps for table and indirect-table indices. */
export class WalkScratch {
  readonly stamp: Uint32Array;
  readonly istamp: Uint32Array;
  gen = 0;
  constructor(size: number) {
    this.stamp = new Uint32Array(size);
    this.istamp = new Uint32Array(size);
  }
  /** A fresh generation; visited[i] === gen means "seen in this walk". */
  next(): number {
    if (++this.gen === 0x1_0000_0000) {
      this.stamp.fill(0);
      this.istamp.fill(0);
      this.gen = 1;
    }
    return this.gen;
  }
}

function fail(code: VirtioErrorCode, head: number, msg: string, details: Record<string, unknown> = {}): never {
  throw new VirtioError(code, `chain of head ${head}: ${msg}`, { head, ...details });
}

/**
 * Walks the chain starting at `head` of the table viewed by descU16/descU32 (element offsets d16/d32) into `out`.
 * `maxSegments` <= size and <= out.capacity (callers check).
 */
export function walkChainViews(
  memory: PhysicalMemory,
  descU16: Uint16Array,
  descU32: Uint32Array,
  d16: number,
  d32: number,
  size: number,
  head: number,
  out: DescriptorChain,
  indirectAllowed: boolean,
  maxSegments: number,
  scratch: WalkScratch,
): void {
  out.clear(head);
  if (head >= size) fail(VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE, head, `head ${head} >= queue size ${size}`, { index: head });
  const gen = scratch.next();
  const stamp = scratch.stamp;
  let i = head;
  for (;;) {
    if (stamp[i] === gen) fail(VirtioErrorCode.DESC_LOOP, head, `descriptor ${i} appears twice`, { index: i });
    stamp[i] = gen;
    // Read every field once (the driver may be rewriting the descriptor concurrently).
    const w = d32 + 4 * i;
    const lo = descU32[w]!;
    const hi = descU32[w + 1]!;
    const len = descU32[w + 2]!;
    const flags = descU16[d16 + 8 * i + 6]!;
    const next = descU16[d16 + 8 * i + 7]!;
    out.ringDescs++;
    if ((flags & VRING_DESC_F_INDIRECT) !== 0) {
      if (!indirectAllowed) fail(VirtioErrorCode.INDIRECT_NOT_NEGOTIATED, head, `descriptor ${i} is indirect but INDIRECT_DESC was not negotiated`, { index: i });
      if ((flags & VRING_DESC_F_NEXT) !== 0) fail(VirtioErrorCode.INDIRECT_WITH_NEXT, head, `descriptor ${i} has both INDIRECT and NEXT`, { index: i });
      walkIndirect(memory, toAddress(lo, hi), len, head, out, maxSegments, scratch, gen);
      return;
    }
    if (out.count >= maxSegments) fail(VirtioErrorCode.CHAIN_TOO_LONG, head, `more than ${maxSegments} segments`, { maxSegments });
    out.push(memory, toAddress(lo, hi), len, (flags & VRING_DESC_F_WRITE) !== 0);
    if ((flags & VRING_DESC_F_NEXT) === 0) return;
    if (next >= size) fail(VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE, head, `descriptor ${i}: next ${next} >= queue size ${size}`, { index: i, next });
    i = next;
  }
}

function walkIndirect(
  memory: PhysicalMemory,
  addr: number,
  len: number,
  head: number,
  out: DescriptorChain,
  maxSegments: number,
  scratch: WalkScratch,
  gen: number,
): void {
  // §2.7.5.3.1: the device ignores WRITE on the descriptor that points to the table.
  if (len === 0 || len % DESC_SIZE !== 0) fail(VirtioErrorCode.INDIRECT_BAD_LENGTH, head, `indirect table length ${len} is not a non-zero multiple of 16`, { len });
  const n = len / DESC_SIZE;
  if (n > maxSegments) fail(VirtioErrorCode.CHAIN_TOO_LONG, head, `indirect table of ${n} entries exceeds ${maxSegments}`, { len, maxSegments });
  const r = addr < 0 ? undefined : memory.findRegion(addr, len);
  if (r === undefined) fail(VirtioErrorCode.BUFFER_OUT_OF_RANGE, head, `indirect table ${span(addr, len)} is outside the device's memory`, { addr, len });
  out.indirect = true;
  const view = r.view;
  const base = addr - r.base;
  const istamp = scratch.istamp;
  let j = 0;
  for (;;) {
    if (istamp[j] === gen) fail(VirtioErrorCode.DESC_LOOP, head, `indirect entry ${j} appears twice`, { indirectIndex: j });
    istamp[j] = gen;
    const o = base + DESC_SIZE * j;
    const lo = view.getUint32(o, true);
    const hi = view.getUint32(o + 4, true);
    const blen = view.getUint32(o + 8, true);
    const flags = view.getUint16(o + 12, true);
    const next = view.getUint16(o + 14, true);
    if ((flags & VRING_DESC_F_INDIRECT) !== 0) fail(VirtioErrorCode.NESTED_INDIRECT, head, `indirect entry ${j} is itself indirect`, { indirectIndex: j });
    if (out.count >= maxSegments) fail(VirtioErrorCode.CHAIN_TOO_LONG, head, `more than ${maxSegments} segments`, { maxSegments });
    out.push(memory, toAddress(lo, hi), blen, (flags & VRING_DESC_F_WRITE) !== 0);
    if ((flags & VRING_DESC_F_NEXT) === 0) return;
    if (next >= n) fail(VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE, head, `indirect entry ${j}: next ${next} >= table length ${n}`, { indirectIndex: j, next });
    j = next;
  }
}

/** Walk options for `walkSplitChain`. */
export interface WalkOptions {
  /** Whether INDIRECT_DESC was negotiated. */
  readonly indirect: boolean;
  /** Most segments in the chain; default and maximum: min(size, out.capacity). */
  readonly maxSegments?: number;
}

/**
 * Standalone, non-mutating walk for tools (`inspect`): decodes the chain at `head` of the descriptor table at
 * `descAddr` (queue size `size`) into `out`, throwing the VirtioError of the first broken rule. Touches no queue
 * state; allocates its scratch per call (not for hot paths; the device keeps its own).
 */
export function walkSplitChain(memory: PhysicalMemory, descAddr: number, size: number, head: number, out: DescriptorChain, opts: WalkOptions): void {
  const v = resolveDescTable(memory, size, descAddr);
  const max = Math.min(opts.maxSegments ?? size, size, out.capacity);
  if (!Number.isInteger(max) || max < 1) {
    throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `maxSegments ${max} must be a positive integer`, { maxSegments: opts.maxSegments });
  }
  walkChainViews(memory, v.descU16, v.descU32, v.d16, v.d32, size, head, out, opts.indirect, max, new WalkScratch(size));
}
