/**
 * What the split and packed virtqueue fuzz targets share: one case (a queue configuration in a fresh region), the
 * hostile driver's bookkeeping of what it offered, the device owner's model of what it holds and pushed, the device
 * calls with their oracles (pop, complete, misuse, notify, the reset after an error) and the step loop. A ring layout
 * adds how its driver writes chains (offer), breaks the ring (mutate) and what a publish must have written (publish).
 *
 * Region layout (offsets from the region base): the ring at 0, indirect tables at IND_OFF, buffers at BUF_OFF.
 */
import { VirtioFeature, bit, type DescriptorChain } from '../virtio/index.js';
import type { VirtqueueDevice } from '../virtio/virtqueue.js';
import { FuzzArena, type Range } from './arena.js';
import type { Prng } from './prng.js';
import { bump } from './report.js';
import { checkCleanPop, checkPoppedChain, finding, guarded, type ChainNaming, type FuzzContext, type FuzzTarget, type SegModel } from './target.js';

export const REGION_SIZE = 0x4000;
export const IND_OFF = 0x1000;
export const IND_TABLES = 16;
export const IND_ENTRIES = 16;
export const BUF_OFF = 0x2000;
export const BUF_SIZE = 0x2000;

/** A chain as the driver offered it: its id (split: head index; packed: buffer id), indirect table (-1: none). */
export interface OfferModel {
  readonly id: number;
  readonly table: number;
  readonly segs: SegModel[];
}

/** One arena per region base, made on first use (each target keeps its own). */
export function arenaCache(): (base: number) => FuzzArena {
  const arenas = new Map<number, FuzzArena>();
  return (base) => {
    let a = arenas.get(base);
    if (a === undefined) {
      a = new FuzzArena(base, REGION_SIZE);
      arenas.set(base, a);
    }
    return a;
  };
}

export interface QueueCaseConfig {
  readonly sizes: readonly number[];
  readonly bases: readonly number[];
  /** Feature bits always set (packed: RING_PACKED); INDIRECT_DESC, EVENT_IDX and IN_ORDER are drawn. */
  readonly features: bigint;
  readonly arenaAt: (base: number) => FuzzArena;
  readonly naming: ChainNaming;
  /** How often a completion writes the chain's whole writable length (else a random part of it). */
  readonly fullLenChance: number;
}

export abstract class QueueCase<O extends OfferModel> {
  readonly size: number;
  readonly features: bigint;
  readonly indirect: boolean;
  readonly inOrder: boolean;
  readonly maxSegs: number;
  readonly arena: FuzzArena;
  abstract readonly device: VirtqueueDevice;
  abstract readonly chain: DescriptorChain;
  // --- the hostile driver's model ---
  freeTables: number[] = [];
  /** Published chains by id (driver's view), and the ones not popped yet in order (clean mode). */
  readonly offered = new Map<number, O>();
  expected: O[] = [];
  lastOffer: O | undefined;
  /** No mutation since the last reset: every offered chain must pop exactly as written, and nothing may fail. */
  clean = true;
  // --- the device owner's model ---
  readonly held = new Map<number, { writable: number; segs: SegModel[] }>();
  heldOrder: number[] = [];
  pushed: { id: number; len: number }[] = [];

  constructor(
    readonly rng: Prng,
    readonly ctx: FuzzContext,
    private readonly cfg: QueueCaseConfig,
  ) {
    this.size = rng.pick(cfg.sizes);
    let f = cfg.features;
    if (rng.chance(0.6)) f |= bit(VirtioFeature.INDIRECT_DESC);
    if (rng.chance(0.5)) f |= bit(VirtioFeature.EVENT_IDX);
    if (rng.chance(0.3)) f |= bit(VirtioFeature.IN_ORDER);
    this.features = f;
    this.indirect = (f & bit(VirtioFeature.INDIRECT_DESC)) !== 0n;
    this.inOrder = (f & bit(VirtioFeature.IN_ORDER)) !== 0n;
    this.maxSegs = rng.chance(0.7) ? this.size : rng.range(1, this.size);
    this.arena = cfg.arenaAt(rng.pick(cfg.bases));
    this.arena.zero();
  }

  // ---------------------------------------------------------------------------------------------------- ring layout

  /** Writes a well-formed chain (direct or indirect) and makes it available; undefined when the ring is full. */
  abstract offer(): O | undefined;
  /** Breaks the ring in one of the layout's ways (counted by wreck()). */
  abstract mutate(): void;
  /** Calls publishUsed and checks what it wrote against the pushed (id, len) pairs; the driver then reclaims them. */
  abstract publish(): void;
  /** The driver's ring state back to its initial values (after a device reset). */
  protected abstract resetRing(): void;
  /** The driver sees `o` used: the ring slots it took are free again (the table and id are handled here). */
  protected abstract releaseSlots(o: O): void;
  /** Where pop and the notification calls may write (split: the used ring; packed: the device event area). */
  protected abstract readonly popWrites: readonly Range[];
  /** Where pushUsed may write (split: the used ring; packed: nothing before publishUsed). */
  protected abstract readonly pushWrites: readonly Range[];

  /** The offer of a step (split: sometimes not published yet). */
  offerStep(): O | undefined {
    return this.offer();
  }

  /** Offered chains the device can see (published) and has not popped yet. */
  protected publishedWaiting(): number {
    return this.expected.length;
  }

  /** The device filled [addr, addr + n) of a held chain (split: it may be the used ring itself). */
  protected deviceFilled(_addr: number, _n: number): void {}

  /** Ids misuse() does not try (they would be accepted rightly). */
  protected misuseSkips(id: number): boolean {
    return this.held.has(id);
  }

  // ---------------------------------------------------------------------------------------------------- driver model

  protected resetDriver(): void {
    this.resetRing();
    this.freeTables = Array.from({ length: IND_TABLES }, (_, i) => i);
    this.offered.clear();
    this.expected = [];
    this.lastOffer = undefined;
    this.clean = true;
    this.held.clear();
    this.heldOrder = [];
    this.pushed = [];
  }

  get mem() {
    return this.arena.memory;
  }

  protected tableAt(t: number): number {
    return this.arena.base + IND_OFF + t * IND_ENTRIES * 16;
  }

  /** Takes a random element out of `list` (order not kept). */
  protected take<T>(list: T[]): T {
    const k = this.rng.int(list.length);
    const v = list[k]!;
    list[k] = list[list.length - 1]!;
    list.pop();
    return v;
  }

  /** 1..max segments in the buffer area, readable ones first. */
  protected randomSegs(max: number): SegModel[] {
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

  /** Records a chain made available. */
  protected record(o: O): O {
    this.offered.set(o.id, o);
    this.expected.push(o);
    this.lastOffer = o;
    return o;
  }

  /** The driver sees a used entry for `id`: its slots, table and id are free again. */
  protected driverReclaim(id: number): void {
    const o = this.offered.get(id);
    if (o === undefined) return;
    this.offered.delete(id);
    this.releaseSlots(o);
    if (o.table >= 0) this.freeTables.push(o.table);
  }

  /** A mutation happened: the ring is no longer clean. */
  protected wreck(kind: string): void {
    this.clean = false;
    bump(this.ctx.report.mutations, kind);
  }

  // ---------------------------------------------------------------------------------------------------- device calls

  private breakAndReset(err: Error): void {
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
    if (this.offer() !== undefined) this.pop();
  }

  pop(): void {
    const ctx = this.ctx;
    const d = this.device;
    const c = this.chain;
    const naming = this.cfg.naming;
    ctx.report.pops++;
    const wasBroken = d.broken !== undefined;
    const r = guarded(ctx, this.arena, 'pop', this.popWrites, () => d.pop(c));
    if (!r.ok) {
      if (wasBroken) finding(ctx, 'violation', 'pop on a broken queue threw instead of returning false');
      this.breakAndReset(r.error);
      return;
    }
    if (!r.value) {
      if (this.clean && this.publishedWaiting() > 0) finding(ctx, 'violation', `a published well-formed chain (${naming.word} ${this.expected[0]!.id}) was not popped`);
      return;
    }
    ctx.report.chains++;
    if (wasBroken) finding(ctx, 'violation', 'a broken queue returned a chain');
    const segs = checkPoppedChain(ctx, this.arena, c, { maxSegs: this.maxSegs, size: this.size, held: this.held, naming });
    if (this.clean) checkCleanPop(ctx, c, segs, this.expected.shift(), naming);
    this.held.set(c.head, { writable: c.writableBytes, segs });
    this.heldOrder.push(c.head);
  }

  complete(): void {
    if (this.heldOrder.length === 0) return;
    const k = this.inOrder ? 0 : this.rng.int(this.heldOrder.length);
    const id = this.heldOrder[k]!;
    const h = this.held.get(id)!;
    const len = this.rng.chance(this.cfg.fullLenChance) ? h.writable : this.rng.int(h.writable + 1);
    // The device fills the writable segments (its own work, not checked by the diff).
    let left = len;
    for (const s of h.segs) {
      if (!s.write || left === 0) continue;
      const n = Math.min(s.len, left);
      this.deviceFilled(s.addr, n);
      this.mem.fill(s.addr, n, this.rng.int(256));
      left -= n;
    }
    const r = guarded(this.ctx, this.arena, 'pushUsed', this.pushWrites, () => this.device.pushUsed(id, len));
    if (!r.ok) {
      finding(this.ctx, 'violation', `pushUsed(${id}, ${len}) of a held chain failed: ${r.error.message}`);
      return;
    }
    this.heldOrder.splice(k, 1);
    this.held.delete(id);
    this.pushed.push({ id, len });
  }

  /** The secure side's own code asking to return a buffer it does not hold: refused, nothing written. */
  misuse(): void {
    const rng = this.rng;
    let id: number;
    let len = 0;
    const heldIds = [...this.held.keys()];
    if (heldIds.length > 0 && rng.chance(0.5)) {
      id = rng.pick(heldIds);
      len = this.held.get(id)!.writable + rng.range(1, 1000);
    } else {
      id = rng.pick([rng.int(this.size), this.size, -1, 0.5, Number.NaN, 0xffff_ffff]);
      if (this.misuseSkips(id)) return;
    }
    const r = guarded(this.ctx, this.arena, 'pushUsed (not held)', [], () => this.device.pushUsed(id, len), false);
    if (!r.ok) this.ctx.report.refused++;
    if (r.ok) finding(this.ctx, 'violation', `pushUsed(${id}, ${len}) of a buffer the device does not hold was accepted`);
  }

  notify(): void {
    const d = this.device;
    const which = this.rng.int(3);
    const r = guarded(this.ctx, this.arena, 'notification call', this.popWrites, () =>
      which === 0 ? d.pending() : which === 1 ? (d.disableNotifications(), 0) : d.enableNotifications() ? 1 : 0,
    );
    const waiting = this.publishedWaiting();
    if (r.ok && which === 0 && this.clean && r.value !== waiting) finding(this.ctx, 'violation', `pending() = ${String(r.value)} but ${waiting} chains were published`);
  }
}

/** A fuzz target that runs one case of `make` per iteration: offers, mutations and device calls at random. */
export function queueTarget<O extends OfferModel>(name: string, make: (rng: Prng, ctx: FuzzContext) => QueueCase<O>): FuzzTarget {
  return {
    name,
    run(rng: Prng, ctx: FuzzContext, steps: number): void {
      const c = make(rng, ctx);
      const mutateP = rng.pick([0.02, 0.08, 0.2]);
      for (let s = 0; s < steps; s++) {
        ctx.step = s;
        const x = rng.u32() / 0x1_0000_0000;
        if (x < mutateP) c.mutate();
        else if (x < 0.35) c.offerStep() ?? c.pop();
        else if (x < 0.65) c.pop();
        else if (x < 0.82) c.complete();
        else if (x < 0.92) c.publish();
        else if (x < 0.95) c.misuse();
        else c.notify();
      }
    },
  };
}
