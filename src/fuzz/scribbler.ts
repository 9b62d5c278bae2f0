/**
 * The concurrent hostile driver: keeps rewriting the driver-owned parts of a ring (descriptors, avail ring and
 * index, indirect tables, packed flags) from another thread while the device reads them, so every read of the device
 * may see a torn or changed value. Runs in a worker (scribbler-worker.ts); written to be pure so tests can drive
 * it step by step too.
 *
 * It never writes outside the areas it is given (the canaries around the region stay the device's business) and,
 * for split rings, never writes the used ring, so the device's used entries can be checked exactly.
 */
import { Prng } from './prng.js';

/** Byte offsets inside the region (not physical addresses), plus what the scribbler needs to aim well. */
export interface ScribbleLayout {
  readonly kind: 'split' | 'packed';
  readonly size: number;
  /** Physical base of the region (descriptor addresses are written as physical addresses). */
  readonly base: number;
  readonly regionSize: number;
  readonly descOff: number;
  /** split: avail ring offset; packed: driver event area offset. */
  readonly driverOff: number;
  /** split: used ring offset (read only: the scribbler keeps avail.idx - used.idx near the queue size). */
  readonly usedOff?: number;
  readonly indOff: number;
  readonly indBytes: number;
  readonly bufOff: number;
  readonly bufBytes: number;
}

/** Control words shared with the device thread. */
export const CTRL_STOP = 0;
/** Bumped by the device thread after it reset its queue: the scribbler restarts its avail index at 0. */
export const CTRL_EPOCH = 1;
/** Scribbler writes done (for the report). */
export const CTRL_WRITES = 2;
export const CTRL_WORDS = 4;

export class Scribbler {
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  private readonly u16: Uint16Array;
  private idx = 0;
  private epoch = 0;
  private pos = 0;
  private wrap = true;

  constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    private readonly l: ScribbleLayout,
    private readonly ctrl: Int32Array,
    private readonly rng: Prng,
  ) {
    this.u8 = new Uint8Array(buffer, byteOffset, l.regionSize);
    this.dv = new DataView(buffer, byteOffset, l.regionSize);
    this.u16 = new Uint16Array(buffer, byteOffset, l.regionSize >>> 1);
  }

  /** Fills every descriptor and indirect entry with plausible contents (a zeroed ring only yields address 0). */
  init(): void {
    const l = this.l;
    for (let i = 0; i < l.size; i++) {
      const o = l.descOff + 16 * i;
      this.plausibleAddr(o);
      this.dv.setUint32(o + 8, this.rng.range(1, 256), true);
      if (l.kind === 'split') this.dv.setUint16(o + 14, this.rng.int(l.size), true);
      else this.dv.setUint16(o + 12, this.rng.int(l.size), true);
    }
    for (let o = l.indOff; o < l.indOff + l.indBytes; o += 16) {
      this.plausibleAddr(o);
      this.dv.setUint32(o + 8, this.rng.range(1, 256), true);
      this.dv.setUint16(o + 14, l.kind === 'split' ? this.rng.int(4) : this.rng.int(3), true);
    }
  }

  private bufAddr(): number {
    return this.l.base + this.l.bufOff + (this.rng.int(this.l.bufBytes - 256) & ~7);
  }

  private plausibleAddr(off: number): void {
    const r = this.rng;
    let a = this.bufAddr();
    if (r.chance(0.1)) a = this.l.base + this.l.indOff + 16 * r.int(this.l.indBytes / 16);
    if (r.chance(0.05)) {
      this.dv.setUint32(off, r.edgyU32(), true);
      this.dv.setUint32(off + 4, r.edgyU32(), true);
      return;
    }
    this.dv.setUint32(off, a >>> 0, true);
    this.dv.setUint32(off + 4, Math.floor(a / 0x1_0000_0000), true);
  }

  private len(): number {
    const r = this.rng;
    if (r.chance(0.05)) return r.edgyU32();
    return r.chance(0.2) ? 16 * r.range(1, 8) : r.range(1, 256);
  }

  /** One hostile write. */
  step(): void {
    const l = this.l;
    const r = this.rng;
    const e = Atomics.load(this.ctrl, CTRL_EPOCH);
    if (e !== this.epoch) {
      this.epoch = e;
      this.idx = 0;
      this.pos = 0;
      this.wrap = true;
      if (l.kind === 'split') Atomics.store(this.u16, (l.driverOff + 2) >>> 1, 0);
    }
    Atomics.add(this.ctrl, CTRL_WRITES, 1);
    const N = l.size;
    const x = r.int(100);
    if (x < 35) {
      // A descriptor with plausible contents.
      const i = r.int(N);
      const o = l.descOff + 16 * i;
      this.plausibleAddr(o);
      this.dv.setUint32(o + 8, this.len(), true);
      if (l.kind === 'split') {
        this.dv.setUint16(o + 12, r.chance(0.9) ? r.int(8) : r.u16(), true);
        this.dv.setUint16(o + 14, r.chance(0.9) ? r.int(N) : r.u16(), true);
      } else {
        this.dv.setUint16(o + 12, r.chance(0.9) ? r.int(N) : r.u16(), true);
        const w = r.chance(0.8) ? this.wrap : !this.wrap;
        const f = (w ? 0x80 : 0x8000) | (r.chance(0.3) ? 1 : 0) | (r.chance(0.4) ? 2 : 0) | (r.chance(0.1) ? 4 : 0);
        Atomics.store(this.u16, (o + 14) >>> 1, r.chance(0.95) ? f : r.u16());
      }
    } else if (x < 50) {
      if (l.kind === 'split') {
        // An avail ring entry, then publish it (avail.idx + 1), or an index jump.
        this.dv.setUint16(l.driverOff + 4 + 2 * (this.idx % N), r.chance(0.95) ? r.int(N) : r.u16(), true);
        // Mostly stay within N of the device's used.idx (as a driver must), now and then jump.
        const usedIdx = l.usedOff === undefined ? this.idx : Atomics.load(this.u16, (l.usedOff + 2) >>> 1);
        if (r.chance(0.999)) {
          if (((this.idx + 1 - usedIdx) & 0xffff) <= N) this.idx = (this.idx + 1) & 0xffff;
        } else this.idx = r.u16();
        Atomics.store(this.u16, (l.driverOff + 2) >>> 1, this.idx);
      } else {
        // Publish the slot at our position for our lap, and move on.
        const o = l.descOff + 16 * this.pos;
        Atomics.store(this.u16, (o + 14) >>> 1, (this.wrap ? 0x80 : 0x8000) | (r.chance(0.2) ? 1 : 0) | (r.chance(0.4) ? 2 : 0));
        if (++this.pos === N) {
          this.pos = 0;
          this.wrap = !this.wrap;
        }
      }
    } else if (x < 65) {
      // An indirect table entry.
      const o = l.indOff + 16 * r.int(l.indBytes / 16);
      this.plausibleAddr(o);
      this.dv.setUint32(o + 8, this.len(), true);
      this.dv.setUint16(o + 12, l.kind === 'split' ? r.int(8) : 0, true);
      this.dv.setUint16(o + 14, l.kind === 'split' ? r.int(16) : r.int(8), true);
    } else if (x < 80) {
      // Flip one field back and forth many times: the widest window for a read-check-use race.
      const o = l.descOff + 16 * r.int(N) + 4 * r.int(4);
      const a = r.edgyU32();
      const b = this.dv.getUint32(o, true);
      for (let k = 0; k < 64; k++) this.dv.setUint32(o, k & 1 ? a : b, true);
    } else if (x < 90) {
      // Driver event fields (split: avail.flags and used_event; packed: the driver event area).
      if (l.kind === 'split') this.dv.setUint16(l.driverOff + (r.chance(0.5) ? 0 : 4 + 2 * N), r.u16(), true);
      else this.dv.setUint32(l.driverOff, r.edgyU32(), true);
    } else {
      // A random word anywhere the driver owns (descriptors, indirect tables, buffers).
      const areas = [
        [l.descOff, 16 * N],
        [l.indOff, l.indBytes],
        [l.bufOff, l.bufBytes],
      ] as const;
      const [off, len] = r.pick(areas);
      this.dv.setUint32(off + (r.int(len) & ~3), r.edgyU32(), true);
    }
  }
}
