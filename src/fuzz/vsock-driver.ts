/**
 * A raw virtio-vsock driver that writes whatever it is told: packets with any header, split at any byte across any
 * number of descriptors, rx and event buffers of any size. It drives the VsockDevice (the secure side) as a hostile
 * or buggy non-secure driver would; the fuzz target and the device's hostile-input tests use it. It records every
 * packet the device wrote into its rx buffers.
 */
import { VirtioFeature, features, type Segment } from '../virtio/index.js';
import type { DriverActivation, DriverQueue, VirtioDriver } from '../virtio/device.js';
import { VIRTIO_ID_VSOCK, VSOCK_HEADER_SIZE, VSOCK_QUEUE_EVENT, VSOCK_QUEUE_RX, VSOCK_QUEUE_TX } from '../vsock/constants.js';
import { decodeVsockHeader, encodeVsockHeader, type VsockHeader } from '../vsock/header.js';

export interface RawVsockDriverOptions {
  readonly packed?: boolean;
  readonly queueSize?: number;
  /** Rx buffers posted at activation, and their size in bytes (header included). Default 16 × 4140. */
  readonly rxBuffers?: number;
  readonly rxBufferBytes?: number;
  readonly eventBuffers?: number;
  /** Bytes of the pool for tx packets (a bump allocator that wraps). Default 256 KiB. */
  readonly txBytes?: number;
}

export interface RawPacket {
  readonly h: VsockHeader;
  readonly payload: Buffer;
  readonly usedLen: number;
}

export class RawVsockDriver implements VirtioDriver {
  readonly deviceType = VIRTIO_ID_VSOCK;
  readonly poolBytes: number;
  readonly received: RawPacket[] = [];
  /** Used lengths of event buffers returned, and rx buffers returned with a length too short for a header. */
  readonly events: number[] = [];
  readonly shortRx: number[] = [];
  a!: DriverActivation;
  rxq!: DriverQueue;
  txq!: DriverQueue;
  evq!: DriverQueue;
  private readonly o: Required<RawVsockDriverOptions>;
  private rxBase = 0;
  private evBase = 0;
  private txBase = 0;
  private txAt = 0;
  private readonly rxLen = new Map<number, number>();

  constructor(opts: RawVsockDriverOptions = {}) {
    this.o = { packed: false, queueSize: 64, rxBuffers: 16, rxBufferBytes: VSOCK_HEADER_SIZE + 4096, eventBuffers: 2, txBytes: 256 * 1024, ...opts };
    this.poolBytes = this.o.rxBuffers * this.o.rxBufferBytes + this.o.eventBuffers * 4 + this.o.txBytes + 4096;
  }

  negotiate(offered: bigint): bigint {
    return offered & features(VirtioFeature.VERSION_1, VirtioFeature.INDIRECT_DESC, VirtioFeature.EVENT_IDX, ...(this.o.packed ? [VirtioFeature.RING_PACKED] : []));
  }

  queueSizes(max: readonly number[]): readonly number[] {
    return max.map((m) => Math.min(m, this.o.queueSize));
  }

  activate(a: DriverActivation): void {
    this.a = a;
    this.rxq = a.queues[VSOCK_QUEUE_RX]!;
    this.txq = a.queues[VSOCK_QUEUE_TX]!;
    this.evq = a.queues[VSOCK_QUEUE_EVENT]!;
    this.rxBase = a.pool.base;
    this.evBase = this.rxBase + this.o.rxBuffers * this.o.rxBufferBytes;
    this.txBase = this.evBase + this.o.eventBuffers * 4;
    for (let i = 0; i < this.o.rxBuffers; i++) this.postRx(this.rxBase + i * this.o.rxBufferBytes, this.o.rxBufferBytes);
    for (let i = 0; i < this.o.eventBuffers; i++) this.evq.vq.addBuffer(this.evBase + i * 4, 4, true, this.evBase + i * 4);
    this.rxq.kick();
    this.evq.kick();
  }

  /** Posts a writable rx buffer (any size, even one too small for a header). */
  postRx(addr: number, len: number): void {
    this.rxLen.set(addr, len);
    this.rxq.vq.addBuffer(addr, len, true, addr);
  }

  /** The driver's tx area [base, base + size): device-readable buffers the device must never write. */
  get txRange(): { base: number; size: number } {
    return { base: this.txBase, size: this.o.txBytes };
  }

  /** Copies `bytes` into the tx area; returns its address. */
  place(bytes: Uint8Array): number {
    if (this.txAt + bytes.length > this.o.txBytes) this.txAt = 0;
    const addr = this.txBase + this.txAt;
    this.a.memory.write(addr, bytes);
    this.txAt += Math.max(1, bytes.length);
    return addr;
  }

  /** Sends raw bytes as one packet, cut into descriptors at `cuts` (byte offsets); returns whether the device was notified. */
  sendRaw(bytes: Uint8Array, cuts: readonly number[] = []): boolean {
    const addr = this.place(bytes);
    const segs: Segment[] = [];
    let at = 0;
    for (const c of [...cuts.filter((x) => x > 0 && x < bytes.length)].sort((x, y) => x - y).concat([bytes.length])) {
      if (c > at) segs.push({ addr: addr + at, len: c - at });
      at = c;
    }
    if (segs.length === 0) segs.push({ addr, len: Math.max(1, bytes.length) });
    this.txq.vq.add(segs, [], 0);
    return this.txq.kick();
  }

  /** Sends a header (its len field as given) and a payload. */
  send(h: VsockHeader, payload: Uint8Array = new Uint8Array(0), cuts: readonly number[] = []): boolean {
    const b = new Uint8Array(VSOCK_HEADER_SIZE + payload.length);
    encodeVsockHeader(h, b);
    b.set(payload, VSOCK_HEADER_SIZE);
    return this.sendRaw(b, cuts);
  }

  interrupt(): number {
    let n = 0;
    for (let k = 0; k < this.txq.vq.size && this.txq.vq.popUsed() !== undefined; k++) n++;
    for (let k = 0; k < this.rxq.vq.size; k++) {
      const addr = this.rxq.vq.popUsed();
      if (addr === undefined) break;
      n++;
      const len = this.rxq.vq.lastUsedLen;
      if (len >= VSOCK_HEADER_SIZE) {
        const bytes = Buffer.from(this.a.memory.bytes(addr, len));
        const h = decodeVsockHeader(bytes);
        this.received.push({ h, payload: bytes.subarray(VSOCK_HEADER_SIZE, VSOCK_HEADER_SIZE + Math.min(h.len, len - VSOCK_HEADER_SIZE)), usedLen: len });
        this.postRx(addr, this.rxLen.get(addr) ?? this.o.rxBufferBytes);
      } else this.shortRx.push(len); // refused by the device: not offered again (that would only loop)
    }
    for (let k = 0; k < this.evq.vq.size; k++) {
      const addr = this.evq.vq.popUsed();
      if (addr === undefined) break;
      n++;
      this.events.push(this.evq.vq.lastUsedLen >= 4 ? this.a.memory.read32(addr) : -1);
      this.evq.vq.addBuffer(addr, 4, true, addr);
    }
    this.rxq.kick();
    this.evq.kick();
    return n;
  }

  reset(): void {}
}
