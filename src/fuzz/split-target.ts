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
 * and the queue must work again. The device calls, their oracles and the step loop are queue-case.ts, shared with
 * the packed target; this file is the split driver's side (offer, mutations) and the used-ring check of publish.
 */
import { SplitVirtqueueDevice, splitRingSizes, type DescriptorChain } from '../virtio/index.js';
import { VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE } from '../virtio/split/layout.js';
import type { Range } from './arena.js';
import type { Prng } from './prng.js';
import { bump } from './report.js';
import { BUF_OFF, IND_ENTRIES, IND_TABLES, QueueCase, REGION_SIZE, arenaCache, queueTarget, type OfferModel } from './queue-case.js';
import { finding, guarded, type FuzzContext, type FuzzTarget } from './target.js';
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

/** Region bases: low DDR, straddling 4 GiB, high (large high half). */
const BASES = [0x1000_0000, 0x1_0000_0000 - BUF_OFF, 0x1f_ffff_ffff_0000];
const SIZES = [1, 2, 4, 8, 8, 16, 16, 32, 64, 128];

/** A chain offered: `id` is its head descriptor index. */
interface Offer extends OfferModel {
  descs: number[];
}

const arenaAt = arenaCache();

class SplitCase extends QueueCase<Offer> {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  readonly usedRange: Range;
  readonly device: SplitVirtqueueDevice;
  readonly chain: DescriptorChain;
  protected readonly popWrites: readonly Range[];
  protected readonly pushWrites: readonly Range[];
  // --- the hostile driver's model ---
  availIdx = 0;
  freeDescs: number[] = [];
  /** Offers written but not yet published (their avail.idx store is still to come). */
  unpublished = 0;
  // --- the device owner's model ---
  /** The hostile driver wrote into the used ring since the last publish (used entries then prove nothing). */
  usedScribbled = false;

  constructor(rng: Prng, ctx: FuzzContext) {
    super(rng, ctx, { sizes: SIZES, bases: BASES, features: 0n, arenaAt, naming: { word: 'head', label: 'chain head' }, fullLenChance: 0.3 });
    const { descBytes, availBytes, usedBytes } = splitRingSizes(this.size);
    this.desc = this.arena.base;
    this.avail = this.desc + descBytes;
    this.used = Math.ceil((this.avail + availBytes) / 4) * 4;
    this.usedRange = { start: this.used, end: this.used + usedBytes };
    this.popWrites = [this.usedRange];
    this.pushWrites = [this.usedRange];
    this.device = new SplitVirtqueueDevice(this.arena.memory, this.size, { desc: this.desc, avail: this.avail, used: this.used }, { features: this.features, maxChainSegments: this.maxSegs });
    this.chain = this.device.newChain();
    this.resetDriver();
  }

  protected resetRing(): void {
    this.availIdx = 0;
    this.freeDescs = Array.from({ length: this.size }, (_, i) => i);
    this.unpublished = 0;
    this.usedScribbled = false;
  }

  protected releaseSlots(o: Offer): void {
    this.freeDescs.push(...o.descs);
  }

  override offerStep(): Offer | undefined {
    return this.offer(this.rng.chance(0.9));
  }

  protected override publishedWaiting(): number {
    return this.expected.length - this.unpublished;
  }

  protected override deviceFilled(addr: number, n: number): void {
    // A hostile driver may point a buffer at the used ring itself; the payload then overwrites used entries.
    if (addr < this.usedRange.end && addr + n > this.usedRange.start) this.usedScribbled = true;
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
      o = { id: head, descs: [head], table: t, segs };
    } else {
      const segs = this.randomSegs(Math.min(this.maxSegs, this.freeDescs.length));
      const descs = segs.map(() => this.take(this.freeDescs));
      segs.forEach((s, k) => {
        const more = k + 1 < segs.length;
        this.writeDesc(this.descAt(descs[k]!), s.addr, s.len, (more ? VRING_DESC_F_NEXT : 0) | (s.write ? VRING_DESC_F_WRITE : 0), more ? descs[k + 1]! : 0);
      });
      o = { id: descs[0]!, descs, table: -1, segs };
    }
    this.mem.write16(this.avail + 4 + 2 * (this.availIdx & (this.size - 1)), o.id);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    if (publish) {
      this.mem.atomicStore16(this.avail + 2, this.availIdx);
      this.unpublished = 0;
    } else this.unpublished++;
    return this.record(o);
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
        const at = this.descAt(o.id);
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
        m.write32(this.descAt(o.id) + 8, rng.pick([0, 1, 8, 15, 17, 16 * (this.maxSegs + 1), 0xffff_fff0, rng.u32()]));
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
}

function at16(descAddr: number): number {
  return descAddr + 12;
}

export const splitTarget: FuzzTarget = queueTarget('split', (rng, ctx) => new SplitCase(rng, ctx));
