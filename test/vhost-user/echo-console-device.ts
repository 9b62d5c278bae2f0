/**
 * A minimal virtio-console device for the vhost-user tests: port 0 only (no MULTIPORT), every byte the driver
 * transmits on queue 1 (transmitq) comes back on queue 0 (receiveq) as soon as the driver has a receive buffer.
 * Linux's virtio_console drives it as /dev/hvc0. It implements the seam only; it knows nothing of vhost-user.
 */
import type { DeviceActivation, VirtioDevice } from '../../src/virtio/device.js';
import { DescriptorChain } from '../../src/virtio/chain.js';
import { bit, features, VirtioFeature } from '../../src/virtio/features.js';

export class EchoConsoleDevice implements VirtioDevice {
  readonly deviceType = 3;
  readonly deviceFeatures = features(VirtioFeature.VERSION_1, VirtioFeature.EVENT_IDX, VirtioFeature.INDIRECT_DESC) | bit(VirtioFeature.RING_PACKED);
  readonly queueMaxSizes = [256, 256];
  readonly configSize = 12;
  /** Bytes received from the driver, in order (for assertions). */
  received: number[] = [];
  activations = 0;
  resets = 0;
  private a: DeviceActivation | undefined;
  private pending: number[] = [];
  private readonly chain = new DescriptorChain(256);

  readConfig(offset: number, dest: Uint8Array): void {
    dest.fill(0); // cols, rows, max_nr_ports, emerg_wr: all 0 (no F_SIZE, no MULTIPORT)
    void offset;
  }
  writeConfig(): void {}
  activate(a: DeviceActivation): void {
    this.a = a;
    this.activations++;
  }
  queueNotify(): void {
    this.poll();
  }
  poll(): number {
    const a = this.a;
    if (a === undefined) return 0;
    let n = 0;
    const tx = a.queues[1];
    if (tx !== undefined) {
      while (tx.vq.pop(this.chain)) {
        const buf = new Uint8Array(this.chain.readableBytes);
        this.chain.readInto(a.memory, buf);
        for (const b of buf) {
          this.received.push(b);
          this.pending.push(b);
        }
        tx.vq.pushUsed(this.chain.head, 0);
        n++;
      }
      if (tx.vq.publishUsed()) tx.notify();
    }
    const rx = a.queues[0];
    if (rx !== undefined && this.pending.length > 0) {
      while (this.pending.length > 0 && rx.vq.pop(this.chain)) {
        const w = this.chain.writeFrom(a.memory, Uint8Array.from(this.pending));
        this.pending.splice(0, w);
        rx.vq.pushUsed(this.chain.head, w);
        n++;
      }
      if (rx.vq.publishUsed()) rx.notify();
    }
    return n;
  }
  reset(): void {
    this.a = undefined;
    this.pending = [];
    this.resets++;
  }
}
