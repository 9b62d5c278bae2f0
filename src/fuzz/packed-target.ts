/**
 * Fuzz target: the device side of a packed virtqueue (VIRTIO 1.2 §2.8) against a hostile driver.
 *
 * Same plan as split-target.ts: a well-behaved driver model writes chains (direct, or one indirect descriptor) at
 * its ring position with its wrap counter, head flags last (§2.8.21), and a mutation step breaks the ring in one
 * of PACKED_MUTATIONS. The oracles: only typed errors; no write outside the region, and inside it only to the
 * len/id/flags of descriptors (used descriptors) and the device event area; segments inside the region; no id
 * returned twice or never received; well-formed rings pop exactly as written; a broken queue pops nothing; after a
 * reset the queue works again. The device calls and the step loop are queue-case.ts; this file is the packed
 * driver's side and the used-descriptor check of publish.
 */
import { DescriptorChain, PackedVirtqueueDevice, VirtioFeature, bit } from '../virtio/index.js';
import {
  PACKED_DESC_F_INDIRECT,
  PACKED_DESC_F_NEXT,
  PACKED_DESC_F_WRITE,
  packedAvailFlags,
  packedUsedFlags,
  isPackedUsed,
} from '../virtio/packed/layout.js';
import type { Range } from './arena.js';
import type { Prng } from './prng.js';
import { bump } from './report.js';
import { BUF_OFF, IND_ENTRIES, IND_TABLES, QueueCase, REGION_SIZE, arenaCache, queueTarget, type OfferModel } from './queue-case.js';
import { finding, guarded, type FuzzContext, type FuzzTarget } from './target.js';

export const PACKED_MUTATIONS = [
  'desc-field',
  'bad-flags-after-next',
  'bad-id',
  'duplicate-id',
  'long-chain',
  'indirect-flag',
  'indirect-with-next',
  'nested-indirect',
  'indirect-len',
  'indirect-entry-field',
  'huge-len',
  'addr-outside',
  'readable-after-writable',
  'overrun-in-flight',
  'flip-avail',
  'random-word',
  'driver-event',
] as const;

const RING_BYTES = 0x1000 - 16;
const BASES = [0x2000_0000, 0x1_0000_0000 - BUF_OFF, 0x1f_ffff_ffff_0000];
/** Packed sizes need not be powers of two. */
const SIZES = [1, 2, 3, 5, 8, 8, 16, 16, 31, 64, 200];

/** A chain offered: `id` is its buffer id. */
interface Offer extends OfferModel {
  slots: number;
  /** Ring slot of the head. */
  pos: number;
}

const arenaAt = arenaCache();

class PackedCase extends QueueCase<Offer> {
  readonly desc: number;
  readonly drvEvent: number;
  readonly devEvent: number;
  readonly device: PackedVirtqueueDevice;
  readonly chain: DescriptorChain;
  /** Where the device may write: len/id/flags of every descriptor, and the device event area. */
  readonly usedAreas: Range[];
  readonly eventArea: Range[];
  protected readonly popWrites: readonly Range[];
  protected readonly pushWrites: readonly Range[] = [];
  // --- driver model ---
  pos = 0;
  wrap = true;
  freeIds: number[] = [];
  inFlightSlots = 0;

  constructor(rng: Prng, ctx: FuzzContext) {
    super(rng, ctx, { sizes: SIZES, bases: BASES, features: bit(VirtioFeature.RING_PACKED), arenaAt, naming: { word: 'id', label: 'buffer id' }, fullLenChance: 0.4 });
    this.desc = this.arena.base;
    this.drvEvent = this.arena.base + RING_BYTES;
    this.devEvent = this.drvEvent + 4;
    if (16 * this.size > RING_BYTES) throw new Error('packed fuzz ring does not fit');
    this.usedAreas = [];
    for (let i = 0; i < this.size; i++) this.usedAreas.push({ start: this.desc + 16 * i + 8, end: this.desc + 16 * i + 16 });
    this.eventArea = [{ start: this.devEvent, end: this.devEvent + 4 }];
    this.usedAreas.push(...this.eventArea);
    this.popWrites = this.eventArea;
    this.device = new PackedVirtqueueDevice(this.arena.memory, this.size, { desc: this.desc, driverEvent: this.drvEvent, deviceEvent: this.devEvent }, { features: this.features, maxChainSegments: this.maxSegs });
    this.chain = new DescriptorChain(this.maxSegs);
    this.resetDriver();
  }

  protected resetRing(): void {
    this.pos = 0;
    this.wrap = true;
    this.freeIds = Array.from({ length: this.size }, (_, i) => i);
    this.inFlightSlots = 0;
  }

  protected releaseSlots(o: Offer): void {
    this.freeIds.push(o.id);
    this.inFlightSlots -= o.slots;
  }

  protected override misuseSkips(id: number): boolean {
    return this.held.has(id) || this.pushed.some((p) => p.id === id);
  }

  private slotAt(p: number): number {
    return this.desc + 16 * p;
  }

  /**
   * Writes a well-formed chain at the driver's position. `hook` (a mutation) runs after the body and before the
   * head's flags are published, so it can break the chain as the device will first see it.
   */
  offer(hook?: (o: Offer, slotsAt: number[], wraps: boolean[]) => void): Offer | undefined {
    if (this.freeIds.length === 0) return undefined;
    const free = this.size - this.inFlightSlots;
    if (free === 0) return undefined;
    const useInd = this.indirect && this.freeTables.length > 0 && this.rng.chance(0.35);
    const segs = this.randomSegs(useInd ? Math.min(this.maxSegs, IND_ENTRIES) : Math.min(this.maxSegs, free));
    const id = this.take(this.freeIds);
    const m = this.mem;
    const slotsAt: number[] = [];
    const wraps: boolean[] = [];
    let p = this.pos;
    let w = this.wrap;
    const nslots = useInd ? 1 : segs.length;
    for (let k = 0; k < nslots; k++) {
      slotsAt.push(p);
      wraps.push(w);
      if (++p === this.size) {
        p = 0;
        w = !w;
      }
    }
    let table = -1;
    const flagsAt: number[] = [];
    if (useInd) {
      table = this.take(this.freeTables);
      const tbl = this.tableAt(table);
      segs.forEach((s, k) => {
        m.write64(tbl + 16 * k, s.addr);
        m.write32(tbl + 16 * k + 8, s.len);
        m.write16(tbl + 16 * k + 12, 0);
        m.write16(tbl + 16 * k + 14, s.write ? PACKED_DESC_F_WRITE : 0);
      });
      const at = this.slotAt(slotsAt[0]!);
      m.write64(at, tbl);
      m.write32(at + 8, 16 * segs.length);
      m.write16(at + 12, id);
      flagsAt.push(packedAvailFlags(wraps[0]!) | PACKED_DESC_F_INDIRECT);
    } else {
      segs.forEach((s, k) => {
        const at = this.slotAt(slotsAt[k]!);
        m.write64(at, s.addr);
        m.write32(at + 8, s.len);
        m.write16(at + 12, id);
        flagsAt.push(packedAvailFlags(wraps[k]!) | (k + 1 < segs.length ? PACKED_DESC_F_NEXT : 0) | (s.write ? PACKED_DESC_F_WRITE : 0));
      });
    }
    // Body flags first (plain stores), then the head's flags with Atomics.store: the publication point.
    for (let k = 1; k < flagsAt.length; k++) m.write16(this.slotAt(slotsAt[k]!) + 14, flagsAt[k]!);
    const o: Offer = { id, slots: nslots, table, segs, pos: slotsAt[0]! };
    if (hook !== undefined) hook(o, slotsAt, wraps);
    m.atomicStore16(this.slotAt(slotsAt[0]!) + 14, hook !== undefined && this.pendingHeadFlags !== undefined ? this.pendingHeadFlags : flagsAt[0]!);
    this.pendingHeadFlags = undefined;
    this.pos = p;
    this.wrap = w;
    this.inFlightSlots += nslots;
    return this.record(o);
  }

  /** A mutation hook may replace the head flags the offer publishes. */
  pendingHeadFlags: number | undefined = undefined;

  private someAddrOutside(): { lo: number; hi: number; len: number } {
    const a = this.arena;
    const rng = this.rng;
    const split = (x: number) => ({ lo: x >>> 0, hi: Math.floor(x / 0x1_0000_0000) >>> 0 });
    switch (rng.int(5)) {
      case 0:
        return { ...split(a.end - rng.range(1, 16)), len: rng.range(17, 4096) };
      case 1:
        return { ...split(a.base - 8 * rng.range(1, 64)), len: rng.range(1, 64) };
      case 2:
        return { ...split(a.end), len: rng.range(1, 64) };
      case 3:
        return { lo: rng.u32(), hi: rng.chance(0.5) ? 0xffff_ffff : rng.range(0x20_0000, 0xffff_ffff), len: rng.range(1, 64) };
      default:
        return { ...split(a.base), len: a.size + rng.range(1, 0xffff) };
    }
  }

  mutate(): void {
    const rng = this.rng;
    const kind = rng.pick(PACKED_MUTATIONS);
    const m = this.mem;
    const N = this.size;
    switch (kind) {
      case 'desc-field': {
        const at = this.slotAt(rng.int(N));
        const f = rng.int(4);
        if (f === 0) m.write32(at + 4 * rng.int(2), rng.edgyU32());
        else if (f === 1) m.write32(at + 8, rng.edgyU32());
        else if (f === 2) m.write16(at + 12, rng.chance(0.5) ? rng.int(N + 2) : rng.u16());
        else m.write16(at + 14, rng.u16());
        break;
      }
      case 'bad-flags-after-next': {
        const o = this.offer((o, slots, wraps) => {
          const k = slots.length > 1 ? rng.range(1, slots.length - 1) : -1;
          if (k < 0) {
            // Single-slot chain: claim NEXT on the head and leave the next slot as it is (stale lap or used).
            this.pendingHeadFlags = packedAvailFlags(wraps[0]!) | PACKED_DESC_F_NEXT;
            return;
          }
          const at = this.slotAt(slots[k]!) + 14;
          m.write16(at, (m.read16(at) & 0x7f7f) | packedUsedFlags(wraps[k]!));
        });
        if (o === undefined) return this.randomWord();
        break;
      }
      case 'bad-id':
      case 'duplicate-id': {
        const dupe = kind === 'duplicate-id' && this.held.size > 0 ? rng.pick([...this.held.keys()]) : rng.range(N, 0xffff);
        const o = this.offer((o, slots) => {
          const last = o.table >= 0 ? slots[0]! : slots[slots.length - 1]!;
          m.write16(this.slotAt(last) + 12, dupe);
        });
        if (o === undefined) return this.randomWord();
        break;
      }
      case 'long-chain': {
        // Every slot from the driver's position on, for a whole lap and more, says "available, NEXT".
        let p = this.pos;
        let w = this.wrap;
        const count = N + rng.range(0, 2);
        const start = p;
        const startWrap = w;
        for (let k = 0; k < count; k++) {
          const at = this.slotAt(p);
          m.write64(at, this.arena.base + BUF_OFF + 16 * (k % 64));
          m.write32(at + 8, 16);
          m.write16(at + 12, rng.int(N));
          if (k > 0) m.write16(at + 14, packedAvailFlags(w) | PACKED_DESC_F_NEXT);
          if (++p === N) {
            p = 0;
            w = !w;
          }
        }
        m.atomicStore16(this.slotAt(start) + 14, packedAvailFlags(startWrap) | PACKED_DESC_F_NEXT);
        break;
      }
      case 'indirect-flag':
      case 'indirect-with-next': {
        const o = this.offer((o, slots, wraps) => {
          if (kind === 'indirect-flag') {
            const k = rng.int(slots.length);
            const at = this.slotAt(slots[k]!) + 14;
            if (k === 0) this.pendingHeadFlags = packedAvailFlags(wraps[0]!) | PACKED_DESC_F_INDIRECT | (slots.length > 1 ? PACKED_DESC_F_NEXT : 0);
            else m.write16(at, m.read16(at) | PACKED_DESC_F_INDIRECT);
          } else {
            this.pendingHeadFlags = packedAvailFlags(wraps[0]!) | PACKED_DESC_F_INDIRECT | PACKED_DESC_F_NEXT;
          }
        });
        if (o === undefined) return this.randomWord();
        break;
      }
      case 'nested-indirect':
      case 'indirect-len': {
        const o = this.lastOffer;
        if (o === undefined || o.table < 0) return this.randomWord();
        if (kind === 'nested-indirect') {
          const at = this.tableAt(o.table) + 16 * rng.int(o.segs.length) + 14;
          m.write16(at, m.read16(at) | PACKED_DESC_F_INDIRECT);
        } else {
          m.write32(this.slotAt(o.pos) + 8, rng.pick([0, 1, 8, 15, 17, 16 * (this.maxSegs + 1), 0xffff_fff0, rng.u32()]));
        }
        break;
      }
      case 'indirect-entry-field': {
        const at = this.tableAt(rng.int(IND_TABLES)) + 16 * rng.int(IND_ENTRIES);
        m.write32(at + 4 * rng.int(4), rng.edgyU32());
        break;
      }
      case 'huge-len':
      case 'addr-outside':
      case 'readable-after-writable': {
        const o = this.lastOffer;
        if (o === undefined) return this.randomWord();
        const entries = o.table >= 0 ? o.segs.map((_, k) => this.tableAt(o.table) + 16 * k) : o.segs.map((_, k) => this.slotAt((o.pos + k) % N));
        if (kind === 'huge-len') m.write32(rng.pick(entries) + 8, rng.chance(0.5) ? 0xffff_ffff : rng.range(REGION_SIZE, 0xffff_ffff));
        else if (kind === 'addr-outside') {
          const bad = this.someAddrOutside();
          const at = rng.pick(entries);
          m.write32(at, bad.lo);
          m.write32(at + 4, bad.hi);
          m.write32(at + 8, bad.len);
        } else {
          if (entries.length < 2) return this.randomWord();
          m.write16(entries[0]! + 14, m.read16(entries[0]! + 14) | PACKED_DESC_F_WRITE);
          const last = entries[entries.length - 1]! + 14;
          m.write16(last, m.read16(last) & ~PACKED_DESC_F_WRITE);
        }
        break;
      }
      case 'overrun-in-flight': {
        // Publish more slots than the ring has free: the driver overwrites slots the device has not returned.
        this.inFlightSlots = 0;
        const o = this.offer();
        if (o === undefined) return this.randomWord();
        break;
      }
      case 'flip-avail': {
        const at = this.slotAt(rng.int(N)) + 14;
        m.atomicStore16(at, m.read16(at) ^ rng.pick([0x80, 0x8000, 0x8080, PACKED_DESC_F_NEXT, PACKED_DESC_F_INDIRECT]));
        break;
      }
      case 'random-word':
        return this.randomWord();
      case 'driver-event':
        // Legal at any time: the driver's own event suppression word.
        m.atomicStore32(this.drvEvent, rng.edgyU32());
        bump(this.ctx.report.mutations, kind);
        return;
    }
    this.wreck(kind);
  }

  private randomWord(): void {
    this.mem.write32(this.arena.base + 4 * this.rng.int(REGION_SIZE / 4), this.rng.edgyU32());
    this.wreck('random-word');
  }

  publish(): void {
    const d = this.device;
    const before = new Uint16Array(this.size);
    for (let i = 0; i < this.size; i++) before[i] = this.mem.read16(this.slotAt(i) + 14);
    const r = guarded(this.ctx, this.arena, 'publishUsed', this.usedAreas, () => d.publishUsed());
    if (!r.ok) {
      finding(this.ctx, 'violation', `publishUsed threw ${r.error.message}`);
      return;
    }
    // Every descriptor the device turned used must carry an id it pushed (never a buffer it did not receive).
    const ids = new Set(this.pushed.map((p) => p.id));
    for (let i = 0; i < this.size; i++) {
      const f = this.mem.read16(this.slotAt(i) + 14);
      if (f === before[i]) continue;
      const id = this.mem.read16(this.slotAt(i) + 12);
      if (!ids.has(id)) finding(this.ctx, 'violation', `used descriptor at slot ${i} returns id ${id}, which the device did not push`);
      if (!isPackedUsed(f, true) && !isPackedUsed(f, false)) finding(this.ctx, 'violation', `slot ${i} flags 0x${f.toString(16)} are not a used marking`);
    }
    for (const p of this.pushed) this.driverReclaim(p.id);
    this.pushed = [];
  }
}

export const packedTarget: FuzzTarget = queueTarget('packed', (rng, ctx) => new PackedCase(rng, ctx));
