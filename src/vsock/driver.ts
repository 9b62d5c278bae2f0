/**
 * The virtio-vsock driver (VIRTIO 1.2 §5.10): the guest side, whose CID the device publishes in config space; in
 * TZ-VirtIO the non-secure partition. It owns every buffer, all in the transport's pool:
 *
 *   pool: [pad] [rx buffers: rxBuffers × rxStride] [tx slots: txSlots × txStride] [event buffers: 4 B each]
 *   buffer:       [44-byte header][payload ........................][pad to 64]
 *                                 ^ 64-byte aligned (stride = 44 + size rounded up to 64, first header at −44 mod 64)
 *
 * Every payload starts on a 64-byte boundary. This matters more than it looks: V8 copies between a SharedArrayBuffer
 * and any other array with relaxed atomic loads and stores, a machine word at a time when source and destination
 * have the same alignment and a byte at a time when they do not (several times slower); the application's Buffers are
 * 8-byte aligned, so an aligned payload keeps every copy word-wise.
 *
 * rx buffers stay posted on queue 0 (re-posted as soon as a packet was taken out), tx slots go out on queue 1 one
 * packet each and come back on its used ring, event buffers stay posted on queue 2. With `splitHeader` every buffer is
 * two descriptors (header, payload) as Linux posts them; otherwise one.
 */
import { VirtioFeature, copyBytes, features, isVirtioError } from '../virtio/index.js';
import type { DriverActivation, DriverQueue, VirtioDriver } from '../virtio/device.js';
import type { PhysicalMemory } from '../virtio/memory.js';
import {
  VIRTIO_ID_VSOCK,
  VMADDR_CID_HOST,
  VSOCK_CONFIG_SIZE,
  VSOCK_DEFAULT_RX_BUF_SIZE,
  VSOCK_EVENT_SIZE,
  VSOCK_EVENT_TRANSPORT_RESET,
  VSOCK_HEADER_SIZE,
  VSOCK_MAX_PKT_PAYLOAD,
  VSOCK_QUEUE_EVENT,
  VSOCK_QUEUE_RX,
  VSOCK_QUEUE_TX,
  VIRTIO_VSOCK_F_SEQPACKET,
} from './constants.js';
import { VsockError, VsockErrorCode } from './errors.js';
import { decodeVsockConfig, emptyHeader, readHeader, writeHeader, type VsockHeader } from './header.js';
import { FlushScheduler } from './flush-scheduler.js';
import { VsockEndpoint, type PacketOut, type VsockEndpointOptions } from './endpoint.js';
import type { VsockServer, VsockSocketOptions } from './server.js';
import type { VsockSocket } from './socket.js';

/** Payloads start on this boundary (see the file comment). */
const PAYLOAD_ALIGN = 64;
const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

export interface VsockDriverOptions extends VsockEndpointOptions {
  /** Size of each queue (capped by the device's maximum). Default 128. */
  readonly queueSize?: number;
  /** Payload bytes of each rx buffer. Default 4096 (Linux's VIRTIO_VSOCK_DEFAULT_RX_BUF_SIZE). */
  readonly rxBufferSize?: number;
  /** Rx buffers posted. Default: the rx queue size (halved with splitHeader). */
  readonly rxBuffers?: number;
  /** Payload bytes of each tx slot (the largest packet we send). Default 4096; at most 64 KiB. */
  readonly txBufferSize?: number;
  /** Tx slots (packets in flight). Default 32. */
  readonly txSlots?: number;
  /** Event buffers posted. Default 4. */
  readonly eventBuffers?: number;
  /** Header and payload in separate descriptors (as Linux). Default false: one descriptor per buffer. */
  readonly splitHeader?: boolean;
  /** Accept RING_PACKED when offered. Default true. */
  readonly packed?: boolean;
  /** Accept EVENT_IDX when offered. Default true. */
  readonly eventIdx?: boolean;
  /** Schedules a flush asked for outside interrupt(). Default: a microtask. */
  readonly schedule?: (fn: () => void) => void;
  /** Accept VIRTIO_VSOCK_F_SEQPACKET when offered. Default true. */
  readonly seqpacket?: boolean;
}

export interface VsockDriverStats {
  /** Used rx buffers whose length could not hold a header plus its len, or exceeded the buffer. */
  badBuffers: number;
  transportResets: number;
  /** Errors of the device side of the rings (VirtioError from popUsed). */
  ringErrors: number;
  lastRingError: string | undefined;
}

export class VsockDriver implements VirtioDriver {
  readonly deviceType = VIRTIO_ID_VSOCK;
  readonly endpoint: VsockEndpoint;
  readonly poolBytes: number;
  readonly stats: VsockDriverStats = { badBuffers: 0, transportResets: 0, ringErrors: 0, lastRingError: undefined };
  private readonly o: {
    queueSize: number;
    rxBufferSize: number;
    rxBuffers: number;
    txBufferSize: number;
    txSlots: number;
    eventBuffers: number;
    splitHeader: boolean;
    packed: boolean;
    eventIdx: boolean;
    seqpacket: boolean;
  };
  private guestCidValue = -1;
  private act: DriverActivation | undefined;
  private memory: PhysicalMemory | undefined;
  private rxq: DriverQueue | undefined;
  private txq: DriverQueue | undefined;
  private evq: DriverQueue | undefined;
  private rxBase = 0;
  private txBase = 0;
  private evBase = 0;
  private readonly rxStride: number;
  private readonly txStride: number;
  private readonly freeTx: number[] = [];
  private reservedTx = -1;
  private txDirty = false;
  private rxDirty = false;
  private evDirty = false;
  private interrupting = false;
  private interruptAgain = false;
  private readonly flush: FlushScheduler;
  private readonly h: VsockHeader = emptyHeader();
  private readonly out: PacketOut;

  constructor(opts: VsockDriverOptions = {}) {
    const queueSize = opts.queueSize ?? 128;
    const splitHeader = opts.splitHeader ?? false;
    const txBufferSize = opts.txBufferSize ?? VSOCK_DEFAULT_RX_BUF_SIZE;
    this.o = {
      queueSize,
      rxBufferSize: opts.rxBufferSize ?? VSOCK_DEFAULT_RX_BUF_SIZE,
      rxBuffers: opts.rxBuffers ?? (splitHeader ? queueSize >> 1 : queueSize),
      txBufferSize,
      txSlots: opts.txSlots ?? 32,
      eventBuffers: opts.eventBuffers ?? 4,
      splitHeader,
      packed: opts.packed ?? true,
      eventIdx: opts.eventIdx ?? true,
      seqpacket: opts.seqpacket ?? true,
    };
    for (const [k, v, lo, hi] of [
      ['queueSize', queueSize, 1, 32768],
      ['rxBufferSize', this.o.rxBufferSize, 1, VSOCK_MAX_PKT_PAYLOAD],
      ['rxBuffers', this.o.rxBuffers, 1, 32768],
      ['txBufferSize', txBufferSize, 1, VSOCK_MAX_PKT_PAYLOAD],
      ['txSlots', this.o.txSlots, 1, 32768],
      ['eventBuffers', this.o.eventBuffers, 1, 32768],
    ] as const) {
      if (!Number.isInteger(v) || v < lo || v > hi) throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `${k} ${v} must be an integer in ${lo}..${hi}`);
    }
    this.rxStride = alignUp(VSOCK_HEADER_SIZE + this.o.rxBufferSize, PAYLOAD_ALIGN);
    this.txStride = alignUp(VSOCK_HEADER_SIZE + txBufferSize, PAYLOAD_ALIGN);
    // PAYLOAD_ALIGN bytes of slack for the first header's placement, wherever the transport puts the pool
    this.poolBytes = PAYLOAD_ALIGN + this.o.rxBuffers * this.rxStride + this.o.txSlots * this.txStride + this.o.eventBuffers * VSOCK_EVENT_SIZE + 64;
    this.flush = new FlushScheduler(() => this.interrupt(), opts.schedule);
    this.endpoint = new VsockEndpoint(
      () => this.guestCidValue,
      () => VMADDR_CID_HOST,
      { maxPacketPayload: txBufferSize, ...opts, onWork: () => this.flush.request() },
    );
    this.out = { room: () => this.room(), send: (h, src, off) => this.sendPacket(h, src, off) };
  }

  /** The CID the device gave us (-1 before activation). */
  get guestCid(): number {
    return this.guestCidValue;
  }

  get active(): boolean {
    return this.act !== undefined;
  }

  /** A listening port; `{ seqpacket: true }` for SEQPACKET (VIRTIO_VSOCK_F_SEQPACKET negotiated). */
  createServer(onConnection?: (s: VsockSocket) => void, opts?: VsockSocketOptions): VsockServer {
    return this.endpoint.createServer(onConnection, opts);
  }

  /** Connects to a port of the host (CID 2, the device side). */
  connect(port: number, cid?: number, opts?: VsockSocketOptions): VsockSocket {
    if (this.act === undefined) throw new VsockError(VsockErrorCode.NOT_ACTIVE, 'the vsock driver is not active yet (no guest CID)');
    return this.endpoint.connect(port, cid, opts);
  }

  // ---------------------------------------------------------------------------------------------------- VirtioDriver

  negotiate(offered: bigint): bigint {
    let want = features(VirtioFeature.VERSION_1, VirtioFeature.INDIRECT_DESC);
    if (this.o.packed) want |= features(VirtioFeature.RING_PACKED);
    if (this.o.eventIdx) want |= features(VirtioFeature.EVENT_IDX);
    if (this.o.seqpacket) want |= features(VIRTIO_VSOCK_F_SEQPACKET);
    return offered & want;
  }

  queueSizes(maxSizes: readonly number[]): readonly number[] {
    if (maxSizes.length < 3) throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `a vsock device has 3 queues, this one ${maxSizes.length}`);
    return maxSizes.slice(0, 3).map((m) => Math.min(m, this.o.queueSize));
  }

  activate(a: DriverActivation): void {
    const cfg = new Uint8Array(VSOCK_CONFIG_SIZE);
    a.readConfig(0, cfg);
    const cid = decodeVsockConfig(cfg).guestCid;
    if (cid <= VMADDR_CID_HOST || cid >= 0xffffffff) throw new VsockError(VsockErrorCode.BAD_CID, `the device gave guest CID ${cid}`);
    if (a.pool.size < this.poolBytes) throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `pool of ${a.pool.size} bytes, ${this.poolBytes} needed`);
    this.guestCidValue = cid;
    this.act = a;
    this.endpoint.setSeqpacket((a.features & features(VIRTIO_VSOCK_F_SEQPACKET)) !== 0n);
    this.memory = a.memory;
    this.rxq = a.queues[VSOCK_QUEUE_RX];
    this.txq = a.queues[VSOCK_QUEUE_TX];
    this.evq = a.queues[VSOCK_QUEUE_EVENT];
    this.rxBase = alignUp(a.pool.base + VSOCK_HEADER_SIZE, PAYLOAD_ALIGN) - VSOCK_HEADER_SIZE;
    this.txBase = this.rxBase + this.o.rxBuffers * this.rxStride;
    this.evBase = this.txBase + this.o.txSlots * this.txStride;
    this.freeTx.length = 0;
    for (let i = this.o.txSlots - 1; i >= 0; i--) this.freeTx.push(i);
    this.reservedTx = -1;
    const rxCount = Math.min(this.o.rxBuffers, this.rxq ? Math.floor(this.rxq.vq.size / (this.o.splitHeader ? 2 : 1)) : 0);
    for (let i = 0; i < rxCount; i++) this.postRx(i);
    const evCount = Math.min(this.o.eventBuffers, this.evq?.vq.size ?? 0);
    for (let i = 0; i < evCount; i++) this.evq!.vq.addBuffer(this.evBase + i * VSOCK_EVENT_SIZE, VSOCK_EVENT_SIZE, true, i);
    this.rxq?.kick();
    this.evq?.kick();
    this.rxDirty = false;
    this.endpoint.setOutput(this.txq ? this.out : undefined);
  }

  /** Not re-entrant, like VsockDevice.poll(): a call from inside a stream handler asks for another round instead. */
  interrupt(): number {
    if (this.act === undefined) return 0;
    if (this.interrupting) {
      this.interruptAgain = true;
      return 0;
    }
    this.interrupting = true;
    let n = 0;
    try {
      for (let round = 0; round < 4; round++) {
        this.interruptAgain = false;
        n += this.interruptOnce();
        if (!this.interruptAgain || this.act === undefined) break;
      }
    } finally {
      this.interrupting = false;
    }
    return n;
  }

  private interruptOnce(): number {
    let n = 0;
    try {
      n += this.reclaimTx();
      n += this.receiveRx();
      n += this.receiveEvents();
    } catch (e) {
      // the device broke a ring rule (popUsed): stop using the device until it is reset
      if (!isVirtioError(e)) throw e;
      this.stats.ringErrors++;
      this.stats.lastRingError = e.message;
      this.endpoint.setOutput(undefined);
      this.endpoint.resetAll(VsockErrorCode.TRANSPORT_RESET, `the device broke a ring rule: ${e.message}`);
      this.act = undefined;
      return n;
    }
    return n + this.flushAll();
  }

  reset(): void {
    this.endpoint.setOutput(undefined);
    this.act = undefined;
    this.memory = undefined;
    this.rxq = this.txq = this.evq = undefined;
    this.reservedTx = -1;
    this.endpoint.resetAll(VsockErrorCode.TRANSPORT_RESET, 'the virtio device was reset');
  }

  // ---------------------------------------------------------------------------------------------------- rx: device → driver

  private rxAddr(slot: number): number {
    return this.rxBase + slot * this.rxStride;
  }

  private postRx(slot: number): void {
    const q = this.rxq!;
    const addr = this.rxAddr(slot);
    if (this.o.splitHeader) q.vq.add([], [{ addr, len: VSOCK_HEADER_SIZE }, { addr: addr + VSOCK_HEADER_SIZE, len: this.o.rxBufferSize }], slot);
    else q.vq.addBuffer(addr, VSOCK_HEADER_SIZE + this.o.rxBufferSize, true, slot);
    this.rxDirty = true;
  }

  private receiveRx(): number {
    const q = this.rxq;
    const mem = this.memory;
    if (q === undefined || mem === undefined) return 0;
    const cap = VSOCK_HEADER_SIZE + this.o.rxBufferSize;
    let n = 0;
    for (; n < q.vq.size; n++) {
      const slot = q.vq.popUsed();
      if (slot === undefined) break;
      const len = q.vq.lastUsedLen;
      const addr = this.rxAddr(slot);
      if (len < VSOCK_HEADER_SIZE || len > cap) {
        this.stats.badBuffers++;
        this.endpoint.count(VsockErrorCode.BAD_BUFFER, `rx buffer ${slot} came back with used.len ${len} (header 44, buffer ${cap})`);
      } else {
        const r = mem.regionFor(addr, cap);
        const h = readHeader(r.view, addr - r.base, this.h);
        if (h.len > len - VSOCK_HEADER_SIZE) {
          this.endpoint.reject(h, VsockErrorCode.BAD_LEN, `header len ${h.len} exceeds the ${len - VSOCK_HEADER_SIZE} bytes the device wrote`);
        } else {
          this.endpoint.receive(h, h.len === 0 ? undefined : mem.bytes(addr + VSOCK_HEADER_SIZE, h.len), false);
        }
      }
      if (this.act === undefined) return n + 1;
      this.postRx(slot);
    }
    return n;
  }

  private receiveEvents(): number {
    const q = this.evq;
    const mem = this.memory;
    if (q === undefined || mem === undefined) return 0;
    let n = 0;
    for (; n < q.vq.size; n++) {
      const slot = q.vq.popUsed();
      if (slot === undefined) break;
      const addr = this.evBase + slot * VSOCK_EVENT_SIZE;
      if (q.vq.lastUsedLen >= VSOCK_EVENT_SIZE && mem.read32(addr) === VSOCK_EVENT_TRANSPORT_RESET) this.onTransportReset();
      else this.endpoint.count(VsockErrorCode.BAD_BUFFER, `event buffer ${slot}: used.len ${q.vq.lastUsedLen}, id ${mem.read32(addr)}`);
      q.vq.addBuffer(addr, VSOCK_EVENT_SIZE, true, slot);
      this.evDirty = true;
    }
    return n;
  }

  /** §5.10.6.5: every connection is gone; the guest CID may have changed (re-read it). */
  private onTransportReset(): void {
    this.stats.transportResets++;
    this.endpoint.resetAll(VsockErrorCode.TRANSPORT_RESET, 'the device reset the vsock transport');
    const cfg = new Uint8Array(VSOCK_CONFIG_SIZE);
    this.act!.readConfig(0, cfg);
    const cid = decodeVsockConfig(cfg).guestCid;
    if (cid > VMADDR_CID_HOST && cid < 0xffffffff) this.guestCidValue = cid;
  }

  // ---------------------------------------------------------------------------------------------------- tx: driver → device

  private reclaimTx(): number {
    const q = this.txq;
    if (q === undefined) return 0;
    let n = 0;
    for (; n < q.vq.size; n++) {
      const slot = q.vq.popUsed();
      if (slot === undefined) break;
      this.freeTx.push(slot);
    }
    return n;
  }

  private room(): number {
    const q = this.txq;
    if (q === undefined) return -1;
    if (this.reservedTx < 0) {
      if (this.freeTx.length === 0 || q.vq.numFree < (this.o.splitHeader ? 2 : 1)) return -1;
      this.reservedTx = this.freeTx.pop()!;
    }
    return this.o.txBufferSize;
  }

  private sendPacket(h: VsockHeader, src: Uint8Array | undefined, off: number): void {
    const q = this.txq!;
    const mem = this.memory!;
    const slot = this.reservedTx;
    this.reservedTx = -1;
    const addr = this.txBase + slot * this.txStride;
    const r = mem.regionFor(addr, VSOCK_HEADER_SIZE + h.len);
    const o = addr - r.base;
    writeHeader(r.view, o, h);
    // the one copy of the payload, into an aligned slot (word-wise, see the file comment); no view is made when the
    // packet carries the whole chunk
    if (h.len > 0) copyBytes(r.u8, o + VSOCK_HEADER_SIZE, src!, off, h.len);
    if (this.o.splitHeader && h.len > 0) q.vq.add([{ addr, len: VSOCK_HEADER_SIZE }, { addr: addr + VSOCK_HEADER_SIZE, len: h.len }], [], slot);
    else q.vq.addBuffer(addr, VSOCK_HEADER_SIZE + h.len, false, slot);
    this.txDirty = true;
  }

  // ---------------------------------------------------------------------------------------------------- plumbing

  private flushAll(): number {
    if (this.act === undefined) return 0;
    const n = this.endpoint.flush();
    if (this.txDirty) {
      this.txDirty = false;
      this.txq!.kick();
    }
    if (this.rxDirty) {
      this.rxDirty = false;
      this.rxq!.kick();
    }
    if (this.evDirty) {
      this.evDirty = false;
      this.evq!.kick();
    }
    return n;
  }
}
