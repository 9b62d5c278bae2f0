/**
 * The device side of a split virtqueue (VIRTIO 1.2 §2.7): takes chains from the available ring, returns them on
 * the used ring.
 *
 *   avail.idx (driver, Atomics.store)          used.idx (us, Atomics.store in publishUsed)
 *        |                                          |
 *   ... [h][h][h][h] ...                       ... [id,len][id,len] ...
 *        ^ lastAvail (next to pop)                  ^ usedPublished   ^ usedNext (next slot pushUsed writes)
 *
 * Indices are free-running u16 (§2.7.6, §2.7.8); they are masked with N-1 only to index the ring, so a full ring
 * (avail.idx - lastAvail == N) is distinct from an empty one (== 0). More than N pending is a driver error.
 *
 * Memory ordering (§2.7.13 seen from the device): avail.idx is read with Atomics.load before the ring entry and the
 * descriptors it covers (acquire); used entries are written with plain stores and published by Atomics.store of
 * used.idx (release), and the driver's used_event / avail.flags are read with Atomics.load after that store (the
 * full barrier Linux puts between publishing and checking the event index).
 *
 * The device never trusts the driver: every rule is checked (see walk.ts), the first violation sets `broken` and
 * is thrown; the device owner then sets DEVICE_NEEDS_RESET. A broken queue pops nothing until reset().
 *
 * IN_ORDER (§2.7.9 / feature 35): when negotiated, pushUsed must return buffers in the order they were popped
 * (else BAD_ARGUMENT, our caller's mistake), so the used ring carries one entry per buffer in availability order.
 * pushUsedUpTo(id, len) returns a batch with one used entry instead: every held buffer up to and including `id`
 * (in pop order), written as (id, len) at the slot of the batch's first buffer; the other slots are skipped and
 * used.idx advances by the batch size (§2.7.9). len is the last buffer's; the driver learns none for the others.
 *
 * EVENT_IDX (§2.7.10): while notifications are enabled, every pop writes avail_event = lastAvail ("kick me when
 * you add the next one"); disabled writes avail_event = lastAvail - 1, which the driver's window [old, new) cannot
 * reach before it wraps. Without EVENT_IDX used.flags NO_NOTIFY carries the hint.
 *
 * The constructor does not touch memory; the driver zeroes the rings at setup and reset.
 */
import { DescriptorChain } from '../chain.js';
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { vringNeedEvent } from '../event.js';
import { hasFeature, VirtioFeature } from '../features.js';
import type { PhysicalMemory } from '../memory.js';
import type { DeviceQueueOptions, VirtqueueDevice } from '../virtqueue.js';
import { VRING_AVAIL_F_NO_INTERRUPT, VRING_USED_F_NO_NOTIFY, type SplitRingAddresses } from './layout.js';
import { resolveSplitRing } from './rings.js';
import { WalkScratch, walkChainViews } from './walk.js';

export class SplitVirtqueueDevice implements VirtqueueDevice {
  readonly size: number;
  readonly addrs: Readonly<SplitRingAddresses>;
  readonly eventIdx: boolean;
  readonly indirect: boolean;
  readonly inOrder: boolean;
  /** Most segments one chain may have (default and maximum: size). */
  readonly maxChainSegments: number;
  private readonly memory: PhysicalMemory;
  private readonly mask: number;
  private readonly descU16: Uint16Array;
  private readonly descU32: Uint32Array;
  private readonly d16: number;
  private readonly d32: number;
  private readonly availU16: Uint16Array;
  private readonly a16: number;
  private readonly usedU16: Uint16Array;
  private readonly usedU32: Uint32Array;
  private readonly u16: number;
  private readonly u32: number;
  /** Element offsets of avail.used_event and used.avail_event. */
  private readonly usedEventAt: number;
  private readonly availEventAt: number;
  private readonly scratch: WalkScratch;
  /** 1 while a head is popped and not yet pushed back as used. */
  private readonly held: Uint8Array;
  /** Writable bytes of each held chain (pushUsed refuses a larger length). */
  private readonly heldWritable: Float64Array;
  /** IN_ORDER: heads in the order popped; [orderFirst, orderEnd) are held. */
  private readonly order: Uint16Array;
  private orderFirst = 0;
  private orderEnd = 0;
  private lastAvail = 0;
  /**
   * avail.idx as last read (a shadow): chains below it are known available, so pop() reads the driver's index line
   * again only once it has popped them all (one cache-line transfer per batch instead of per chain while both
   * sides run). pop() never reports "empty" without a fresh read.
   */
  private availSeen = 0;
  private usedNext = 0;
  private usedPublished = 0;
  private notifyEnabled = true;
  private brokenBy: VirtioError | undefined = undefined;

  constructor(memory: PhysicalMemory, size: number, addrs: SplitRingAddresses, options: DeviceQueueOptions = {}) {
    const v = resolveSplitRing(memory, size, addrs);
    const features = options.features ?? 0n;
    const max = options.maxChainSegments ?? size;
    if (!Number.isInteger(max) || max < 1 || max > size) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `maxChainSegments ${max} must be in 1..${size}`, { maxChainSegments: max });
    }
    this.memory = memory;
    this.size = size;
    this.mask = size - 1;
    this.addrs = { desc: addrs.desc, avail: addrs.avail, used: addrs.used };
    this.eventIdx = hasFeature(features, VirtioFeature.EVENT_IDX);
    this.indirect = hasFeature(features, VirtioFeature.INDIRECT_DESC);
    this.inOrder = hasFeature(features, VirtioFeature.IN_ORDER);
    this.maxChainSegments = max;
    this.descU16 = v.descU16;
    this.descU32 = v.descU32;
    this.d16 = v.d16;
    this.d32 = v.d32;
    this.availU16 = v.availU16;
    this.a16 = v.a16;
    this.usedU16 = v.usedU16;
    this.usedU32 = v.usedU32;
    this.u16 = v.u16;
    this.u32 = v.u32;
    this.usedEventAt = v.a16 + 2 + size;
    this.availEventAt = v.u16 + 2 + 4 * size;
    this.scratch = new WalkScratch(size);
    this.held = new Uint8Array(size);
    this.heldWritable = new Float64Array(size);
    this.order = new Uint16Array(size);
  }

  get broken(): VirtioError | undefined {
    return this.brokenBy;
  }

  /** Index of the next avail ring entry to pop (free-running u16). */
  get lastAvailIdx(): number {
    return this.lastAvail;
  }

  /** used.idx as last published. */
  get usedIdx(): number {
    return this.usedPublished;
  }

  /** A chain of the right capacity for pop(). */
  newChain(): DescriptorChain {
    return new DescriptorChain(this.maxChainSegments);
  }

  private breakWith(e: VirtioError): never {
    this.brokenBy = e;
    throw e;
  }

  pending(): number {
    const n = (Atomics.load(this.availU16, this.a16 + 1) - this.lastAvail) & 0xffff;
    return n > this.size ? 0 : n;
  }

  pop(out: DescriptorChain): boolean {
    if (this.brokenBy !== undefined) return false;
    if (out.capacity < this.maxChainSegments) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `chain capacity ${out.capacity} < maxChainSegments ${this.maxChainSegments}`, { capacity: out.capacity });
    }
    // Acquire: the ring entry and descriptors below were written before this index (§2.7.13).
    const last = this.lastAvail;
    let availIdx = this.availSeen;
    if (availIdx === last) {
      availIdx = Atomics.load(this.availU16, this.a16 + 1);
      if (availIdx === last) return false;
      this.availSeen = availIdx;
    }
    const n = (availIdx - last) & 0xffff;
    if (n > this.size) {
      this.breakWith(new VirtioError(VirtioErrorCode.AVAIL_IDX_TOO_FAR, `avail.idx ${availIdx} is ${n} entries ahead of ${last} (queue size ${this.size})`, { availIdx, lastAvail: last }));
    }
    // The used ring has N entries (§2.7.8): chains popped but not yet published as used still occupy the driver's
    // N buffers. A driver that re-offers a head after pushUsed but before publishUsed would otherwise make the
    // device queue N+1 unpublished used entries, the last overwriting the first.
    if (((last - this.usedPublished) & 0xffff) >= this.size) {
      this.breakWith(
        new VirtioError(VirtioErrorCode.AVAIL_IDX_TOO_FAR, `avail.idx ${availIdx}: more than ${this.size} buffers available before the device returned any`, {
          availIdx,
          lastAvail: last,
          usedIdx: this.usedPublished,
        }),
      );
    }
    const head = this.availU16[this.a16 + 2 + (last & this.mask)]!;
    if (head < this.size && this.held[head] !== 0) {
      this.breakWith(new VirtioError(VirtioErrorCode.DESC_IN_USE, `head ${head} made available again while the device still holds it`, { head }));
    }
    try {
      walkChainViews(this.memory, this.descU16, this.descU32, this.d16, this.d32, this.size, head, out, this.indirect, this.maxChainSegments, this.scratch);
    } catch (e) {
      if (e instanceof VirtioError) this.breakWith(e);
      throw e;
    }
    this.held[head] = 1;
    this.heldWritable[head] = out.writableBytes;
    if (this.inOrder) this.order[this.orderEnd++ & this.mask] = head;
    this.lastAvail = (last + 1) & 0xffff;
    if (this.eventIdx && this.notifyEnabled) Atomics.store(this.usedU16, this.availEventAt, this.lastAvail);
    return true;
  }

  pushUsed(id: number, writtenLen: number): void {
    if (!(id >= 0 && id < this.size && Number.isInteger(id)) || this.held[id] !== 1) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `pushUsed(${id}): not a chain this device holds`, { id });
    }
    if (!(Number.isInteger(writtenLen) && writtenLen >= 0 && writtenLen <= this.heldWritable[id]!)) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `pushUsed(${id}, ${writtenLen}): length exceeds the chain's ${this.heldWritable[id]} writable bytes`, { id, writtenLen });
    }
    if (this.inOrder) {
      const expected = this.order[this.orderFirst & this.mask]!;
      if (expected !== id) {
        throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `pushUsed(${id}): IN_ORDER requires ${expected} first`, { id, expected });
      }
      this.orderFirst++;
    }
    this.held[id] = 0;
    // stored only when it changes (buffers returned in the same order each lap keep the line shared with the driver)
    const w = this.u32 + 1 + 2 * (this.usedNext & this.mask);
    const used = this.usedU32;
    if (used[w] !== id) used[w] = id;
    if (used[w + 1] !== writtenLen) used[w + 1] = writtenLen;
    this.usedNext = (this.usedNext + 1) & 0xffff;
  }

  /**
   * IN_ORDER batch (§2.7.9): returns every held buffer up to and including `id`, in pop order, with a single used
   * entry (id, writtenLen) at the slot of the first; `writtenLen` is the last buffer's (checked against its
   * writable bytes). Returns the batch size. BAD_ARGUMENT without IN_ORDER or when `id` is not held.
   */
  pushUsedUpTo(id: number, writtenLen: number): number {
    if (!this.inOrder) throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, 'pushUsedUpTo needs IN_ORDER', { id });
    if (!(id >= 0 && id < this.size && Number.isInteger(id)) || this.held[id] !== 1) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `pushUsedUpTo(${id}): not a chain this device holds`, { id });
    }
    if (!(Number.isInteger(writtenLen) && writtenLen >= 0 && writtenLen <= this.heldWritable[id]!)) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `pushUsedUpTo(${id}, ${writtenLen}): length exceeds the chain's ${this.heldWritable[id]} writable bytes`, { id, writtenLen });
    }
    // held[id] === 1 under IN_ORDER means id is in order[orderFirst, orderEnd): the scan ends there.
    let k = 0;
    let h: number;
    do {
      h = this.order[(this.orderFirst + k++) & this.mask]!;
      this.held[h] = 0;
    } while (h !== id);
    this.orderFirst += k;
    const w = this.u32 + 1 + 2 * (this.usedNext & this.mask);
    this.usedU32[w] = id;
    this.usedU32[w + 1] = writtenLen;
    this.usedNext = (this.usedNext + k) & 0xffff;
    return k;
  }

  publishUsed(): boolean {
    const nw = this.usedNext;
    const old = this.usedPublished;
    if (nw === old) return false;
    // Release: the id/len entries above become visible no later than the index (§2.7.8.2).
    Atomics.store(this.usedU16, this.u16 + 1, nw);
    this.usedPublished = nw;
    if (this.eventIdx) return vringNeedEvent(Atomics.load(this.availU16, this.usedEventAt), nw, old);
    return (Atomics.load(this.availU16, this.a16) & VRING_AVAIL_F_NO_INTERRUPT) === 0;
  }

  disableNotifications(): void {
    this.notifyEnabled = false;
    if (this.eventIdx) Atomics.store(this.usedU16, this.availEventAt, (this.lastAvail - 1) & 0xffff);
    else Atomics.store(this.usedU16, this.u16, VRING_USED_F_NO_NOTIFY);
  }

  enableNotifications(): boolean {
    this.notifyEnabled = true;
    if (this.eventIdx) Atomics.store(this.usedU16, this.availEventAt, this.lastAvail);
    else Atomics.store(this.usedU16, this.u16, 0);
    // Re-check after the (sequentially consistent) store: a chain added meanwhile may not have been kicked.
    return this.pending() === 0;
  }

  reset(): void {
    this.lastAvail = 0;
    this.availSeen = 0;
    this.usedNext = 0;
    this.usedPublished = 0;
    this.orderFirst = 0;
    this.orderEnd = 0;
    this.notifyEnabled = true;
    this.brokenBy = undefined;
    this.held.fill(0);
  }

  /**
   * Test and attach helper: starts an idle queue (nothing held) at free-running index `idx` (e.g. near 65535 to
   * test wrap-around); writes used.idx. The driver must be set to the same index.
   */
  setIndicesForTest(idx: number): void {
    if (this.orderFirst !== this.orderEnd || this.usedNext !== this.usedPublished || this.held.some((h) => h !== 0)) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, 'setIndicesForTest needs an idle queue');
    }
    this.lastAvail = this.availSeen = this.usedNext = this.usedPublished = idx & 0xffff;
    Atomics.store(this.usedU16, this.u16 + 1, this.usedNext);
    if (this.eventIdx && this.notifyEnabled) Atomics.store(this.usedU16, this.availEventAt, this.lastAvail);
  }
}
