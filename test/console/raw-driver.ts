/**
 * A hand-driven console driver for tests: it follows no protocol by itself; the test posts buffers, sends raw bytes
 * on any queue and reads back what the device returned, exactly as a (possibly hostile) driver would.
 */
import { decodeControl, encodeControlBytes, VIRTIO_ID_CONSOLE, type ControlMessage } from '../../src/console/index.js';
import { splitLegacyLayout, type DriverActivation, type DriverQueue, type VirtioDriver } from '../../src/virtio/index.js';

export class RawDriver implements VirtioDriver {
  readonly deviceType = VIRTIO_ID_CONSOLE;
  readonly poolBytes: number;
  a!: DriverActivation;
  private readonly next: number[] = [];
  private readonly lens = new Map<number, number>();

  constructor(
    readonly queueSize = 16,
    readonly bufSize = 512,
    readonly maxQueues = 16,
    /** Features accepted; default all but RING_PACKED (split rings, so tests can scribble descriptors). */
    readonly accept = ~(1n << 34n),
  ) {
    this.poolBytes = maxQueues * queueSize * bufSize;
  }

  negotiate(offered: bigint): bigint {
    return offered & this.accept;
  }
  queueSizes(max: readonly number[]): readonly number[] {
    return max.slice(0, this.maxQueues).map((m) => Math.min(m, this.queueSize));
  }
  activate(a: DriverActivation): void {
    this.a = a;
  }
  interrupt(): number {
    return 0;
  }
  reset(): void {}

  q(i: number): DriverQueue {
    return this.a.queues[i]!;
  }

  /** Address of the next slot of queue `qi` (slots are reused round-robin). */
  slot(qi: number): { slot: number; addr: number } {
    const k = (this.next[qi] ?? 0) % this.queueSize;
    this.next[qi] = k + 1;
    const slot = qi * this.queueSize + k;
    return { slot, addr: this.a.pool.base + slot * this.bufSize };
  }

  /** Posts `n` device-writable buffers of `len` bytes on queue `qi`. */
  post(qi: number, n = 4, len = this.bufSize): void {
    for (let i = 0; i < n; i++) {
      const s = this.slot(qi);
      this.q(qi).vq.addBuffer(s.addr, len, true, s.slot);
    }
    this.q(qi).kick();
  }

  /** Sends bytes as one device-readable buffer on queue `qi`; returns the buffer's address. */
  send(qi: number, bytes: Uint8Array): number {
    const s = this.slot(qi);
    this.a.memory.write(s.addr, bytes);
    this.q(qi).vq.addBuffer(s.addr, bytes.length, false, s.slot);
    this.q(qi).kick();
    return s.addr;
  }

  control(m: ControlMessage): void {
    this.send(3, encodeControlBytes(m));
  }

  /** Every used buffer of queue `qi`: slot, written length, and the bytes written. */
  used(qi: number): { slot: number; len: number; bytes: Uint8Array }[] {
    const out: { slot: number; len: number; bytes: Uint8Array }[] = [];
    const vq = this.q(qi).vq;
    for (let t = vq.popUsed(); t !== undefined; t = vq.popUsed()) {
      const len = vq.lastUsedLen;
      out.push({ slot: t, len, bytes: this.a.memory.bytes(this.a.pool.base + t * this.bufSize, len).slice() });
    }
    return out;
  }

  /** Control messages the device sent (decoded), re-posting each buffer. */
  controlIn(): ControlMessage[] {
    const got = this.used(2).map((u) => decodeControl(u.bytes));
    if (got.length > 0) this.post(2, got.length);
    return got;
  }

  /** Physical address of queue `qi`'s split descriptor table, as LoopbackTransport plans it (4 KiB-aligned rings in order). */
  descTable(qi: number, base = 0x1000_0000): number {
    let at = base;
    for (let i = 0; i < qi; i++) {
      const l = splitLegacyLayout(at, this.q(i).vq.size, 4096);
      at = Math.ceil((at + l.totalBytes) / 4096) * 4096;
    }
    return at;
  }
}
