/**
 * Fuzz target: the device side of a split virtqueue (VIRTIO 1.2 §2.7) against a hostile driver.
 *
 * Each iteration picks a queue (size, INDIRECT_DESC / EVENT_IDX / IN_ORDER, maxChainSegments, a region base that
 * may straddle the 4 GiB line so high address halves matter) and interleaves, at random:
 *   offer     the driver writes a well-formed chain (direct or indirect) and publishes it
 *   mutate    the driver breaks the ring: one of SPLIT_MUTATIONS (loops, out-of-range indices and addresses, huge
 *             lengths, avail.idx jumps, rewriting a published descriptor, random words anywhere, ...)
 *   pop / complete / publish / misuse / notify   device calls, each checked by the oracles
 *
 * Oracles (besides those of `guarded`): a returned chain's segments lie inside the shared region; the head is
 * one the device does not hold; while no mutation happened since the last reset ("clean"), every offered chain pops
 * exactly as written and no error is raised (no false positives); a thrown error is the queue's `broken` and a
 * broken queue pops nothing; used entries published are exactly the (id, len) pairs pushed; pushUsed refuses ids the
 * device does not hold. After an error the device owner resets (DEVICE_NEEDS_RESET -> driver reset, rings zeroed)
 * and the queue must work again.
 */
import {
  DescriptorChain,
  SplitVirtqueueDevice,
  VirtioFeature,
  bit,
  splitRingSizes,
  type VirtioError,
} from '../virtio/index.js';
import { VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE } from '../virtio/split/layout.js';
import { FuzzArena, type Range } from './arena.js';
import type { Prng } from './prng.js';
import { bump } from './report.js';
import { checkCleanPop, checkPoppedChain, finding, guarded, type ChainNaming, type FuzzContext, type FuzzTarget, type SegModel } from './target.js';

const NAMING: ChainNaming = { word: 'head', label: 'chain head' };

export const SPLIT_MUTATIONS = [
  'desc-field',
  'avail-idx-jump',
  'avail-idx-back',
  'avail-entry',
  'head-out-of-range',
  'loop',
  'next-out-of-range',
  'huge-len',
  'addr-outside',
  'readable-after-writable',
  'indirect-flag',
  'indirect-with-next',
  'nested-indirect',
  'indirect-len',
  'indirect-loop',
  'indirect-next-out-of-range',
  'indirect-entry-field',
  'republish-held',
  'long-chain',
  'random-word',
  'event-fields',
] as const;

/** Region layout (offsets from the region base): ring, indirect tables, buffers. */
const REGION_SIZE = 0x4000;
const IND_OFF = 0x1000;
const IND_TABLES = 16;
const IND_ENTRIES = 16;
const BUF_OFF = 0x2000;
const BUF_SIZE = 0x2000;
/** Region bases: low DDR, straddling 4 GiB, high (large high half). */
const BASES = [0x1000_0000, 0x1_0000_0000 - BUF_OFF, 0x1f_ffff_ffff_0000];
const SIZES = [1, 2, 4, 8, 8, 16, 16, 32, 64, 128];

interface Offer {
  head: number;
  descs: number[];
  table: number;
  segs: SegModel[];
}

const arenas = new Map<number, FuzzArena>();
function arenaAt(base: number): FuzzArena {
  let a = arenas.get(base);
  if (a === undefined) {
    a = new FuzzArena(base, REGION_SIZE);
    arenas.set(base, a);
  }
  return a;
}

class SplitCase {
  readonly size: number;
  readonly features: bigint;
  readonly indirect: boolean;
  readonly inOrder: boolean;
  readonly maxSegs: number;
  readonly arena: FuzzArena;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  readonly usedRange: Range;
  readonly device: SplitVirtqueueDevice;
  readonly chain: DescriptorChain;
  // --- the hostile driver's model ---
  availIdx = 0;
  freeDescs: number[] = [];
  freeTables: number[] = [];
  /** Published chains by head (driver's view), and the ones not popped yet in order (clean mode). */
  readonly offered = new Map<number, Offer>();
  expected: Offer[] = [];
  /** Offers written but not yet published (their avail.idx store is still to come). */
  unpublished = 0;
  lastOffer: Offer | undefined;
  clean = true;
  // --- the device owner's model ---
  readonly held = new Map<number, { writable: number; segs: SegModel[] }>();
  heldOrder: number[] = [];
  pushed: { id: number; len: number }[] = [];
  /** The hostile driver wrote into the used ring since the last publish (used entries then prove nothing). */
  usedScribbled = false;

  constructor(
    readonly rng: Prng,
    readonly ctx: FuzzContext,
  ) {
    this.size = rng.pick(SIZES);
    let f = 0n;
    if (rng.chance(0.6)) f |= bit(VirtioFeature.INDIRECT_DESC);
    if (rng.chance(0.5)) f |= bit(VirtioFeature.EVENT_IDX);
    if (rng.chance(0.3)) f |= bit(VirtioFeature.IN_ORDER);
    this.features = f;
    this.indirect = (f & bit(VirtioFeature.INDIRECT_DESC)) !== 0n;
    this.inOrder = (f & bit(VirtioFeature.IN_ORDER)) !== 0n;
    this.maxSegs = rng.chance(0.7) ? this.size : rng.range(1, this.size);
    this.arena = arenaAt(rng.pick(BASES));
    this.arena.zero();
    const { descBytes, availBytes, usedBytes } = splitRingSizes(this.size);
    this.desc = this.arena.base;
    this.avail = this.desc + descBytes;
    this.used = Math.ceil((this.avail + availBytes) / 4) * 4;
    this.usedRange = { start: this.used, end: this.used + usedBytes };
    this.device = new SplitVirtqueueDevice(this.arena.memory, this.size, { desc: this.desc, avail: this.avail, used: this.used }, { features: f, maxChainSegments: this.maxSegs });
    this.chain = this.device.newChain();
    this.resetDriver();
  }

  private resetDriver(): void {
    this.availIdx = 0;
    this.freeDescs = Array.from({ length: this.size }, (_, i) => i);
    this.freeTables = Array.from({ length: IND_TABLES }, (_, i) => i);
    this.offered.clear();
    this.expected = [];
    this.unpublished = 0;
    this.lastOffer = undefined;
    this.clean = true;
    this.held.clear();
    this.heldOrder = [];
    this.pushed = [];
    this.usedScribbled = false;
  }

  get mem() {
    return this.arena.memory;
  }

  private writeDesc(at: number, addr: number, len: number, flags: number, next: number): void {
    this.mem.write64(at, addr);
    this.mem.write32(at + 8, len);
    this.mem.write16(at + 12, flags);
    this.mem.write16(at + 14, next);
  }

  private descAt(i: number): number {
    return this.desc + 16 * i;
  }

  private tableAt(t: number): number {
    return this.arena.base + IND_OFF + t * IND_ENTRIES * 16;
  }

  private randomSegs(max: number): SegModel[] {
    const n = this.rng.range(1, max);
    const r = this.rng.int(n + 1);
    const segs: SegModel[] = [];
    for (let k = 0; k < n; k++) {
      const len = this.rng.range(1, 256);
      const off = this.rng.int(BUF_SIZE - len + 1);
      segs.push({ addr: this.arena.base + BUF_OFF + off, len, write: k >= r });
    }
    return segs;
  }

  private take<T>(list: T[]): T {
    const k = this.rng.int(list.length);
    const v = list[k]!;
    list[k] = list[list.length - 1]!;
    list.pop();
    return v;
  }

  /** Writes a well-formed chain and its avail entry; publishes avail.idx unless told not to. */
  offer(publish = true): Offer | undefined {
    if (this.freeDescs.length === 0) return undefined;
    const useInd = this.indirect && this.freeTables.length > 0 && this.rng.chance(0.35);
    let o: Offer;
    if (useInd) {
      const segs = this.randomSegs(Math.min(this.maxSegs, IND_ENTRIES));
      const head = this.take(this.freeDescs);
      const t = this.take(this.freeTables);
      const tbl = this.tableAt(t);
      segs.forEach((s, k) => {
        const more = k + 1 < segs.length;
        this.writeDesc(tbl + 16 * k, s.addr, s.len, (more ? VRING_DESC_F_NEXT : 0) | (s.write ? VRING_DESC_F_WRITE : 0), more ? k + 1 : 0);
      });
      this.writeDesc(this.descAt(head), tbl, 16 * segs.length, VRING_DESC_F_INDIRECT, 0);
      o = { head, descs: [head], table: t, segs };
    } else {
      const segs = this.randomSegs(Math.min(this.maxSegs, this.freeDescs.length));
      const descs = segs.map(() => this.take(this.freeDescs));
      segs.forEach((s, k) => {
        const more = k + 1 < segs.length;
        this.writeDesc(this.descAt(descs[k]!), s.addr, s.len, (more ? VRING_DESC_F_NEXT : 0) | (s.write ? VRING_DESC_F_WRITE : 0), more ? descs[k + 1]! : 0);
      });
      o = { head: descs[0]!, descs, table: -1, segs };
    }
    this.mem.write16(this.avail + 4 + 2 * (this.availIdx & (this.size - 1)), o.head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    if (publish) {
      this.mem.atomicStore16(this.avail + 2, this.availIdx);
      this.unpublished = 0;
    } else this.unpublished++;
    this.offered.set(o.head, o);
    this.expected.push(o);
    this.lastOffer = o;
    return o;
  }

  /** The driver sees a used entry for `id`: its descriptors and table are free again. */
  private driverReclaim(id: number): void {
    const o = this.offered.get(id);
    if (o === undefined) return;
    this.offered.delete(id);
    this.freeDescs.push(...o.descs);
    if (o.table >= 0) this.freeTables.push(o.table);
  }

  private wreck(kind: string): void {
    this.clean = false;
    bump(this.ctx.report.mutations, kind);
  }

  private someAddrOutside(): { addr: number; len: number } {
    const a = this.arena;
    switch (this.rng.int(6)) {
      case 0:
        return { addr: a.end - this.rng.range(1, 16), len: this.rng.range(17, 4096) };
      case 1:
        return { addr: a.base - 8 * this.rng.range(1, 64), len: this.rng.range(1, 64) };
      case 2:
        return { addr: a.end, len: this.rng.range(1, 64) };
      case 3:
        return { addr: 0, len: this.rng.range(1, 64) };
      case 4:
        return { addr: a.base, len: a.size + this.rng.range(1, 0xffff) };
      default:
        return { addr: -1, len: this.rng.range(1, 64) };
    }
  }

  /** Writes an address that may be -1 ("2^64 - 1") or have any high half. */
  private writeAddr(at: number, addr: number): void {
    if (addr < 0) {
      this.mem.write32(at, this.rng.u32());
      this.mem.write32(at + 4, this.rng.chance(0.5) ? 0xffff_ffff : this.rng.range(0x20_0000, 0xffff_ffff));
    } else this.mem.write64(at, addr);
  }

  mutate(): void {
    const rng = this.rng;
    const kind = rng.pick(SPLIT_MUTATIONS);
    const o = this.lastOffer;
    const N = this.size;
    const m = this.mem;
    const inChain = (x: Offer) => this.descAt(x.descs[rng.int(x.descs.length)]!);
    switch (kind) {
      case 'desc-field': {
        const at = this.descAt(rng.int(N));
        const f = rng.int(4);
        if (f === 0) m.write32(at + 4 * rng.int(2), rng.edgyU32());
        else if (f === 1) m.write32(at + 8, rng.edgyU32());
        else if (f === 2) m.write16(at + 12, rng.chance(0.5) ? rng.int(8) : rng.u16());
        else m.write16(at + 14, rng.chance(0.5) ? rng.int(N + 2) : rng.u16());
        break;
      }
      case 'avail-idx-jump':
        m.atomicStore16(this.avail + 2, (m.read16(this.avail + 2) + rng.range(N + 1, 0xffff)) & 0xffff);
        break;
      case 'avail-idx-back':
        m.atomicStore16(this.avail + 2, (m.read16(this.avail + 2) - rng.range(1, 8)) & 0xffff);
        break;
      case 'avail-entry':
        m.write16(this.avail + 4 + 2 * rng.int(N), rng.chance(0.5) ? rng.int(N) : rng.u16());
        break;
      case 'head-out-of-range':
        this.offer(false);
        m.write16(this.avail + 4 + 2 * ((this.availIdx - 1) & (N - 1)), rng.range(N, 0xffff));
        m.atomicStore16(this.avail + 2, this.availIdx);
        break;
      case 'loop': {
        if (o === undefined || o.table >= 0) return this.mutateRandomWord();
        const last = this.descAt(o.descs[o.descs.length - 1]!);
        m.write16(at16(last), m.read16(at16(last)) | VRING_DESC_F_NEXT);
        m.write16(last + 14, o.descs[rng.int(o.descs.length)]!);
        break;
      }
      case 'next-out-of-range': {
        if (o === undefined) return this.mutateRandomWord();
        const at = inChain(o);
        m.write16(at + 12, (m.read16(at + 12) | VRING_DESC_F_NEXT) & ~VRING_DESC_F_INDIRECT);
        m.write16(at + 14, rng.range(N, 0xffff));
        break;
      }
      case 'huge-len': {
        if (o === undefined) return this.mutateRandomWord();
        m.write32(o.table >= 0 ? this.tableAt(o.table) + 16 * rng.int(o.segs.length) + 8 : inChain(o) + 8, rng.chance(0.5) ? 0xffff_ffff : rng.range(REGION_SIZE, 0xffff_ffff));
        break;
      }
      case 'addr-outside': {
        if (o === undefined) return this.mutateRandomWord();
        const bad = this.someAddrOutside();
        const at = o.table >= 0 && rng.chance(0.7) ? this.tableAt(o.table) + 16 * rng.int(o.segs.length) : inChain(o);
        this.writeAddr(at, bad.addr);
        m.write32(at + 8, bad.len);
        break;
      }
      case 'readable-after-writable': {
        if (o === undefined || o.segs.length < 2) return this.mutateRandomWord();
        const first = o.table >= 0 ? this.tableAt(o.table) : this.descAt(o.descs[0]!);
        const last = o.table >= 0 ? this.tableAt(o.table) + 16 * (o.segs.length - 1) : this.descAt(o.descs[o.descs.length - 1]!);
        m.write16(first + 12, m.read16(first + 12) | VRING_DESC_F_WRITE);
        m.write16(last + 12, m.read16(last + 12) & ~VRING_DESC_F_WRITE);
        break;
      }
      case 'indirect-flag': {
        if (o === undefined) return this.mutateRandomWord();
        const at = inChain(o);
        m.write16(at + 12, m.read16(at + 12) | VRING_DESC_F_INDIRECT);
        if (rng.chance(0.5)) m.write64(at, this.tableAt(rng.int(IND_TABLES)));
        break;
      }
      case 'indirect-with-next': {
        if (o === undefined || o.table < 0) return this.mutateRandomWord();
        const at = this.descAt(o.head);
        m.write16(at + 12, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT);
        m.write16(at + 14, rng.int(N));
        break;
      }
      case 'nested-indirect': {
        if (o === undefined || o.table < 0) return this.mutateRandomWord();
        const at = this.tableAt(o.table) + 16 * rng.int(o.segs.length);
        m.write16(at + 12, m.read16(at + 12) | VRING_DESC_F_INDIRECT);
        if (rng.chance(0.5)) m.write64(at, this.tableAt(o.table));
        break;
      }
      case 'indirect-len': {
        if (o === undefined || o.table < 0) return this.mutateRandomWord();
        m.write32(this.descAt(o.head) + 8, rng.pick([0, 1, 8, 15, 17, 16 * (this.maxSegs + 1), 0xffff_fff0, rng.u32()]));
        break;
      }
      case 'indirect-loop': {
        if (o === undefined || o.table < 0) return this.mutateRandomWord();
        const last = this.tableAt(o.table) + 16 * (o.segs.length - 1);
        m.write16(last + 12, m.read16(last + 12) | VRING_DESC_F_NEXT);
        m.write16(last + 14, rng.int(o.segs.length));
        break;
      }
      case 'indirect-next-out-of-range': {
        if (o === undefined || o.table < 0) return this.mutateRandomWord();
        const at = this.tableAt(o.table) + 16 * rng.int(o.segs.length);
        m.write16(at + 12, m.read16(at + 12) | VRING_DESC_F_NEXT);
        m.write16(at + 14, rng.range(o.segs.length, 0xffff));
        break;
      }
      case 'indirect-entry-field': {
        const at = this.tableAt(rng.int(IND_TABLES)) + 16 * rng.int(IND_ENTRIES);
        m.write32(at + 4 * rng.int(4), rng.edgyU32());
        break;
      }
      case 'republish-held': {
        if (this.held.size === 0) return this.mutateRandomWord();
        const h = [...this.held.keys()][rng.int(this.held.size)]!;
        m.write16(this.avail + 4 + 2 * (this.availIdx & (N - 1)), h);
        this.availIdx = (this.availIdx + 1) & 0xffff;
        m.atomicStore16(this.avail + 2, this.availIdx);
        break;
      }
      case 'long-chain': {
        // Every descriptor links to the next one and the last back to the first: N + 1 or more links.
        const start = rng.int(N);
        for (let k = 0; k < N; k++) {
          const i = (start + k) % N;
          this.writeDesc(this.descAt(i), this.arena.base + BUF_OFF + 16 * i, 16, VRING_DESC_F_NEXT | (rng.chance(0.1) ? VRING_DESC_F_WRITE : 0), (i + 1) % N);
        }
        m.write16(this.avail + 4 + 2 * (this.availIdx & (N - 1)), start);
        this.availIdx = (this.availIdx + 1) & 0xffff;
        m.atomicStore16(this.avail + 2, this.availIdx);
        break;
      }
      case 'random-word':
        return this.mutateRandomWord();
      case 'event-fields':
        // Not a violation at all: the driver may write its flags and used_event at any time.
        m.write16(this.avail, rng.u16());
        m.write16(this.avail + 4 + 2 * N, rng.u16());
        bump(this.ctx.report.mutations, kind);
        return;
    }
    this.wreck(kind);
  }

  private mutateRandomWord(): void {
    const off = 4 * this.rng.int(REGION_SIZE / 4);
    const at = this.arena.base + off;
    // The used ring is non-secure memory too: the driver may scribble over entries pushed but not yet published.
    if (at >= this.usedRange.start && at < this.usedRange.end) this.usedScribbled = true;
    this.mem.write32(at, this.rng.edgyU32());
    this.wreck('random-word');
  }

  breakAndReset(err: Error): void {
    const ctx = this.ctx;
    const d = this.device;
    if (d.broken !== err) finding(ctx, 'violation', `pop threw ${err.message} but the queue's broken is ${d.broken?.code ?? 'unset'}`);
    if (this.clean) finding(ctx, 'violation', `a well-formed ring was rejected: ${err.message}`);
    const again = guarded(ctx, this.arena, 'pop after error', [], () => d.pop(this.chain));
    if (!again.ok || again.value) finding(ctx, 'violation', 'a broken queue popped again before reset');
    // The device owner sets DEVICE_NEEDS_RESET; the driver resets the device and sets the queue up again.
    this.arena.zero();
    d.reset();
    this.resetDriver();
    ctx.report.resets++;
    // The service must answer again: a well-formed chain pops exactly as written.
    const o = this.offer();
    if (o !== undefined) this.pop();
  }

  pop(): void {
    const ctx = this.ctx;
    const d = this.device;
    const c = this.chain;
    ctx.report.pops++;
    const wasBroken = d.broken !== undefined;
    const r = guarded(ctx, this.arena, 'pop', [this.usedRange], () => d.pop(c));
    if (!r.ok) {
      if (wasBroken) finding(ctx, 'violation', 'pop on a broken queue threw instead of returning false');
      this.breakAndReset(r.error);
      return;
    }
    if (!r.value) {
      if (this.clean && this.expected.length > this.unpublished) finding(ctx, 'violation', `a published well-formed chain (head ${this.expected[0]!.head}) was not popped`);
      return;
    }
    ctx.report.chains++;
    if (wasBroken) finding(ctx, 'violation', 'a broken queue returned a chain');
    const segs = checkPoppedChain(ctx, this.arena, c, { maxSegs: this.maxSegs, size: this.size, held: this.held, naming: NAMING });
    if (this.clean) {
      const e = this.expected.shift();
      checkCleanPop(ctx, c, segs, e === undefined ? undefined : { id: e.head, segs: e.segs }, NAMING);
    }
    this.held.set(c.head, { writable: c.writableBytes, segs });
    this.heldOrder.push(c.head);
  }

  complete(): void {
    if (this.heldOrder.length === 0) return;
    const k = this.inOrder ? 0 : this.rng.int(this.heldOrder.length);
    const id = this.heldOrder[k]!;
    const h = this.held.get(id)!;
    const len = this.rng.chance(0.3) ? h.writable : this.rng.int(h.writable + 1);
    // The device fills the writable segments (its own work, not checked by the diff).
    let left = len;
    for (const s of h.segs) {
      if (!s.write || left === 0) continue;
      const n = Math.min(s.len, left);
      // A hostile driver may point a buffer at the used ring itself; the payload then overwrites used entries.
      if (s.addr < this.usedRange.end && s.addr + n > this.usedRange.start) this.usedScribbled = true;
      this.mem.fill(s.addr, n, this.rng.int(256));
      left -= n;
    }
    const r = guarded(this.ctx, this.arena, 'pushUsed', [this.usedRange], () => this.device.pushUsed(id, len));
    if (!r.ok) {
      finding(this.ctx, 'violation', `pushUsed(${id}, ${len}) of a held chain failed: ${r.error.message}`);
      return;
    }
    this.heldOrder.splice(k, 1);
    this.held.delete(id);
    this.pushed.push({ id, len });
  }

  publish(): void {
    const d = this.device;
    const old = d.usedIdx;
    const r = guarded(this.ctx, this.arena, 'publishUsed', [this.usedRange], () => d.publishUsed());
    if (!r.ok) {
      finding(this.ctx, 'violation', `publishUsed threw ${r.error.message}`);
      return;
    }
    const m = this.mem;
    const n = (m.atomicLoad16(this.used + 2) - old) & 0xffff;
    if (!this.usedScribbled && n !== this.pushed.length) finding(this.ctx, 'violation', `used.idx moved by ${n}, ${this.pushed.length} buffers were pushed`);
    for (let k = 0; k < (this.usedScribbled ? 0 : Math.min(n, this.pushed.length)); k++) {
      const slot = this.used + 4 + 8 * ((old + k) & (this.size - 1));
      const id = m.read32(slot);
      const len = m.read32(slot + 4);
      const p = this.pushed[k]!;
      if (id !== p.id || len !== p.len) finding(this.ctx, 'violation', `used entry ${k} is (${id}, ${len}), the device pushed (${p.id}, ${p.len})`);
    }
    // A publish that stored used.idx overwrote any scribbled index; entries scribbled after it are checked anew.
    if (this.pushed.length > 0) this.usedScribbled = false;
    for (const p of this.pushed) this.driverReclaim(p.id);
    this.pushed = [];
  }

  misuse(): void {
    // The secure side's own code asking to return a buffer it does not hold: refused, nothing written.
    const rng = this.rng;
    let id: number;
    let len = 0;
    const heldIds = [...this.held.keys()];
    if (heldIds.length > 0 && rng.chance(0.5)) {
      id = rng.pick(heldIds);
      len = this.held.get(id)!.writable + rng.range(1, 1000);
    } else {
      id = rng.pick([rng.int(this.size), this.size, -1, 0.5, Number.NaN, 0xffff_ffff]);
      if (this.held.has(id)) return;
    }
    const r = guarded(this.ctx, this.arena, 'pushUsed (not held)', [], () => this.device.pushUsed(id, len), false);
    if (!r.ok) this.ctx.report.refused++;
    if (r.ok) finding(this.ctx, 'violation', `pushUsed(${id}, ${len}) of a buffer the device does not hold was accepted`);
  }

  notify(): void {
    const d = this.device;
    const which = this.rng.int(3);
    const r = guarded(this.ctx, this.arena, 'notification call', [this.usedRange], () =>
      which === 0 ? d.pending() : which === 1 ? (d.disableNotifications(), 0) : d.enableNotifications() ? 1 : 0,
    );
    if (r.ok && which === 0 && this.clean && r.value !== this.expected.length - this.unpublished) {
      finding(this.ctx, 'violation', `pending() = ${String(r.value)} but ${this.expected.length - this.unpublished} chains were published`);
    }
  }
}

function at16(descAddr: number): number {
  return descAddr + 12;
}


export const splitTarget: FuzzTarget = {
  name: 'split',
  run(rng: Prng, ctx: FuzzContext, steps: number): void {
    const c = new SplitCase(rng, ctx);
    const mutateP = rng.pick([0.02, 0.08, 0.2]);
    for (let s = 0; s < steps; s++) {
      ctx.step = s;
      const x = rng.u32() / 0x1_0000_0000;
      if (x < mutateP) c.mutate();
      else if (x < 0.35) c.offer(rng.chance(0.9)) ?? c.pop();
      else if (x < 0.65) c.pop();
      else if (x < 0.82) c.complete();
      else if (x < 0.92) c.publish();
      else if (x < 0.95) c.misuse();
      else c.notify();
    }
  },
};
