/**
 * The driver side of a packed virtqueue (VIRTIO 1.2 §2.8): writes available descriptors in ring order, reads used
 * descriptors in ring order.
 *
 *   ring slots:   0   1   2   3   4   5   6   7          (N = 8)
 *                         ^usedPos        ^availPos
 *                         [ outstanding  ][ free ... wraps to usedPos ]
 *
 * availPos/availWrap: the next slot to fill (the Driver Ring Wrap Counter, §2.8.1, flips after the last slot).
 * usedPos/usedWrap: the next slot where the device writes a used descriptor; a used id moves it by the number of
 * slots that id's chain occupied (§2.8.6). numFree = N - slots of outstanding chains: exactly the slots between
 * availPos and usedPos, which the device has finished with.
 *
 * Buffer ids come from a free-id stack (ids 0..N-1); every chain takes one id and at least one slot, so ids never
 * run out before slots. The id is written in every descriptor of a chain (the device reads it from the last one).
 *
 * Publication (§2.8.21): add() writes whole chains except each head's flags; kick() stores the pending heads' flags
 * with Atomics.store, the first chain's last, so the device sees a batch at once; then it reads the Device Area
 * with Atomics.load (sequentially consistent, so the barrier before consulting the structure is there).
 */
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hasFeature, VirtioFeature } from '../features.js';
import { addrHi, addrLo, hex, type MemoryRegion, type PhysicalMemory } from '../memory.js';
import type { DriverQueueOptions, Segment, VirtqueueDriver } from '../virtqueue.js';
import { packedEventWord, packedNeedNotify } from './event.js';
import {
  packedAvailFlags,
  isPackedUsed,
  PACKED_DESC_F_INDIRECT,
  PACKED_DESC_F_NEXT,
  PACKED_DESC_F_WRITE,
  PACKED_DESC_SIZE,
  PACKED_EVENT_FLAG_DESC,
  PACKED_EVENT_FLAG_DISABLE,
  PACKED_EVENT_FLAG_ENABLE,
  resolvePackedRing,
  type PackedRingAddresses,
} from './layout.js';

/** Per-id state on the driver. */
const FREE = 0;
/** Written by add(), head flags not yet stored. */
const ADDED = 1;
/** Visible to the device (kicked): only these may come back used. */
const PUBLISHED = 2;

const MAX_LEN = 0xffff_ffff;

function badSegment(addr: number, len: number): VirtioError {
  return new VirtioError(VirtioErrorCode.BAD_SEGMENT, `segment ${hex(addr)}+${len}: address must be a safe integer >= 0 and length a u32`, { addr, len });
}

export class PackedVirtqueueDriver<T = unknown> implements VirtqueueDriver<T> {
  readonly size: number;
  private readonly descRegion: MemoryRegion;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly d16: number;
  private readonly d32: number;
  private readonly drvU32: Uint32Array;
  private readonly drv32: number;
  private readonly devU32: Uint32Array;
  private readonly dev32: number;
  private readonly eventIdx: boolean;
  private readonly inOrder: boolean;
  /** Indirect tables (only with INDIRECT_DESC and options.indirect): table of id k at u32 index ind32 + k*tableEntries*4. */
  private readonly indU32: Uint32Array | undefined;
  private readonly ind32: number = 0;
  private readonly indBase: number = 0;
  private readonly tableEntries: number = 0;
  private readonly policy: 'auto' | 'never' | 'always';

  private availPos = 0;
  private availWrap = true;
  private usedPos = 0;
  private usedWrap = true;
  private free: number;
  private readonly freeIds: Uint16Array;
  private freeTop: number;
  private readonly state: Uint8Array;
  private readonly tokens: (T | undefined)[];
  private readonly slots: Uint16Array;
  private readonly writable: Float64Array;
  /** Chains added since the last kick: head slot, head flags, id. */
  private readonly pendPos: Uint16Array;
  private readonly pendFlags: Uint16Array;
  private readonly pendId: Uint16Array;
  private pendCount = 0;
  private addedSlots = 0;
  /** IN_ORDER: ids in the order they were added (circular FIFO of N), and the batch being returned. */
  private readonly order: Uint16Array;
  private orderHead = 0;
  private orderCount = 0;
  private batchLast = -1;
  private batchLen = 0;
  /** What this driver last wrote into the Driver Area's flags (memory starts zeroed: ENABLE). */
  private callbackMode = PACKED_EVENT_FLAG_ENABLE;
  private brokenBy: VirtioError | undefined;
  lastUsedLen = 0;

  /** Does not touch memory: the ring is expected zeroed (§2.8.13), as after reset(). */
  constructor(memory: PhysicalMemory, size: number, addrs: PackedRingAddresses, options: DriverQueueOptions = {}) {
    const v = resolvePackedRing(memory, size, addrs);
    this.size = size;
    this.descRegion = v.descRegion;
    this.u16 = v.descRegion.u16;
    this.u32 = v.descRegion.u32;
    this.d16 = v.d16;
    this.d32 = v.d32;
    this.drvU32 = v.drvU32;
    this.drv32 = v.drv32;
    this.devU32 = v.devU32;
    this.dev32 = v.dev32;
    const f = options.features ?? 0n;
    this.eventIdx = hasFeature(f, VirtioFeature.EVENT_IDX);
    this.inOrder = hasFeature(f, VirtioFeature.IN_ORDER);
    this.policy = options.indirectPolicy ?? 'auto';
    const ind = options.indirect;
    if (ind !== undefined && hasFeature(f, VirtioFeature.INDIRECT_DESC) && this.policy !== 'never') {
      const { base, tableEntries } = ind;
      if (!Number.isInteger(tableEntries) || tableEntries < 1 || tableEntries > size) {
        throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `indirect tableEntries ${tableEntries} must be in 1..${size}`, { tableEntries });
      }
      if (!Number.isSafeInteger(base) || base < 0 || base % 16 !== 0) {
        throw new VirtioError(VirtioErrorCode.BAD_ALIGNMENT, `indirect tables at ${hex(base)} must be 16-aligned`, { base });
      }
      const r = memory.findRegion(base, size * tableEntries * PACKED_DESC_SIZE);
      if (r === undefined) {
        throw new VirtioError(VirtioErrorCode.BAD_RING_ADDRESS, `indirect tables ${hex(base)}+${size * tableEntries * PACKED_DESC_SIZE} are not inside one region`, { base });
      }
      this.indU32 = r.u32;
      this.ind32 = (base - r.base) >>> 2;
      this.indBase = base;
      this.tableEntries = tableEntries;
    }
    this.free = size;
    this.freeIds = new Uint16Array(size);
    this.freeTop = 0;
    this.state = new Uint8Array(size);
    this.tokens = new Array<T | undefined>(size).fill(undefined);
    this.slots = new Uint16Array(size);
    this.writable = new Float64Array(size);
    this.pendPos = new Uint16Array(size);
    this.pendFlags = new Uint16Array(size);
    this.pendId = new Uint16Array(size);
    this.order = new Uint16Array(size);
    this.resetState();
  }

  get numFree(): number {
    return this.free;
  }

  /** The rule violation by the device that stopped this queue, if any (cleared by reset()). */
  get broken(): VirtioError | undefined {
    return this.brokenBy;
  }

  /** next_off | next_wrap << 15 of the next slot to fill: the next_off/next_wrap a notification carries (§2.8.16; NOTIFICATION_DATA §2.9). */
  get availOffWrap(): number {
    return this.availPos | (this.availWrap ? 0x8000 : 0);
  }

  private resetState(): void {
    this.availPos = 0;
    this.availWrap = true;
    this.usedPos = 0;
    this.usedWrap = true;
    this.free = this.size;
    // Stack of free ids with 0 on top, so a fresh queue hands out 0, 1, 2, ...
    for (let i = 0; i < this.size; i++) this.freeIds[i] = this.size - 1 - i;
    this.freeTop = this.size;
    this.state.fill(FREE);
    this.tokens.fill(undefined);
    this.pendCount = 0;
    this.addedSlots = 0;
    this.orderHead = 0;
    this.orderCount = 0;
    this.batchLast = -1;
    this.batchLen = 0;
    this.callbackMode = PACKED_EVENT_FLAG_ENABLE;
    this.brokenBy = undefined;
    this.lastUsedLen = 0;
  }

  private checkUsable(): void {
    if (this.brokenBy !== undefined) {
      throw new VirtioError(VirtioErrorCode.QUEUE_BROKEN, `packed queue is broken (${this.brokenBy.code}); reset it`, { cause: this.brokenBy.code });
    }
  }

  private takeId(token: T, slots: number, writable: number): number {
    const id = this.freeIds[--this.freeTop]!;
    this.state[id] = ADDED;
    this.tokens[id] = token;
    this.slots[id] = slots;
    this.writable[id] = writable;
    this.free -= slots;
    this.addedSlots += slots;
    if (this.inOrder) {
      this.order[(this.orderHead + this.orderCount) % this.size] = id;
      this.orderCount++;
    }
    return id;
  }

  /** Writes addr, len and id of ring slot `pos` (flags are written by the caller). */
  private writeDesc(pos: number, addr: number, len: number, id: number): void {
    const i32 = this.d32 + pos * 4;
    this.u32[i32] = addrLo(addr);
    this.u32[i32 + 1] = addrHi(addr);
    this.u32[i32 + 2] = len;
    this.u16[this.d16 + pos * 8 + 6] = id;
  }

  private defer(pos: number, flags: number, id: number): void {
    const k = this.pendCount++;
    this.pendPos[k] = pos;
    this.pendFlags[k] = flags;
    this.pendId[k] = id;
  }

  private advance(): void {
    if (++this.availPos === this.size) {
      this.availPos = 0;
      this.availWrap = !this.availWrap;
    }
  }

  add(out: readonly Segment[], inn: readonly Segment[], token: T): number {
    this.checkUsable();
    const nOut = out.length;
    const total = nOut + inn.length;
    if (total === 0) throw new VirtioError(VirtioErrorCode.EMPTY_CHAIN, 'a chain needs at least one segment');
    let writable = 0;
    for (let j = 0; j < total; j++) {
      const s = j < nOut ? out[j]! : inn[j - nOut]!;
      if (!Number.isSafeInteger(s.addr) || s.addr < 0 || !Number.isInteger(s.len) || s.len < 0 || s.len > MAX_LEN) throw badSegment(s.addr, s.len);
      if (j >= nOut) writable += s.len;
    }
    const indirect =
      this.indU32 !== undefined && total <= this.tableEntries && (this.policy === 'always' || (this.policy === 'auto' && total > 1));
    const slots = indirect ? 1 : total;
    if (slots > this.free) {
      throw new VirtioError(VirtioErrorCode.QUEUE_FULL, `chain needs ${slots} descriptors, ${this.free} free`, { slots, free: this.free });
    }
    const id = this.takeId(token, slots, writable);
    if (indirect) {
      // §2.8.7: a table of packed descriptors; only WRITE is meaningful inside (id 0, no NEXT).
      const t = this.indU32!;
      let i = this.ind32 + id * this.tableEntries * 4;
      for (let j = 0; j < total; j++, i += 4) {
        const s = j < nOut ? out[j]! : inn[j - nOut]!;
        t[i] = addrLo(s.addr);
        t[i + 1] = addrHi(s.addr);
        t[i + 2] = s.len;
        t[i + 3] = j >= nOut ? PACKED_DESC_F_WRITE << 16 : 0;
      }
      const pos = this.availPos;
      this.writeDesc(pos, this.indBase + id * this.tableEntries * PACKED_DESC_SIZE, total * PACKED_DESC_SIZE, id);
      this.defer(pos, PACKED_DESC_F_INDIRECT | packedAvailFlags(this.availWrap), id);
      this.advance();
      return id;
    }
    for (let j = 0; j < total; j++) {
      const s = j < nOut ? out[j]! : inn[j - nOut]!;
      const pos = this.availPos;
      this.writeDesc(pos, s.addr, s.len, id);
      // §2.8.21: AVAIL/USED in every descriptor follow the wrap counter of that descriptor's lap.
      const flags = (j < total - 1 ? PACKED_DESC_F_NEXT : 0) | (j >= nOut ? PACKED_DESC_F_WRITE : 0) | packedAvailFlags(this.availWrap);
      if (j === 0) this.defer(pos, flags, id);
      else this.u16[this.d16 + pos * 8 + 7] = flags;
      this.advance();
    }
    return id;
  }

  addBuffer(addr: number, len: number, writable: boolean, token: T): number {
    this.checkUsable();
    if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isInteger(len) || len < 0 || len > MAX_LEN) throw badSegment(addr, len);
    if (this.indU32 !== undefined && this.policy === 'always') {
      return writable ? this.add([], [{ addr, len }], token) : this.add([{ addr, len }], [], token);
    }
    if (this.free === 0) throw new VirtioError(VirtioErrorCode.QUEUE_FULL, 'no free descriptor', { slots: 1, free: 0 });
    const id = this.takeId(token, 1, writable ? len : 0);
    const pos = this.availPos;
    this.writeDesc(pos, addr, len, id);
    this.defer(pos, (writable ? PACKED_DESC_F_WRITE : 0) | packedAvailFlags(this.availWrap), id);
    this.advance();
    return id;
  }

  kick(): boolean {
    const count = this.pendCount;
    if (count === 0) return false;
    // Later chains first, the first chain's head last: one store makes the whole batch visible (§2.8.6).
    for (let k = count - 1; k >= 0; k--) {
      this.state[this.pendId[k]!] = PUBLISHED;
      Atomics.store(this.u16, this.d16 + this.pendPos[k]! * 8 + 7, this.pendFlags[k]!);
    }
    const moved = this.addedSlots;
    this.pendCount = 0;
    this.addedSlots = 0;
    return packedNeedNotify(Atomics.load(this.devU32, this.dev32), this.eventIdx, this.size, this.availPos, this.availWrap, moved);
  }

  hasUsed(): boolean {
    if (this.brokenBy !== undefined) return false;
    if (this.batchLast >= 0) return true;
    return isPackedUsed(Atomics.load(this.u16, this.d16 + this.usedPos * 8 + 7), this.usedWrap);
  }

  private breakWith(code: VirtioErrorCode, msg: string, details: Record<string, unknown>): never {
    const e = new VirtioError(code, `packed used descriptor at ${this.usedPos}: ${msg}`, { pos: this.usedPos, ...details });
    this.brokenBy = e;
    throw e;
  }

  popUsed(): T | undefined {
    this.checkUsable();
    if (this.batchLast >= 0) return this.nextInBatch();
    const pos = this.usedPos;
    // The used descriptor's flags are the device's publication point: acquire them, then read id and len once.
    const flags = Atomics.load(this.u16, this.d16 + pos * 8 + 7);
    if (!isPackedUsed(flags, this.usedWrap)) return undefined;
    const id = this.u16[this.d16 + pos * 8 + 6]!;
    // §2.8.4: len is reserved (ignored) in a used descriptor without WRITE.
    const len = (flags & PACKED_DESC_F_WRITE) !== 0 ? this.u32[this.d32 + pos * 4 + 2]! : 0;
    if (id >= this.size) this.breakWith(VirtioErrorCode.USED_ID_OUT_OF_RANGE, `id ${id} >= queue size ${this.size}`, { id });
    if (this.state[id] !== PUBLISHED) this.breakWith(VirtioErrorCode.USED_ID_NOT_OUTSTANDING, `id ${id} is not outstanding`, { id });
    if (len > this.writable[id]!) this.breakWith(VirtioErrorCode.USED_LEN_TOO_LARGE, `len ${len} > ${this.writable[id]} writable bytes of id ${id}`, { id, len });
    if (this.inOrder) {
      // §2.8.8: one used descriptor returns every buffer added up to and including `id`.
      this.batchLast = id;
      this.batchLen = len;
      return this.nextInBatch();
    }
    return this.release(id, len);
  }

  /** IN_ORDER: returns the oldest outstanding buffer; the skipped ones were used completely (§2.8.8). */
  private nextInBatch(): T | undefined {
    const id = this.order[this.orderHead]!;
    this.orderHead = (this.orderHead + 1) % this.size;
    this.orderCount--;
    let len = this.writable[id]!;
    if (id === this.batchLast) {
      len = this.batchLen;
      this.batchLast = -1;
    }
    return this.release(id, len);
  }

  private release(id: number, len: number): T | undefined {
    const slots = this.slots[id]!;
    this.state[id] = FREE;
    this.freeIds[this.freeTop++] = id;
    this.free += slots;
    this.usedPos += slots;
    if (this.usedPos >= this.size) {
      this.usedPos -= this.size;
      this.usedWrap = !this.usedWrap;
    }
    const token = this.tokens[id];
    this.tokens[id] = undefined;
    this.lastUsedLen = len;
    // With EVENT_IDX and callbacks on, ask for an interrupt when the next slot is used (§2.8.10).
    if (this.callbackMode === PACKED_EVENT_FLAG_DESC && this.batchLast < 0) {
      Atomics.store(this.drvU32, this.drv32, packedEventWord(PACKED_EVENT_FLAG_DESC, this.usedPos, this.usedWrap));
    }
    return token;
  }

  disableCallbacks(): void {
    if (this.callbackMode === PACKED_EVENT_FLAG_DISABLE) return;
    this.callbackMode = PACKED_EVENT_FLAG_DISABLE;
    Atomics.store(this.drvU32, this.drv32, packedEventWord(PACKED_EVENT_FLAG_DISABLE, 0, false));
  }

  enableCallbacks(): boolean {
    this.callbackMode = this.eventIdx ? PACKED_EVENT_FLAG_DESC : PACKED_EVENT_FLAG_ENABLE;
    Atomics.store(this.drvU32, this.drv32, packedEventWord(this.callbackMode, this.usedPos, this.usedWrap));
    // Re-check after the (sequentially consistent) store, or a buffer used just before the device could see our
    // request would never be signalled.
    return !this.hasUsed();
  }

  reset(): T[] {
    const tokens: T[] = [];
    for (let id = 0; id < this.size; id++) if (this.state[id] !== FREE) tokens.push(this.tokens[id] as T);
    const start = this.d16 * 2;
    this.descRegion.u8.fill(0, start, start + PACKED_DESC_SIZE * this.size);
    Atomics.store(this.drvU32, this.drv32, 0);
    Atomics.store(this.devU32, this.dev32, 0);
    this.resetState();
    return tokens;
  }
}
