/**
 * virtio-entropy, device side (VIRTIO 1.2 §5.4): one queue, "requestq"; the driver makes device-writable buffers
 * available and the device fills them with random bytes (here from the secure world's CSPRNG, node:crypto). No feature
 * bits, no config space.
 *
 * What the driver writes is not trusted: requestq buffers are device-writable (§5.4.6), so a chain with device-readable
 * segments is returned with 0 bytes written and counted as refused; every chain is walked by the bounded queue code,
 * and a ring rule broken by the driver makes the device ask for a reset (DEVICE_NEEDS_RESET).
 */
import { randomFillSync } from 'node:crypto';
import { DescriptorChain } from '../virtio/chain.js';
import type { DeviceActivation, VirtioDevice } from '../virtio/device.js';

export const VIRTIO_ID_ENTROPY = 4;
export const ENTROPY_QUEUE_SIZE = 64;

export interface EntropyDeviceStats {
  requests: number;
  bytes: number;
  refused: number;
  notifications: number;
}

export class EntropyDevice implements VirtioDevice {
  readonly deviceType = VIRTIO_ID_ENTROPY;
  readonly deviceFeatures = (1n << 29n) | (1n << 32n); // EVENT_IDX, VERSION_1 (§6.1)
  readonly queueMaxSizes: readonly number[];
  readonly configSize = 0;
  readonly stats: EntropyDeviceStats = { requests: 0, bytes: 0, refused: 0, notifications: 0 };
  private a: DeviceActivation | undefined;
  private readonly chain: DescriptorChain;
  /** Most bytes filled per request (a driver may post a huge buffer; the device fills what it chooses, §5.4.6.1). */
  private readonly maxFill: number;

  constructor(o: { readonly queueSize?: number; readonly maxFill?: number } = {}) {
    const n = o.queueSize ?? ENTROPY_QUEUE_SIZE;
    this.queueMaxSizes = [n];
    this.chain = new DescriptorChain(n);
    this.maxFill = o.maxFill ?? 64 * 1024;
  }
  readConfig(offset: number, dest: Uint8Array): void {
    if (offset !== 0 || dest.length !== 0) throw new RangeError('virtio-entropy has no config space');
  }
  writeConfig(): void {
    throw new RangeError('virtio-entropy has no config space');
  }
  activate(a: DeviceActivation): void {
    this.a = a;
    this.poll();
  }
  queueNotify(): void {
    this.poll();
  }
  poll(): number {
    const a = this.a;
    const q = a?.queues[0];
    if (a === undefined || q === undefined) return 0;
    let n = 0;
    try {
      while (q.vq.pop(this.chain)) {
        const c = this.chain;
        let written = 0;
        if (c.readable > 0) this.stats.refused++;
        else {
          for (let i = 0; i < c.count && written < this.maxFill; i++) {
            const seg = c.segment(a.memory, i);
            const len = Math.min(seg.length, this.maxFill - written);
            randomFillSync(seg, 0, len);
            written += len;
          }
        }
        q.vq.pushUsed(c.head, written);
        this.stats.requests++;
        this.stats.bytes += written;
        n++;
      }
    } catch (e) {
      a.needsReset(e instanceof Error ? e.message : String(e));
      this.a = undefined;
    }
    if (n > 0 && q.vq.publishUsed()) {
      this.stats.notifications++;
      q.notify();
    }
    return n;
  }
  reset(): void {
    this.a = undefined;
  }
}
