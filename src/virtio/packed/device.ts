/**
 * The device side of a packed virtqueue (VIRTIO 1.2 §2.8): takes available chains in ring order, writes used
 * descriptors in completion order.
 *
 *   ring slots:   0   1   2   3   4   5   6   7          (N = 8)
 *                         ^usedPos        ^availPos
 *                         [ popped, not yet used ]        inFlight = availPos - usedPos (mod N) slots
 *
 * availPos/availWrap: the next slot to poll for an available descriptor (§2.8.2: only that slot is polled).
 * usedPos/usedWrap: the next slot to overwrite with a used descriptor. A used descriptor for a chain that occupied
 * k slots moves usedPos by k (§2.8.6 "skips forward"), whatever slots the chain itself occupied: the slots between
 * usedPos and availPos have all been read already, so overwriting them is safe. Each wrap counter starts at 1 and
 * flips when its position passes the end of the ring (§2.8.1).
 *
 * Publication: used descriptors are written with plain stores and the FIRST one's flags last with Atomics.store
 * (§2.8.9 multi-buffer rule: the driver, polling that slot, then sees the whole batch). Then the Driver Area is
 * read with Atomics.load (sequentially consistent: the barrier §2.8.10 asks for before consulting the structure).
 */
import type { DescriptorChain } from '../chain.js';
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hasFeature, VirtioFeature } from '../features.js';
import type { PhysicalMemory } from '../memory.js';
import type { DeviceQueueOptions, VirtqueueDevice } from '../virtqueue.js';
import { packedEventWord, packedNeedNotify } from './event.js';
import {
  isPackedAvail,
  PACKED_DESC_F_NEXT,
  PACKED_DESC_F_WRITE,
  PACKED_EVENT_FLAG_DESC,
  PACKED_EVENT_FLAG_DISABLE,
  PACKED_EVENT_FLAG_ENABLE,
  resolvePackedRing,
  packedUsedFlags,
  type PackedRingAddresses,
} from './layout.js';
import { walkPackedViews } from './walk.js';

/** Per-id state on the device. */
const FREE = 0;
const POPPED = 1;
const PUSHED = 2;

export class PackedVirtqueueDevice implements VirtqueueDevice {
  readonly size: number;
  private readonly memory: PhysicalMemory;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly d16: number;
  private readonly d32: number;
  private readonly drvU32: Uint32Array;
  private readonly drv32: number;
  private readonly devU32: Uint32Array;
  private readonly dev32: number;
  private readonly indirectOk: boolean;
  private readonly eventIdx: boolean;
  private readonly inOrder: boolean;
  private readonly maxSegments: number;

  private availPos = 0;
  private availWrap = true;
  private usedPos = 0;
  private usedWrap = true;
  /** Ring slots of chains popped and not yet published as used (never more than N for a correct driver). */
  private inFlight = 0;
  private readonly state: Uint8Array;
  /** Ring slots occupied by the chain of each popped id. */
  private readonly slots: Uint16Array;
  /** Device-writable bytes of each popped id (bounds pushUsed's length). */
  private readonly writable: Float64Array;
  private readonly pushedId: Uint16Array;
  private readonly pushedLen: Uint32Array;
  private pushedCount = 0;
  /** IN_ORDER: popped ids in pop order (a circular FIFO of N). */
  private readonly order: Uint16Array;
  private orderHead = 0;
  private orderCount = 0;
  /** What this device last wrote into the Device Area's flags (memory starts zeroed: ENABLE). */
  private notifyMode = PACKED_EVENT_FLAG_ENABLE;
  private brokenBy: VirtioError | undefined;

  constructor(memory: PhysicalMemory, size: number, addrs: PackedRingAddresses, options: DeviceQueueOptions = {}) {
    const v = resolvePackedRing(memory, size, addrs);
    this.size = size;
    this.memory = memory;
    this.u16 = v.descRegion.u16;
    this.u32 = v.descRegion.u32;
    this.d16 = v.d16;
    this.d32 = v.d32;
    this.drvU32 = v.drvU32;
    this.drv32 = v.drv32;
    this.devU32 = v.devU32;
    this.dev32 = v.dev32;
    const f = options.features ?? 0n;
    this.indirectOk = hasFeature(f, VirtioFeature.INDIRECT_DESC);
    this.eventIdx = hasFeature(f, VirtioFeature.EVENT_IDX);
    this.inOrder = hasFeature(f, VirtioFeature.IN_ORDER);
    const max = options.maxChainSegments ?? size;
    if (!Number.isInteger(max) || max < 1 || max > size) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `maxChainSegments ${max} must be in 1..${size}`, { maxChainSegments: max });
    }
    this.maxSegments = max;
    this.state = new Uint8Array(size);
    this.slots = new Uint16Array(size);
    this.writable = new Float64Array(size);
    this.pushedId = new Uint16Array(size);
    this.pushedLen = new Uint32Array(size);
    this.order = new Uint16Array(size);
  }

  get broken(): VirtioError | undefined {
    return this.brokenBy;
  }

  /** The next slot the device polls and its wrap counter, as desc_event_off_wrap encodes them. */
  get availOffWrap(): number {
    return this.availPos | (this.availWrap ? 0x8000 : 0);
  }

  /** The next slot the device writes a used descriptor to and its wrap counter. */
  get usedOffWrap(): number {
    return this.usedPos | (this.usedWrap ? 0x8000 : 0);
  }

  private breakWith(e: unknown): never {
    if (e instanceof VirtioError) this.brokenBy = e;
    throw e;
  }

  pop(out: DescriptorChain): boolean {
    if (this.brokenBy !== undefined) return false;
    if (out.capacity < this.maxSegments) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `chain capacity ${out.capacity} < maxChainSegments ${this.maxSegments}`, { capacity: out.capacity });
    }
    const pos = this.availPos;
    const wrap = this.availWrap;
    // §2.8.21: the head's flags are the publication point; acquire them before reading anything else.
    const flags = Atomics.load(this.u16, this.d16 + pos * 8 + 7);
    if (!isPackedAvail(flags, wrap)) return false;
    let next: number;
    try {
      next = walkPackedViews(this.memory, this.u16, this.u32, this.d16, this.d32, this.size, pos, wrap, flags, out, this.indirectOk, this.maxSegments);
    } catch (e) {
      this.breakWith(e);
    }
    const id = out.head;
    if (this.state[id] !== FREE) {
      this.breakWith(new VirtioError(VirtioErrorCode.PACKED_BAD_ID, `packed chain at descriptor ${pos}: buffer id ${id} is already outstanding`, { pos, id }));
    }
    if (this.inFlight + out.ringDescs > this.size) {
      this.breakWith(
        new VirtioError(VirtioErrorCode.AVAIL_IDX_TOO_FAR, `packed chain at descriptor ${pos}: more than ${this.size} descriptors outstanding`, { pos, inFlight: this.inFlight }),
      );
    }
    this.state[id] = POPPED;
    this.slots[id] = out.ringDescs;
    this.writable[id] = out.writableBytes;
    this.inFlight += out.ringDescs;
    this.availPos = next & 0xffff;
    this.availWrap = next > 0xffff;
    if (this.inOrder) {
      this.order[(this.orderHead + this.orderCount) % this.size] = id;
      this.orderCount++;
    }
    // With EVENT_IDX and notifications on, keep asking to be kicked for the slot we will poll next (§2.8.10).
    if (this.notifyMode === PACKED_EVENT_FLAG_DESC) {
      Atomics.store(this.devU32, this.dev32, packedEventWord(PACKED_EVENT_FLAG_DESC, this.availPos, this.availWrap));
    }
    return true;
  }

  pending(): number {
    if (this.brokenBy !== undefined) return 0;
    let pos = this.availPos;
    let wrap = this.availWrap;
    let chains = 0;
    for (let n = 0; n < this.size; n++) {
      const flags = Atomics.load(this.u16, this.d16 + pos * 8 + 7);
      if (!isPackedAvail(flags, wrap)) break;
      if ((flags & PACKED_DESC_F_NEXT) === 0) chains++;
      if (++pos === this.size) {
        pos = 0;
        wrap = !wrap;
      }
    }
    return chains;
  }

  pushUsed(id: number, writtenLen: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.size || this.state[id] !== POPPED) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `buffer id ${id} is not a popped, unreturned chain`, { id });
    }
    if (!Number.isInteger(writtenLen) || writtenLen < 0 || writtenLen > this.writable[id]!) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `written length ${writtenLen} exceeds the ${this.writable[id]} writable bytes of id ${id}`, { id, writtenLen });
    }
    if (this.inOrder) {
      // §2.8.8: with IN_ORDER buffers are used in the order they were made available.
      const expected = this.order[this.orderHead]!;
      if (expected !== id) {
        throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `IN_ORDER: id ${id} used before id ${expected}`, { id, expected });
      }
      this.orderHead = (this.orderHead + 1) % this.size;
      this.orderCount--;
    }
    this.state[id] = PUSHED;
    this.pushedId[this.pushedCount] = id;
    this.pushedLen[this.pushedCount] = writtenLen;
    this.pushedCount++;
  }

  publishUsed(): boolean {
    const count = this.pushedCount;
    if (count === 0) return false;
    const u16 = this.u16;
    const u32 = this.u32;
    const size = this.size;
    let firstIdx = -1;
    let firstFlags = 0;
    let moved = 0;
    for (let k = 0; k < count; k++) {
      let id = this.pushedId[k]!;
      let len = this.pushedLen[k]!;
      let slots = this.slots[id]!;
      this.state[id] = FREE;
      if (this.inOrder) {
        // §2.8.8: one used descriptor (the batch's last id) stands for a run of buffers; the skipped ones count as
        // used completely, so only buffers whose whole writable space was written may be folded into the next.
        while (k + 1 < count && len === this.writable[id]) {
          k++;
          id = this.pushedId[k]!;
          len = this.pushedLen[k]!;
          slots += this.slots[id]!;
          this.state[id] = FREE;
        }
      }
      const pos = this.usedPos;
      u16[this.d16 + pos * 8 + 6] = id;
      u32[this.d32 + pos * 4 + 2] = len;
      // §2.8.3: in a used descriptor WRITE says whether anything was written (len is ignored without it).
      const flags = packedUsedFlags(this.usedWrap) | (len > 0 ? PACKED_DESC_F_WRITE : 0);
      if (firstIdx < 0) {
        firstIdx = this.d16 + pos * 8 + 7;
        firstFlags = flags;
      } else {
        u16[this.d16 + pos * 8 + 7] = flags;
      }
      this.usedPos += slots;
      if (this.usedPos >= size) {
        this.usedPos -= size;
        this.usedWrap = !this.usedWrap;
      }
      moved += slots;
    }
    Atomics.store(u16, firstIdx, firstFlags);
    this.inFlight -= moved;
    this.pushedCount = 0;
    return packedNeedNotify(Atomics.load(this.drvU32, this.drv32), this.eventIdx, size, this.usedPos, this.usedWrap, moved);
  }

  disableNotifications(): void {
    if (this.notifyMode === PACKED_EVENT_FLAG_DISABLE) return;
    this.notifyMode = PACKED_EVENT_FLAG_DISABLE;
    Atomics.store(this.devU32, this.dev32, packedEventWord(PACKED_EVENT_FLAG_DISABLE, 0, false));
  }

  enableNotifications(): boolean {
    this.notifyMode = this.eventIdx ? PACKED_EVENT_FLAG_DESC : PACKED_EVENT_FLAG_ENABLE;
    Atomics.store(this.devU32, this.dev32, packedEventWord(this.notifyMode, this.availPos, this.availWrap));
    // Re-check after the (sequentially consistent) store: a chain published before the driver could see our
    // request would otherwise never be notified.
    if (this.brokenBy !== undefined) return true;
    return !isPackedAvail(Atomics.load(this.u16, this.d16 + this.availPos * 8 + 7), this.availWrap);
  }

  reset(): void {
    this.availPos = 0;
    this.availWrap = true;
    this.usedPos = 0;
    this.usedWrap = true;
    this.inFlight = 0;
    this.state.fill(FREE);
    this.pushedCount = 0;
    this.orderHead = 0;
    this.orderCount = 0;
    this.notifyMode = PACKED_EVENT_FLAG_ENABLE;
    this.brokenBy = undefined;
  }
}
