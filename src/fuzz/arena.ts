/**
 * The memory a fuzzed device gets: one shared region (the non-secure IPC window) placed inside a larger
 * SharedArrayBuffer with guard bands of known bytes on both sides.
 *
 *   buffer:  [ guard (canary bytes) | region = the device's whole PhysicalMemory | guard (canary bytes) ]
 *
 * The device's PhysicalMemory covers exactly the region, so any access outside it must come back as a typed
 * error; a stray write through another path (a view built over the whole buffer, an off-by-one in an element
 * offset) changes a canary and is caught by checkGuards(). snapshot()/firstForbiddenChange() catch writes that stay
 * inside the region but land where the device has no business writing (e.g. the driver's descriptor table).
 */
import { PhysicalMemory, type MemoryRegion } from '../virtio/index.js';

/** A half-open physical address range [start, end). */
export interface Range {
  readonly start: number;
  readonly end: number;
}

function canary(i: number): number {
  return (0xa5 ^ Math.imul(i, 31)) & 0xff;
}

export class FuzzArena {
  readonly buffer: SharedArrayBuffer;
  readonly memory: PhysicalMemory;
  readonly region: MemoryRegion;
  /** Guard bytes on each side. */
  readonly guard: number;
  readonly base: number;
  readonly size: number;
  readonly end: number;
  private readonly all: Uint8Array;
  private readonly words: Uint32Array;
  private readonly snap: Uint32Array;

  /** base: 8-aligned physical address of the region; size: a multiple of 8. */
  constructor(base: number, size: number, guard = 4096, buffer?: SharedArrayBuffer) {
    this.guard = guard;
    this.base = base;
    this.size = size;
    this.end = base + size;
    this.buffer = buffer ?? new SharedArrayBuffer(size + 2 * guard);
    this.all = new Uint8Array(this.buffer);
    this.memory = new PhysicalMemory([{ name: 'ipc-ns', base, size, buffer: this.buffer, byteOffset: guard }]);
    this.region = this.memory.regions[0]!;
    this.words = new Uint32Array(this.buffer, guard, size >>> 2);
    this.snap = new Uint32Array(size >>> 2);
    if (buffer === undefined) this.fillGuards();
  }

  fillGuards(): void {
    const g = this.guard;
    const after = g + this.size;
    for (let i = 0; i < g; i++) {
      this.all[i] = canary(i);
      this.all[after + i] = canary(after + i);
    }
  }

  /** Offset (in the whole buffer) of the first damaged canary byte, or -1 when both guard bands are intact. */
  checkGuards(): number {
    const g = this.guard;
    const after = g + this.size;
    for (let i = 0; i < g; i++) {
      if (this.all[i] !== canary(i)) return i;
      if (this.all[after + i] !== canary(after + i)) return after + i;
    }
    return -1;
  }

  /** Zeroes the region (a driver resetting its rings). */
  zero(): void {
    this.region.u8.fill(0);
  }

  /** Remembers the region's contents (for firstForbiddenChange). */
  snapshot(): void {
    this.snap.set(this.words);
  }

  /**
   * The physical address of the first byte that changed since snapshot() outside every `allowed` range, or -1.
   * Compares words, and only looks at bytes of a word that differs.
   */
  firstForbiddenChange(allowed: readonly Range[]): number {
    const w = this.words;
    const s = this.snap;
    for (let i = 0; i < w.length; i++) {
      if (w[i] === s[i]) continue;
      const diff = (w[i]! ^ s[i]!) >>> 0;
      for (let b = 0; b < 4; b++) {
        if (((diff >>> (8 * b)) & 0xff) === 0) continue;
        const addr = this.base + 4 * i + b;
        let ok = false;
        for (const r of allowed) {
          if (addr >= r.start && addr < r.end) {
            ok = true;
            break;
          }
        }
        if (!ok) return addr;
      }
    }
    return -1;
  }
}
