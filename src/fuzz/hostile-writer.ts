/**
 * The hostile non-secure *process*'s writes: a separate OS process (hostile-writer-process.ts, started by
 * hostile-process.ts) maps the shared file MAP_SHARED and rewrites the RPMsg region in it with this class while the
 * secure side (the parent) attaches, resets and runs. Nothing it writes is coordinated with the parent:
 * a write can land between any two reads of the remote, as on the board.
 *
 * What it aims at (offsets from the layout it is given): ring indices and flags of both vrings (avail and used, the
 * remote's own used.idx included), descriptors and avail entries, the vdev status byte, the resource table (version,
 * entry offsets, features, vring da/align/num), RPMsg headers in the buffer pool, and any word of the region. It
 * alternates storms (thousands of writes back to back), sparse single writes, and restores of the pristine table and
 * a DRIVER_OK status (so attaches get far enough to be hit in their middle).
 *
 * Control words (i32, after the region's rear guard; the parent owns STOP, the writer the others):
 *   0 STOP    the parent sets 1: finish now
 *   1 READY   the writer sets 1 once mapped and about to write
 *   2 DONE    the writer sets 1 just before it exits
 *   3 WRITES  writes done (wraps)
 * The writer also ends by itself after `maxMs` or when its parent is gone, so it can never outlive a run.
 */
import type { RpmsgLayout } from '../rpmsg/layout.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import type { Prng } from './prng.js';

export const HW_STOP = 0;
export const HW_READY = 1;
export const HW_DONE = 2;
export const HW_WRITES = 3;
export const HW_CTRL_BYTES = 64;

/** What the writer is told (everything as byte offsets into the mapped file, except `base` and buffer addresses). */
export interface HostileWriterParams {
  /** Bytes to map of the shared file (0: all of it). */
  readonly fileSize: number;
  /** A separate file holding the control words (at ctrlOff), when they are not in the shared file itself. */
  readonly ctrlFile?: string;
  /** File offset of the region and its size; physical address of its first byte. */
  readonly regionOff: number;
  readonly regionSize: number;
  readonly base: number;
  readonly ctrlOff: number;
  readonly seed: number;
  readonly stream: number;
  readonly maxMs: number;
  /** Region offsets of the table, the vdev entry, the status byte, and of each vring's parts. */
  readonly table: number;
  readonly tableSize: number;
  readonly vdev: number;
  readonly status: number;
  readonly num: number;
  readonly vrings: readonly { readonly desc: number; readonly avail: number; readonly used: number }[];
  /** The pool: region offset, buffer size and count. */
  readonly pool: number;
  readonly bufSize: number;
  readonly bufCount: number;
}

/**
 * The writer's parameters for an RPMsg region laid out as `plan`, whose first byte (physical address plan.base) is
 * at file offset `o.regionOff`.
 */
export function writerParams(
  plan: RpmsgLayout,
  o: Pick<HostileWriterParams, 'fileSize' | 'regionOff' | 'regionSize' | 'ctrlOff' | 'seed' | 'stream' | 'maxMs'> & { readonly ctrlFile?: string },
): HostileWriterParams {
  const off = (a: number) => a - plan.base;
  const ring = (v: RpmsgLayout['vring0']) => {
    const l = splitLegacyLayout(v.da, v.num, v.align);
    return { desc: off(l.desc), avail: off(l.avail), used: off(l.used) };
  };
  return {
    ...o,
    base: plan.base,
    table: off(plan.rscTable),
    tableSize: plan.rscTableSize,
    vdev: off(plan.vdev),
    status: off(plan.statusAddr),
    num: plan.vring0.num,
    vrings: [ring(plan.vring0), ring(plan.vring1)],
    pool: off(plan.buffers.base),
    bufSize: plan.buffers.size,
    bufCount: plan.buffers.count,
  };
}

const DRIVER_OK_STATUS = 1 | 2 | 8 | 4;

export class HostileWriter {
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  private readonly u16: Uint16Array;
  private readonly pristine: Uint8Array;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly p: HostileWriterParams,
    private readonly rng: Prng,
  ) {
    this.u8 = new Uint8Array(buffer, p.regionOff, p.regionSize);
    this.dv = new DataView(buffer, p.regionOff, p.regionSize);
    this.u16 = new Uint16Array(buffer, p.regionOff, p.regionSize >>> 1);
    this.pristine = this.u8.slice(p.table, p.table + p.tableSize);
  }

  private w16(off: number, v: number): void {
    if (off >= 0 && off + 2 <= this.p.regionSize) Atomics.store(this.u16, off >>> 1, v & 0xffff);
  }

  private w32(off: number, v: number): void {
    if (off >= 0 && off + 4 <= this.p.regionSize) this.dv.setUint32(off, v >>> 0, true);
  }

  /** A buffer address: mostly a pool buffer, sometimes inside a buffer, the table, a ring, or anything. */
  private addr(): number {
    const p = this.p;
    const r = this.rng;
    const x = r.int(10);
    if (x < 6) return p.base + p.pool + p.bufSize * r.int(p.bufCount);
    if (x < 7) return p.base + p.pool + r.int(p.bufSize * p.bufCount);
    if (x < 8) return p.base + p.table + r.int(p.tableSize);
    if (x < 9) return p.base + r.pick(p.vrings).desc;
    return r.edgyU32();
  }

  /** One hostile write. */
  step(): void {
    const p = this.p;
    const r = this.rng;
    const v = r.pick(p.vrings);
    const N = p.num;
    const x = r.int(100);
    if (x < 14) {
      // Ring indices: the driver's avail.idx mostly nudged forward, the device's used.idx anything.
      if (r.chance(0.6)) this.w16(v.avail + 2, this.dv.getUint16(v.avail + 2, true) + r.range(0, N + 1) - (r.chance(0.1) ? N : 0));
      else this.w16(v.used + 2, r.chance(0.5) ? 0 : r.u16());
    } else if (x < 32) {
      // A descriptor field.
      const d = v.desc + 16 * r.int(N);
      const f = r.int(4);
      if (f === 0) {
        const a = this.addr();
        this.w32(d, a);
        this.w32(d + 4, r.chance(0.95) ? 0 : r.edgyU32());
      } else if (f === 1) this.w32(d + 8, r.chance(0.7) ? r.pick([16, p.bufSize, p.bufSize - 8, 15, 0]) : r.edgyU32());
      else if (f === 2) this.w16(d + 12, r.chance(0.8) ? r.int(8) : r.u16());
      else this.w16(d + 14, r.chance(0.9) ? r.int(N) : r.u16());
    } else if (x < 42) {
      // An avail ring entry, flags or used_event / a used entry or avail_event.
      if (r.chance(0.6)) this.w16(v.avail + 4 + 2 * r.int(N), r.chance(0.9) ? r.int(N) : r.u16());
      else if (r.chance(0.5)) this.w16(r.chance(0.5) ? v.avail : v.avail + 4 + 2 * N, r.u16());
      else this.w32(v.used + 4 + 8 * r.int(N) + 4 * r.int(2), r.edgyU32());
    } else if (x < 54) {
      // The vdev status byte.
      const s = r.pick([0, DRIVER_OK_STATUS, DRIVER_OK_STATUS, DRIVER_OK_STATUS | 64, 128, 1 | 2, 1 | 2 | 8, r.int(256)]);
      Atomics.store(this.u8, p.status, s);
    } else if (x < 68) {
      // The resource table: header, entry offsets, vdev fields, vring entries.
      const y = r.int(6);
      if (y === 0) this.w32(p.table, r.pick([1, 2, 0, r.edgyU32()]));
      else if (y === 1) this.w32(p.table + 4, r.pick([0, 1, 2, 3, r.edgyU32()]));
      else if (y === 2) this.w32(p.table + 16 + 4 * r.int(2), r.chance(0.5) ? r.int(p.tableSize) : r.edgyU32());
      else if (y === 3) this.w32(p.vdev + 4 * r.int(7), r.chance(0.5) ? r.pick([0, 1, 1 << 29, (1 << 29) | 1, 7]) : r.edgyU32());
      else if (y === 4) {
        const vr = p.vdev + 28 + 20 * r.int(2) + 4 * r.int(4);
        this.w32(vr, r.chance(0.5) ? r.pick([N, N * 2, N >>> 1, 16, 4096, 0]) : r.edgyU32());
      } else Atomics.store(this.u8, p.vdev + 25, r.pick([0, 1, 2, 3, 255]));
    } else if (x < 86) {
      // An RPMsg header in a pool buffer: src, dst (53 = the name service), len, flags.
      const b = p.pool + p.bufSize * r.int(p.bufCount);
      const f = r.int(4);
      if (f === 0) this.w32(b, r.edgyU32());
      else if (f === 1) this.w32(b + 4, r.pick([53, 1024, 1025, 0xffffffff, r.edgyU32()]));
      else if (f === 2) this.w16(b + 12, r.chance(0.5) ? r.int(p.bufSize) : r.u16());
      else this.w32(b + 16 + 4 * r.int(10), r.edgyU32());
    } else {
      // Any word of the region.
      this.w32(r.int(p.regionSize) & ~3, r.edgyU32());
    }
  }

  /** The table as planned and a status at DRIVER_OK: an attach can get going (to be hit in its middle). */
  restore(): void {
    this.u8.set(this.pristine, this.p.table);
    if (this.rng.chance(0.7)) Atomics.store(this.u8, this.p.status, DRIVER_OK_STATUS);
  }
}
