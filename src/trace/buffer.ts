/**
 * A preallocated, single-writer trace buffer in shared memory (one per thread or process), so recording costs a few
 * plain stores and never allocates:
 *
 *   SharedArrayBuffer:  [ header: count u32 | dropped u32 | capacity u32 | reserved ] [ records: capacity × 40 B ]
 *
 * The writer fills records in order and publishes `count` with Atomics.store after the record's stores, so a reader
 * that loads `count` first sees whole records only. When full, events are counted in `dropped` and not written
 * (the bound of `--trace-limit`); a trace never grows past what was allocated.
 */
import { RECORD_BYTES, RECORD_F64 } from './events.js';

const HEADER_BYTES = 16;
const H_COUNT = 0;
const H_DROPPED = 1;
const H_CAPACITY = 2;

export interface TraceRecord {
  readonly ts: number;
  readonly kind: number;
  readonly track: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

export const MAX_TRACE_CAPACITY = 50_000_000;

/** Bytes of a buffer for `capacity` events. */
export function traceBufferBytes(capacity: number): number {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_TRACE_CAPACITY) throw new RangeError(`trace capacity must be an integer in 1..${MAX_TRACE_CAPACITY}, not ${capacity}`);
  return HEADER_BYTES + capacity * RECORD_BYTES;
}

/** Allocates (with `alloc`, default a new SharedArrayBuffer; a mapped file across processes) and formats a buffer for `capacity` events. */
export function allocateTraceBuffer(capacity: number, alloc: (bytes: number) => SharedArrayBuffer = (b) => new SharedArrayBuffer(b)): SharedArrayBuffer {
  const sab = alloc(traceBufferBytes(capacity));
  new Uint32Array(sab, 0, 4)[H_CAPACITY] = capacity;
  return sab;
}

function hrUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

/** The writing end. `enabled` is false for a writer without a buffer: every emit is then one branch. */
export class TraceWriter {
  readonly enabled: boolean;
  private readonly header: Uint32Array | undefined;
  private readonly rec: Float64Array | undefined;
  private readonly capacity: number;
  private count = 0;

  constructor(sab?: SharedArrayBuffer) {
    this.enabled = sab !== undefined;
    if (sab === undefined) {
      this.capacity = 0;
      return;
    }
    this.header = new Uint32Array(sab, 0, 4);
    this.capacity = this.header[H_CAPACITY]!;
    this.count = Atomics.load(this.header, H_COUNT);
    this.rec = new Float64Array(sab, HEADER_BYTES, this.capacity * RECORD_F64);
  }

  /** Records one event now. */
  emit(kind: number, track: number, a = 0, b = 0, c = 0): void {
    if (!this.enabled) return;
    this.emitAt(hrUs(), kind, track, a, b, c);
  }

  /** Records one event at a given time (µs on the monotonic clock). */
  emitAt(ts: number, kind: number, track: number, a = 0, b = 0, c = 0): void {
    const rec = this.rec;
    if (rec === undefined) return;
    const i = this.count;
    if (i >= this.capacity) {
      Atomics.add(this.header!, H_DROPPED, 1);
      return;
    }
    const o = i * RECORD_F64;
    rec[o] = ts;
    rec[o + 1] = kind + 256 * track;
    rec[o + 2] = a;
    rec[o + 3] = b;
    rec[o + 4] = c;
    this.count = i + 1;
    Atomics.store(this.header!, H_COUNT, i + 1);
  }
}

/** The monotonic clock of traces (µs), the same as the hypervisor's. */
export const traceNow = hrUs;

/** Reads every whole record of a buffer (after or during a run). */
export function readTraceBuffer(sab: SharedArrayBuffer): { records: TraceRecord[]; dropped: number } {
  const header = new Uint32Array(sab, 0, 4);
  const n = Atomics.load(header, H_COUNT);
  const cap = header[H_CAPACITY]!;
  const rec = new Float64Array(sab, HEADER_BYTES, cap * RECORD_F64);
  const records: TraceRecord[] = [];
  for (let i = 0; i < Math.min(n, cap); i++) {
    const o = i * RECORD_F64;
    const code = rec[o + 1]!;
    const kind = code % 256;
    records.push({ ts: rec[o]!, kind, track: (code - kind) / 256, a: rec[o + 2]!, b: rec[o + 3]!, c: rec[o + 4]! });
  }
  return { records, dropped: Atomics.load(header, H_DROPPED) };
}
