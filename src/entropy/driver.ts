/**
 * virtio-entropy, driver side (VIRTIO 1.2 §5.4): posts device-writable buffers from its pool on the request queue and
 * hands the filled bytes to whoever asked, in order.
 */
import type { DriverActivation, VirtioDriver } from '../virtio/device.js';
import { VIRTIO_ID_ENTROPY } from './device.js';

export const ENTROPY_SLOT = 4096;

export interface EntropyDriverStats {
  requests: number;
  bytes: number;
  notifications: number;
}

export class EntropyDriver implements VirtioDriver {
  readonly deviceType = VIRTIO_ID_ENTROPY;
  readonly poolBytes: number;
  readonly stats: EntropyDriverStats = { requests: 0, bytes: 0, notifications: 0 };
  private a: DriverActivation | undefined;
  private readonly slots: number;
  private free: number[] = [];
  /** Requests in order: slot, wanted bytes, and where the answer goes. */
  private readonly pending = new Map<number, (b: Uint8Array | Error) => void>();

  constructor(o: { readonly slots?: number } = {}) {
    this.slots = o.slots ?? 8;
    this.poolBytes = this.slots * ENTROPY_SLOT;
  }
  get live(): boolean {
    return this.a !== undefined;
  }
  negotiate(offered: bigint): bigint {
    return offered & ((1n << 29n) | (1n << 32n));
  }
  queueSizes(max: readonly number[]): readonly number[] {
    let n = 1;
    while (n * 2 <= Math.min(max[0] ?? 1, this.slots)) n *= 2;
    return [n];
  }
  activate(a: DriverActivation): void {
    this.a = a;
    this.free = Array.from({ length: Math.min(this.slots, a.queues[0]!.vq.size) }, (_, i) => i);
  }
  /** Asks for `n` (1..4096) random bytes; `done` gets them, or an Error after a reset. False when no slot is free. */
  request(n: number, done: (b: Uint8Array | Error) => void): boolean {
    const a = this.a;
    if (a === undefined) throw new Error('virtio-entropy is not live');
    if (!Number.isInteger(n) || n < 1 || n > ENTROPY_SLOT) throw new RangeError(`entropy request of ${n} bytes (1..${ENTROPY_SLOT})`);
    const slot = this.free.pop();
    if (slot === undefined) return false;
    this.pending.set(slot, done);
    const q = a.queues[0]!;
    q.vq.addBuffer(a.pool.base + slot * ENTROPY_SLOT, n, true, slot);
    if (q.kick()) this.stats.notifications++;
    this.stats.requests++;
    return true;
  }
  interrupt(): number {
    const a = this.a;
    if (a === undefined) return 0;
    const q = a.queues[0]!;
    let n = 0;
    for (let slot = q.vq.popUsed(); slot !== undefined; slot = q.vq.popUsed()) {
      const len = q.vq.lastUsedLen;
      const bytes = a.memory.bytes(a.pool.base + slot * ENTROPY_SLOT, Math.min(len, ENTROPY_SLOT)).slice();
      this.stats.bytes += bytes.length;
      const done = this.pending.get(slot);
      this.pending.delete(slot);
      this.free.push(slot);
      done?.(bytes);
      n++;
    }
    return n;
  }
  reset(): void {
    this.a = undefined;
    const err = new Error('virtio-entropy was reset');
    for (const done of this.pending.values()) done(err);
    this.pending.clear();
  }
}
