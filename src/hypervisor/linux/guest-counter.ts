/**
 * A counter inside the non-secure Linux, read by the secure world straight from Linux's RAM (TrustZone's asymmetry:
 * the secure side maps non-secure memory, never the reverse).
 *
 * The guest program (examples/linux/ticker.py) fills one page of its own with a marker (the bitwise NOT of 16 random
 * bytes it got as hex on the kernel command line, so the marker's bytes appear nowhere else in memory) followed by a
 * u64 counter it increments in a loop. The secure side finds that page once in the memory the front-end shared, then
 * reads the counter: while the secure world holds the core it must not move.
 *
 *   page:  0 ............ 15 | 16 ........ 23
 *          ~marker (16 B)    | counter u64 LE
 */
import { randomBytes } from 'node:crypto';
import type { PhysicalMemory } from '../../virtio/memory.js';

const PAGE = 4096;

export class GuestCounter {
  /** The marker as the guest receives it (hex); its bitwise NOT is what lands in the page. */
  readonly markerHex: string;
  private readonly pattern: Buffer;
  private view: DataView | undefined;
  private offset = 0;
  /** Physical address of the page once found. */
  address: number | undefined;

  constructor() {
    const m = randomBytes(16);
    this.markerHex = m.toString('hex');
    this.pattern = Buffer.from(m.map((b) => b ^ 0xff));
  }

  get found(): boolean {
    return this.view !== undefined;
  }

  /** Looks for the page in every region (page-aligned hits only); true when found. */
  find(memory: PhysicalMemory): boolean {
    for (const r of memory.regions) {
      const hay = Buffer.from(r.u8.buffer, r.u8.byteOffset, r.u8.byteLength);
      for (let at = hay.indexOf(this.pattern); at >= 0; at = hay.indexOf(this.pattern, at + 1)) {
        if ((r.base + at) % PAGE !== 0) continue;
        this.view = r.view;
        this.offset = at + 16;
        this.address = r.base + at;
        return true;
      }
    }
    return false;
  }

  /**
   * The counter's value (a plain 8-byte read; the guest writes it with one aligned store), or undefined when the page
   * no longer holds the marker: Linux may move a page (compaction migrates anonymous pages), after which the old
   * physical page holds anything. The page is then forgotten; find() looks for it again.
   */
  read(): bigint | undefined {
    const v = this.view;
    if (v === undefined) return undefined;
    for (let i = 0; i < 16; i++) {
      if (v.getUint8(this.offset - 16 + i) !== this.pattern[i]) {
        this.lose();
        return undefined;
      }
    }
    return v.getBigUint64(this.offset, true);
  }

  /** Forgets the page (the memory was unmapped). */
  lose(): void {
    this.view = undefined;
    this.moves++;
  }

  /** How often the page was lost (moved by Linux or unmapped). */
  moves = 0;
}
