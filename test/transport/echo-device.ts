/**
 * A two-queue echo device and its driver, for transport tests (not a VIRTIO device type: id 0xfff0).
 *   queue 0 "rx": the driver posts device-writable buffers; the device fills one per echoed message.
 *   queue 1 "tx": the driver posts device-readable messages; the device copies each into an rx buffer.
 * Config space (8 bytes): u32 magic 0xec40 @0 (read-only), u32 scratch @4 (driver-writable).
 */
import { DescriptorChain } from '../../src/virtio/chain.js';
import type { DeviceActivation, DriverActivation, DriverQueue, VirtioDevice, VirtioDriver } from '../../src/virtio/device.js';

export const ECHO_ID = 0xfff0;
const SLOT = 64;
const N = 16;

export class EchoDevice implements VirtioDevice {
  readonly deviceType = ECHO_ID;
  readonly deviceFeatures = (1n << 0n) | (1n << 5n) | (1n << 29n);
  readonly queueMaxSizes = [N, N];
  readonly configSize = 8;
  readonly config = new Uint8Array(8);
  a: DeviceActivation | undefined;
  resets = 0;
  echoed = 0;
  refuse = false;
  private readonly rxc = new DescriptorChain(N);
  private readonly txc = new DescriptorChain(N);

  constructor() {
    new DataView(this.config.buffer).setUint32(0, 0xec40, true);
  }
  readConfig(offset: number, dest: Uint8Array): void {
    dest.set(this.config.subarray(offset, offset + dest.length));
  }
  writeConfig(offset: number, data: Uint8Array): void {
    if (offset < 4) throw new Error('read-only');
    this.config.set(data, offset);
  }
  checkFeatures(f: bigint): string | undefined {
    return this.refuse && (f & (1n << 5n)) !== 0n ? 'bit 5 refused' : undefined;
  }
  activate(a: DeviceActivation): void {
    this.a = a;
  }
  queueNotify(): void {
    this.poll();
  }
  poll(): number {
    const a = this.a;
    if (a === undefined) return 0;
    const rx = a.queues[0]!;
    const tx = a.queues[1]!;
    let n = 0;
    while (tx.vq.pending() > 0 && rx.vq.pending() > 0) {
      tx.vq.pop(this.txc);
      rx.vq.pop(this.rxc);
      const src = this.txc.segment(a.memory, 0);
      const dst = this.rxc.segment(a.memory, 0);
      const len = Math.min(src.length, dst.length);
      dst.set(src.subarray(0, len));
      tx.vq.pushUsed(this.txc.head, 0);
      rx.vq.pushUsed(this.rxc.head, len);
      n++;
      this.echoed++;
    }
    if (n > 0) {
      if (tx.vq.publishUsed()) tx.notify();
      if (rx.vq.publishUsed()) rx.notify();
    }
    return n;
  }
  reset(): void {
    this.a = undefined;
    this.resets++;
  }
}

export class EchoDriver implements VirtioDriver {
  readonly deviceType = ECHO_ID;
  readonly poolBytes = 2 * N * SLOT;
  a: DriverActivation | undefined;
  readonly received: Uint8Array[] = [];
  resets = 0;
  want = (1n << 0n) | (1n << 5n) | (1n << 29n);
  private freeTx: number[] = [];

  negotiate(offered: bigint): bigint {
    return offered & this.want;
  }
  queueSizes(max: readonly number[]): readonly number[] {
    return max.map((m) => Math.min(m, N));
  }
  activate(a: DriverActivation): void {
    this.a = a;
    const rx = a.queues[0]!;
    for (let i = 0; i < N; i++) rx.vq.addBuffer(a.pool.base + i * SLOT, SLOT, true, i);
    rx.kick();
    this.freeTx = Array.from({ length: N }, (_, i) => N + i);
  }
  get live(): boolean {
    return this.a !== undefined;
  }
  send(bytes: Uint8Array): boolean {
    const a = this.a;
    if (a === undefined) throw new Error('not live');
    const slot = this.freeTx.pop();
    if (slot === undefined) return false;
    const addr = a.pool.base + slot * SLOT;
    a.memory.write(addr, bytes);
    const tx: DriverQueue = a.queues[1]!;
    tx.vq.addBuffer(addr, bytes.length, false, slot);
    tx.kick();
    return true;
  }
  interrupt(): number {
    const a = this.a;
    if (a === undefined) return 0;
    let n = 0;
    const rx = a.queues[0]!;
    const tx = a.queues[1]!;
    for (let t = tx.vq.popUsed(); t !== undefined; t = tx.vq.popUsed()) {
      this.freeTx.push(t);
      n++;
    }
    let reposted = false;
    for (let t = rx.vq.popUsed(); t !== undefined; t = rx.vq.popUsed()) {
      const len = rx.vq.lastUsedLen;
      this.received.push(a.memory.bytes(a.pool.base + t * SLOT, len).slice());
      rx.vq.addBuffer(a.pool.base + t * SLOT, SLOT, true, t);
      reposted = true;
      n++;
    }
    if (reposted) rx.kick();
    return n;
  }
  reset(): void {
    this.a = undefined;
    this.resets++;
  }
}
