/**
 * The driver side of a split virtqueue (VIRTIO 1.2 §2.7): fills descriptors, makes chains available, collects
 * used buffers.
 *
 *   descriptors: free list kept privately (nextFree[]), never read back from shared memory
 *
 *   avail ring:  ... [h][h][h] ...            used ring:  ... [id,len][id,len] ...
 *                    ^ published ^ availNext                   ^ lastUsed     ^ used.idx (device)
 *                      (avail.idx)  (next add)
 *
 * Indices are free-running u16, masked only to index the ring. add() writes descriptors and the avail ring entry
 * with plain stores; kick() publishes avail.idx with Atomics.store (release, §2.7.13.3) and then reads the device's
 * avail_event or used.flags with Atomics.load (the full barrier of §2.7.13.4 comes from sequential consistency).
 * popUsed() reads used.idx with Atomics.load (acquire) before the entries it covers.
 *
 * The device is not trusted: used.idx may not run ahead of the buffers it was given (USED_IDX_TOO_FAR), an id must
 * be a head we published and have not had back (USED_ID_OUT_OF_RANGE / USED_ID_NOT_OUTSTANDING), used.len may not
 * exceed the chain's writable bytes (USED_LEN_TOO_LARGE). The first violation breaks the queue (`broken`); further
 * add/popUsed throw QUEUE_BROKEN until reset().
 *
 * Memory: the constructor does NOT touch ring memory (a fresh SharedArrayBuffer is already zero); reset() zeroes
 * the descriptor table, avail and used rings, as a driver does at queue setup (§3.1.1 / §4.2.3.2).
 *
 * IN_ORDER (§2.7.9): when negotiated, freed descriptors go to the tail of the free list, so a device that uses
 * buffers in order sees descriptors allocated in ring order (the driver rule of §2.7.9). Buffers come back in the
 * order they were made available, so the buffer at avail position p is returned when lastUsed == p. The device may
 * return a batch with ONE used entry: it writes (id of the batch's LAST buffer, its len) at the slot of the batch's
 * FIRST buffer, skips the other slots and advances used.idx by the batch size. So used.idx still counts buffers;
 * popUsed reads the entry at lastUsed, derives the batch size from the id's avail position (availPos), checks the
 * batch lies within used.idx, and then returns the batch's buffers one per call in avail order without reading
 * the skipped slots. A one-buffer "batch" is the ordinary case. Length: the spec gives no len for the earlier
 * buffers of a batch, so we report lastUsedLen = 0 for them (an underestimate is always safe, §2.7.8.3: the driver
 * must not assume bytes beyond len were written); the last gets the entry's len.
 *
 * Indirect (§2.7.5.3): table k (options.indirect) belongs to head k, so it is free exactly when head k is.
 */
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { vringNeedEvent } from '../event.js';
import { hasFeature, VirtioFeature } from '../features.js';
import { addrHi, addrLo, hex, type PhysicalMemory } from '../memory.js';
import type { DriverQueueOptions, Segment, VirtqueueDriver } from '../virtqueue.js';
import { VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_USED_F_NO_NOTIFY, splitRingSizes, type SplitRingAddresses } from './layout.js';
import { resolveSplitRing } from './rings.js';

const STATE_FREE = 0;
/** Added, not yet published by kick(). */
const STATE_ADDED = 1;
/** Published: the device may use it. */
const STATE_PUBLISHED = 2;

const MAX_CHAIN_BYTES = 0x1_0000_0000;

export class SplitVirtqueueDriver<T = unknown> implements VirtqueueDriver<T> {
  readonly size: number;
  readonly addrs: Readonly<SplitRingAddresses>;
  readonly eventIdx: boolean;
  readonly inOrder: boolean;
  /** Entries per indirect table, 0 when indirect tables are not in use. */
  readonly indirectEntries: number;
  lastUsedLen = 0;
  /** Used entries of chains without writable bytes that carried a non-zero len (reported as 0; see popUsed). */
  readOnlyLenIgnored = 0;
  private readonly memory: PhysicalMemory;
  private readonly mask: number;
  private readonly policy: 'auto' | 'never' | 'always';
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
  private readonly usedEventAt: number;
  private readonly availEventAt: number;
  /** Indirect tables: views and element offsets of table 0; table k is `k * indirectEntries` descriptors further. */
  private readonly indBase: number;
  private readonly indU16: Uint16Array | undefined;
  private readonly indU32: Uint32Array | undefined;
  private readonly ind16: number;
  private readonly ind32: number;
  /** Private free-list links (also the links of a chain in use, from head to tail). */
  private readonly nextFree: Uint16Array;
  private readonly chainTail: Uint16Array;
  private readonly chainDescs: Uint16Array;
  private readonly chainWritable: Float64Array;
  private readonly state: Uint8Array;
  private readonly tokens: (T | undefined)[];
  /** Private copy of the heads in the avail ring (the shared copy could be overwritten by the device). */
  private readonly availShadow: Uint16Array;
  /** IN_ORDER: avail position (free-running u16) at which each outstanding head was added. */
  private readonly availPos: Uint16Array;
  /** IN_ORDER: buffers of the current batched used entry still to return after the one returned last. */
  private batchLeft = 0;
  /** IN_ORDER: the reported len of the current batch's last buffer. */
  private batchLen = 0;
  private freeHead = 0;
  private freeTail = 0;
  private free = 0;
  private availNext = 0;
  private published = 0;
  private lastUsed = 0;
  /**
   * used.idx as last read (a shadow, as vhost's last_used/shadow indices): entries below it are known published, so
   * popUsed() reads the device's index line again only when it has consumed them all. While both sides run, the
   * device rewrites that line with every publish; reading it once per batch instead of once per buffer saves a
   * cache-line transfer per buffer.
   */
  private usedSeen = 0;
  /** Published buffers not yet returned. */
  private inflight = 0;
  private callbacks = true;
  private brokenBy: VirtioError | undefined = undefined;

  constructor(memory: PhysicalMemory, size: number, addrs: SplitRingAddresses, options: DriverQueueOptions = {}) {
    const v = resolveSplitRing(memory, size, addrs);
    const features = options.features ?? 0n;
    this.memory = memory;
    this.size = size;
    this.mask = size - 1;
    this.addrs = { desc: addrs.desc, avail: addrs.avail, used: addrs.used };
    this.eventIdx = hasFeature(features, VirtioFeature.EVENT_IDX);
    this.inOrder = hasFeature(features, VirtioFeature.IN_ORDER);
    this.policy = options.indirectPolicy ?? 'auto';
    if (this.policy !== 'auto' && this.policy !== 'never' && this.policy !== 'always') {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `indirectPolicy ${String(this.policy)}`);
    }
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

    const ind = options.indirect;
    if (ind !== undefined && hasFeature(features, VirtioFeature.INDIRECT_DESC) && this.policy !== 'never') {
      const { base, tableEntries } = ind;
      if (!Number.isInteger(tableEntries) || tableEntries < 1 || tableEntries > size) {
        // A chain may not be longer than the queue size, indirect entries included (§2.7.5.3.1).
        throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `indirect tableEntries ${tableEntries} must be in 1..${size}`, { tableEntries });
      }
      if (!Number.isSafeInteger(base) || base < 0 || base % 16 !== 0) {
        throw new VirtioError(VirtioErrorCode.BAD_ALIGNMENT, `indirect tables at ${hex(base)} must be 16-aligned`, { base });
      }
      const r = memory.findRegion(base, size * tableEntries * 16);
      if (r === undefined) {
        throw new VirtioError(VirtioErrorCode.BAD_RING_ADDRESS, `indirect tables [${hex(base)}, +${size * tableEntries * 16}) are not inside one region`, { base });
      }
      this.indirectEntries = tableEntries;
      this.indBase = base;
      this.indU16 = r.u16;
      this.indU32 = r.u32;
      this.ind16 = (base - r.base) / 2;
      this.ind32 = (base - r.base) / 4;
    } else {
      this.indirectEntries = 0;
      this.indBase = 0;
      this.indU16 = undefined;
      this.indU32 = undefined;
      this.ind16 = 0;
      this.ind32 = 0;
    }

    this.nextFree = new Uint16Array(size);
    this.chainTail = new Uint16Array(size);
    this.chainDescs = new Uint16Array(size);
    this.chainWritable = new Float64Array(size);
    this.state = new Uint8Array(size);
    this.tokens = new Array<T | undefined>(size).fill(undefined);
    this.availShadow = new Uint16Array(size);
    this.availPos = new Uint16Array(size);
    this.initFreeList();
  }

  private initFreeList(): void {
    for (let i = 0; i < this.size; i++) this.nextFree[i] = (i + 1) & this.mask;
    this.freeHead = 0;
    this.freeTail = this.size - 1;
    this.free = this.size;
  }

  get numFree(): number {
    return this.free;
  }

  get broken(): VirtioError | undefined {
    return this.brokenBy;
  }

  /** avail.idx as last published by kick(). */
  get availIdx(): number {
    return this.published;
  }

  /** Index of the next used entry popUsed() reads (free-running u16). */
  get lastUsedIdx(): number {
    return this.lastUsed;
  }

  /** Buffers added (published or not) and not yet returned by the device. */
  get outstanding(): number {
    return (this.availNext - this.lastUsed) & 0xffff;
  }

  private checkUsable(): void {
    if (this.brokenBy !== undefined) {
      throw new VirtioError(VirtioErrorCode.QUEUE_BROKEN, `queue is broken (${this.brokenBy.code}); reset it`, { cause: this.brokenBy.code });
    }
  }

  private breakWith(e: VirtioError): never {
    this.brokenBy = e;
    throw e;
  }

  private checkSegment(addr: number, len: number): void {
    if (!(Number.isInteger(len) && len >= 0 && len <= 0xffff_ffff) || !(Number.isSafeInteger(addr) && addr >= 0) || !this.memory.contains(addr, len)) {
      throw new VirtioError(VirtioErrorCode.BAD_SEGMENT, `segment ${hex(addr)}+${len} is not a buffer inside the driver's memory`, { addr, len });
    }
  }

  /** Writes descriptor i of the ring's table (plain stores; made visible by kick()). */
  private writeDesc(i: number, addr: number, len: number, flags: number, next: number): void {
    // A field is stored only when it changes: a buffer re-added with the same address, length and flags (RPMsg's
    // fixed buffers, a receive pool) leaves its descriptor's cache line shared with the device instead of taking
    // it back and making the device miss on it. The value in memory is the same either way (§2.7.13: published
    // by kick()'s release store).
    const w = this.d32 + 4 * i;
    const u32 = this.descU32;
    const lo = addrLo(addr);
    const hi = addrHi(addr);
    if (u32[w] !== lo) u32[w] = lo;
    if (u32[w + 1] !== hi) u32[w + 1] = hi;
    if (u32[w + 2] !== len) u32[w + 2] = len;
    const h = this.d16 + 8 * i + 6;
    const u16 = this.descU16;
    if (u16[h] !== flags) u16[h] = flags;
    if (u16[h + 1] !== next) u16[h + 1] = next;
  }

  private enqueue(head: number, tail: number, descs: number, writable: number, token: T): number {
    this.chainTail[head] = tail;
    this.chainDescs[head] = descs;
    this.chainWritable[head] = writable;
    this.state[head] = STATE_ADDED;
    this.tokens[head] = token;
    const slot = this.availNext & this.mask;
    this.availShadow[slot] = head;
    this.availPos[head] = this.availNext;
    // stored only when it changes (buffers re-added in the same order): see writeDesc
    const at = this.a16 + 2 + slot;
    if (this.availU16[at] !== head) this.availU16[at] = head;
    this.availNext = (this.availNext + 1) & 0xffff;
    return head;
  }

  add(out: readonly Segment[], inn: readonly Segment[], token: T): number {
    this.checkUsable();
    const nOut = out.length;
    const total = nOut + inn.length;
    if (total === 0) throw new VirtioError(VirtioErrorCode.EMPTY_CHAIN, 'a chain needs at least one segment');
    if (total > this.size) {
      throw new VirtioError(VirtioErrorCode.BAD_SEGMENT, `chain of ${total} segments exceeds the queue size ${this.size} (§2.7.4.2)`, { total });
    }
    let bytes = 0;
    let writable = 0;
    for (let k = 0; k < total; k++) {
      const s = k < nOut ? out[k]! : inn[k - nOut]!;
      this.checkSegment(s.addr, s.len);
      bytes += s.len;
      if (k >= nOut) writable += s.len;
    }
    if (bytes > MAX_CHAIN_BYTES) throw new VirtioError(VirtioErrorCode.BAD_SEGMENT, `chain of ${bytes} bytes exceeds 2^32`, { bytes });
    const useIndirect = this.indirectEntries >= total && (this.policy === 'always' || total > 1);
    const need = useIndirect ? 1 : total;
    if (this.free < need) throw new VirtioError(VirtioErrorCode.QUEUE_FULL, `${need} descriptors needed, ${this.free} free`, { need, free: this.free });

    const head = this.freeHead;
    let tail = head;
    if (useIndirect) {
      // Table `head`: entries 0..total-1 linked by next = j+1 (§2.7.5.3.2: indices are table-relative).
      const u32 = this.indU32!;
      const u16 = this.indU16!;
      const t32 = this.ind32 + head * this.indirectEntries * 4;
      const t16 = this.ind16 + head * this.indirectEntries * 8;
      for (let j = 0; j < total; j++) {
        const s = j < nOut ? out[j]! : inn[j - nOut]!;
        u32[t32 + 4 * j] = addrLo(s.addr);
        u32[t32 + 4 * j + 1] = addrHi(s.addr);
        u32[t32 + 4 * j + 2] = s.len;
        u16[t16 + 8 * j + 6] = (j >= nOut ? VRING_DESC_F_WRITE : 0) | (j < total - 1 ? VRING_DESC_F_NEXT : 0);
        u16[t16 + 8 * j + 7] = j < total - 1 ? j + 1 : 0;
      }
      this.writeDesc(head, this.indBase + head * this.indirectEntries * 16, total * 16, VRING_DESC_F_INDIRECT, 0);
      this.freeHead = this.nextFree[head]!;
    } else {
      let i = head;
      for (let k = 0; k < total; k++) {
        const s = k < nOut ? out[k]! : inn[k - nOut]!;
        const last = k === total - 1;
        const nx = this.nextFree[i]!;
        this.writeDesc(i, s.addr, s.len, (k >= nOut ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT), last ? 0 : nx);
        tail = i;
        i = nx;
      }
      this.freeHead = i;
    }
    this.free -= need;
    return this.enqueue(head, tail, need, writable, token);
  }

  addBuffer(addr: number, len: number, writable: boolean, token: T): number {
    if (this.policy === 'always' && this.indirectEntries > 0) {
      const seg = [{ addr, len }];
      return writable ? this.add([], seg, token) : this.add(seg, [], token);
    }
    this.checkUsable();
    this.checkSegment(addr, len);
    if (this.free < 1) throw new VirtioError(VirtioErrorCode.QUEUE_FULL, `1 descriptor needed, 0 free`, { need: 1, free: 0 });
    const head = this.freeHead;
    this.writeDesc(head, addr, len, writable ? VRING_DESC_F_WRITE : 0, 0);
    this.freeHead = this.nextFree[head]!;
    this.free--;
    return this.enqueue(head, head, 1, writable ? len : 0, token);
  }

  kick(): boolean {
    const nw = this.availNext;
    const old = this.published;
    if (nw === old) return false;
    for (let p = old; p !== nw; p = (p + 1) & 0xffff) this.state[this.availShadow[p & this.mask]!] = STATE_PUBLISHED;
    // Release: descriptors and ring entries written above are visible before the index (§2.7.13.3).
    Atomics.store(this.availU16, this.a16 + 1, nw);
    this.published = nw;
    this.inflight += (nw - old) & 0xffff;
    // Full barrier between publishing and reading the device's suppression state (§2.7.13.4): both are Atomics.
    if (this.eventIdx) return vringNeedEvent(Atomics.load(this.usedU16, this.availEventAt), nw, old);
    return (Atomics.load(this.usedU16, this.u16) & VRING_USED_F_NO_NOTIFY) === 0;
  }

  hasUsed(): boolean {
    return this.usedSeen !== this.lastUsed || Atomics.load(this.usedU16, this.u16 + 1) !== this.lastUsed;
  }

  popUsed(): T | undefined {
    this.checkUsable();
    const last = this.lastUsed;
    let id: number;
    let reported: number;
    if (this.batchLeft > 0) {
      // Rest of a batch (§2.7.9): the next buffer in avail order; its used slot was skipped by the device.
      id = this.availShadow[last & this.mask]!;
      reported = --this.batchLeft === 0 ? this.batchLen : 0;
    } else {
      // Acquire: entries up to used.idx were written before it (§2.7.8.2). Read again only once the entries below
      // the last value read are consumed (usedSeen).
      let usedIdx = this.usedSeen;
      if (usedIdx === last) {
        usedIdx = Atomics.load(this.usedU16, this.u16 + 1);
        if (usedIdx === last) return undefined;
        this.usedSeen = usedIdx;
      }
      const ahead = (usedIdx - last) & 0xffff;
      if (ahead > this.inflight) {
        this.breakWith(new VirtioError(VirtioErrorCode.USED_IDX_TOO_FAR, `used.idx ${usedIdx} is ${ahead} ahead of ${last} but only ${this.inflight} buffers are with the device`, { usedIdx, lastUsed: last, inflight: this.inflight }));
      }
      const w = this.u32 + 1 + 2 * (last & this.mask);
      id = this.usedU32[w]!;
      const len = this.usedU32[w + 1]!;
      if (id >= this.size) {
        this.breakWith(new VirtioError(VirtioErrorCode.USED_ID_OUT_OF_RANGE, `used id ${id} >= queue size ${this.size}`, { id }));
      }
      if (this.state[id] !== STATE_PUBLISHED) {
        this.breakWith(new VirtioError(VirtioErrorCode.USED_ID_NOT_OUTSTANDING, `used id ${id} is not a buffer the device holds`, { id }));
      }
      const writable = this.chainWritable[id]!;
      if (len > writable) {
        // A chain with no device-writable byte: the device wrote nothing, whatever len says. OpenAMP's device side
        // reports the buffer length for consumed TX buffers (Linux does not check either), so we report 0 and count it
        // instead of breaking the queue. A len beyond the writable bytes of a writable chain is a real violation.
        if (writable !== 0) {
          this.breakWith(new VirtioError(VirtioErrorCode.USED_LEN_TOO_LARGE, `used len ${len} for id ${id} exceeds its ${writable} writable bytes`, { id, len }));
        }
        this.readOnlyLenIgnored++;
      }
      reported = len > writable ? writable : len;
      if (this.inOrder) {
        // §2.7.9: the entry at lastUsed names the LAST buffer of a batch that starts at lastUsed. Published buffers
        // are the oldest `inflight` ones, so 1 <= batch <= inflight; used.idx must cover the whole batch.
        const batch = ((this.availPos[id]! - last) & 0xffff) + 1;
        if (batch > ahead) {
          this.breakWith(
            new VirtioError(VirtioErrorCode.USED_ID_NOT_OUTSTANDING, `used id ${id} ends a batch of ${batch} buffers but used.idx ${usedIdx} returns only ${ahead}`, {
              id,
              batch,
              usedIdx,
              lastUsed: last,
            }),
          );
        }
        if (batch > 1) {
          this.batchLeft = batch - 1;
          this.batchLen = reported;
          id = this.availShadow[last & this.mask]!;
          reported = 0;
        }
      }
    }
    // Return the chain's descriptors: its links head..tail are still in nextFree.
    const tail = this.chainTail[id]!;
    if (this.inOrder) {
      if (this.free === 0) this.freeHead = id;
      else this.nextFree[this.freeTail] = id;
      this.freeTail = tail;
    } else {
      if (this.free === 0) this.freeTail = tail;
      this.nextFree[tail] = this.freeHead;
      this.freeHead = id;
    }
    this.free += this.chainDescs[id]!;
    this.state[id] = STATE_FREE;
    const token = this.tokens[id];
    this.tokens[id] = undefined;
    this.lastUsed = (last + 1) & 0xffff;
    this.inflight--;
    this.lastUsedLen = reported;
    // Keep asking for an interrupt at the next used buffer while callbacks are on (§2.7.10).
    if (this.eventIdx && this.callbacks) Atomics.store(this.availU16, this.usedEventAt, this.lastUsed);
    return token;
  }

  disableCallbacks(): void {
    this.callbacks = false;
    // EVENT_IDX: flags stay 0 (§2.7.7); used_event one behind lastUsed cannot be crossed before the index wraps.
    if (this.eventIdx) Atomics.store(this.availU16, this.usedEventAt, (this.lastUsed - 1) & 0xffff);
    else Atomics.store(this.availU16, this.a16, VRING_AVAIL_F_NO_INTERRUPT);
  }

  enableCallbacks(): boolean {
    this.callbacks = true;
    if (this.eventIdx) Atomics.store(this.availU16, this.usedEventAt, this.lastUsed);
    else Atomics.store(this.availU16, this.a16, 0);
    // Re-check after the store: a buffer used meanwhile may have raised no interrupt.
    return !this.hasUsed();
  }

  /**
   * Like Linux virtqueue_enable_cb_delayed: with EVENT_IDX, asks for an interrupt only after about 3/4 of the
   * buffers now with the device have been used. Returns false when that many are already used (drain them).
   */
  enableCallbacksDelayed(): boolean {
    if (!this.eventIdx) return this.enableCallbacks();
    this.callbacks = true;
    const bufs = Math.floor((this.inflight * 3) / 4);
    Atomics.store(this.availU16, this.usedEventAt, (this.lastUsed + bufs) & 0xffff);
    return ((Atomics.load(this.usedU16, this.u16 + 1) - this.lastUsed) & 0xffff) <= bufs;
  }

  reset(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) {
      if (this.state[i] !== STATE_FREE) out.push(this.tokens[i] as T);
      this.tokens[i] = undefined;
    }
    this.state.fill(STATE_FREE);
    const { descBytes, availBytes, usedBytes } = splitRingSizes(this.size);
    this.memory.fill(this.addrs.desc, descBytes);
    this.memory.fill(this.addrs.avail, availBytes);
    this.memory.fill(this.addrs.used, usedBytes);
    this.initFreeList();
    this.availNext = this.published = this.lastUsed = this.usedSeen = 0;
    this.inflight = 0;
    this.batchLeft = 0;
    this.batchLen = 0;
    this.callbacks = true;
    this.brokenBy = undefined;
    this.lastUsedLen = 0;
    return out;
  }

  /**
   * Test and attach helper: starts an idle queue (nothing outstanding) at free-running index `idx` (e.g. near
   * 65535 to test wrap-around); writes avail.idx. The device must be set to the same index.
   */
  setIndicesForTest(idx: number): void {
    if (this.free !== this.size || this.availNext !== this.published) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, 'setIndicesForTest needs an idle queue');
    }
    this.availNext = this.published = this.lastUsed = this.usedSeen = idx & 0xffff;
    Atomics.store(this.availU16, this.a16 + 1, this.published);
    if (this.eventIdx && this.callbacks) Atomics.store(this.availU16, this.usedEventAt, this.lastUsed);
  }
}
