/**
 * The virtio-vsock device (VIRTIO 1.2 §5.10): the host side, CID 2, which in TZ-VirtIO is the secure partition.
 * Queues: 0 rx (the driver posts writable buffers; we fill them with packets for the guest), 1 tx (the driver's
 * packets for us), 2 event (writable buffers for TRANSPORT_RESET). Config space: u64 guest_cid (§5.10.4).
 *
 * Trust: everything the driver wrote is hostile. A tx chain is accepted only with a readable header of 44 bytes and
 * a len no larger than the readable bytes after it (and at most 64 KiB); an rx or event buffer too small for what we
 * must write is returned with used.len 0 and counted; a ring rule broken (VirtioError from pop) stops the device and
 * asks the transport for DEVICE_NEEDS_RESET. We write only into writable segments of chains the driver gave us
 * (checked inside the device's memory by DescriptorChain.push) and the used rings. Every loop is bounded by a
 * queue size.
 *
 * Notifications (§2.7.10, §2.8.10; what vhost does): the driver's kicks are wanted on the tx queue only while the
 * device is idle (off during a poll, back on at its end, with a re-check for chains that came meanwhile), and on the
 * rx and event queues only while a packet or event waits for a buffer (a driver re-posting rx buffers then costs
 * no notification). Used buffers of all queues are published once per poll, and the interrupt raised once per
 * distinct queue notifier (one line for the device on every transport here).
 */
import { VirtioFeature, features, isVirtioError, DescriptorChain } from '../virtio/index.js';
import type { DeviceActivation, DeviceQueue, VirtioDevice } from '../virtio/device.js';
import type { PhysicalMemory } from '../virtio/memory.js';
import {
  VIRTIO_ID_VSOCK,
  VMADDR_CID_HOST,
  VSOCK_CONFIG_SIZE,
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
import { emptyHeader, encodeVsockConfig, readHeader, writeHeader, type VsockHeader } from './header.js';
import { FlushScheduler } from './flush-scheduler.js';
import { VsockEndpoint, type PacketOut, type VsockEndpointOptions } from './endpoint.js';
import { readableView } from './chain-io.js';
import type { VsockServer, VsockSocketOptions } from './server.js';
import type { VsockSocket } from './socket.js';

export interface VsockDeviceOptions extends VsockEndpointOptions {
  /** The guest's CID, published in config space. Default 3 (the first guest CID). */
  readonly guestCid?: number;
  /** Largest size of each of the three queues. Default 256. */
  readonly queueMaxSize?: number;
  /**
   * How to run a flush asked for outside poll() (a write from application code). Default: a microtask. A runtime that
   * owns the device's thread passes its own scheduler.
   */
  readonly schedule?: (fn: () => void) => void;
  /** Offer VIRTIO_VSOCK_F_SEQPACKET (§5.10.3). Default true. */
  readonly seqpacket?: boolean;
}

export interface VsockDeviceStats {
  /** Ring rules the driver broke (VirtioError from the virtqueue); the device then needs a reset. */
  ringErrors: number;
  lastRingError: string | undefined;
  /** Rx / event buffers returned unused because they could not hold what we had to write. */
  badBuffers: number;
  transportResets: number;
  eventsSent: number;
}

const DEVICE_FEATURES = features(VirtioFeature.VERSION_1, VirtioFeature.RING_PACKED, VirtioFeature.EVENT_IDX, VirtioFeature.INDIRECT_DESC);
const SEQPACKET = features(VIRTIO_VSOCK_F_SEQPACKET);

export class VsockDevice implements VirtioDevice {
  readonly deviceType = VIRTIO_ID_VSOCK;
  readonly deviceFeatures: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = VSOCK_CONFIG_SIZE;
  readonly endpoint: VsockEndpoint;
  readonly stats: VsockDeviceStats = { ringErrors: 0, lastRingError: undefined, badBuffers: 0, transportResets: 0, eventsSent: 0 };
  private guestCidValue: number;
  private config: Uint8Array;
  private act: DeviceActivation | undefined;
  private memory: PhysicalMemory | undefined;
  private rxq: DeviceQueue | undefined;
  private txq: DeviceQueue | undefined;
  private evq: DeviceQueue | undefined;
  private rxChain: DescriptorChain | undefined;
  private txChain: DescriptorChain | undefined;
  private evChain: DescriptorChain | undefined;
  /** An rx chain popped for the next packet and not used yet. */
  private rxReserved = false;
  private rxDirty = false;
  private evDirty = false;
  /** Per queue index: kicks were asked for because a buffer was missing (rx, event). */
  private readonly kicksWanted: boolean[] = [];
  /** Queues whose used ring asks for an interrupt, raised at the end of poll(). */
  private txIrq = false;
  private rxIrq = false;
  private evIrq = false;
  private pendingResetEvent = false;
  private broken = false;
  private polling = false;
  private pollAgain = false;
  private readonly flush: FlushScheduler;
  private readonly h: VsockHeader = emptyHeader();
  private readonly scratch = new Uint8Array(VSOCK_HEADER_SIZE);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly out: PacketOut;

  constructor(opts: VsockDeviceOptions = {}) {
    const cid = opts.guestCid ?? 3;
    if (!Number.isSafeInteger(cid) || cid <= VMADDR_CID_HOST || cid >= 0xffffffff) {
      throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `guest CID ${cid} must be above ${VMADDR_CID_HOST} and below 0xffffffff`);
    }
    this.guestCidValue = cid;
    this.config = encodeVsockConfig(cid);
    this.deviceFeatures = DEVICE_FEATURES | (opts.seqpacket === false ? 0n : SEQPACKET);
    const max = opts.queueMaxSize ?? 256;
    this.queueMaxSizes = [max, max, max];
    this.flush = new FlushScheduler(() => this.poll(), opts.schedule);
    this.endpoint = new VsockEndpoint(
      () => VMADDR_CID_HOST,
      () => this.guestCidValue,
      { ...opts, onWork: () => this.flush.request() },
    );
    this.out = { room: () => this.room(), send: (h, src, off) => this.sendPacket(h, src, off) };
  }

  get guestCid(): number {
    return this.guestCidValue;
  }

  /** Whether the device is live (DRIVER_OK seen, not broken, not reset). */
  get active(): boolean {
    return this.act !== undefined && !this.broken;
  }

  /** A listening port; `{ seqpacket: true }` for SEQPACKET (VIRTIO_VSOCK_F_SEQPACKET negotiated). */
  createServer(onConnection?: (s: VsockSocket) => void, opts?: VsockSocketOptions): VsockServer {
    return this.endpoint.createServer(onConnection, opts);
  }

  /** Connects to a port of the guest (`cid` must be the guest's, when given). */
  connect(port: number, cid?: number, opts?: VsockSocketOptions): VsockSocket {
    return this.endpoint.connect(port, cid, opts);
  }

  // ---------------------------------------------------------------------------------------------------- VirtioDevice

  readConfig(offset: number, dest: Uint8Array): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + dest.length > VSOCK_CONFIG_SIZE) {
      throw new VsockError(VsockErrorCode.CONFIG_RANGE, `config read of ${dest.length} bytes at ${offset} is outside the 8-byte vsock config`);
    }
    dest.set(this.config.subarray(offset, offset + dest.length));
  }

  writeConfig(offset: number, data: Uint8Array): void {
    throw new VsockError(VsockErrorCode.CONFIG_READ_ONLY, `the vsock config space (guest_cid) is read-only; ${data.length} bytes written at ${offset}`);
  }

  activate(a: DeviceActivation): void {
    this.act = a;
    this.memory = a.memory;
    this.broken = false;
    this.endpoint.setSeqpacket((a.features & SEQPACKET) !== 0n);
    const [rx, tx, ev] = [a.queues[VSOCK_QUEUE_RX], a.queues[VSOCK_QUEUE_TX], a.queues[VSOCK_QUEUE_EVENT]];
    this.rxq = rx;
    this.txq = tx;
    this.evq = ev;
    this.rxChain = rx ? new DescriptorChain(rx.vq.size) : undefined;
    this.txChain = tx ? new DescriptorChain(tx.vq.size) : undefined;
    this.evChain = ev ? new DescriptorChain(ev.vq.size) : undefined;
    this.rxReserved = false;
    rx?.vq.disableNotifications();
    ev?.vq.disableNotifications();
    this.kicksWanted.length = 0;
    this.endpoint.setOutput(rx ? this.out : undefined);
  }

  queueNotify(index: number): void {
    this.poll();
    void index;
  }

  /**
   * Takes the driver's packets and sends ours. Not re-entrant: a stream handler that calls poll() (or the transport
   * notifying from inside one) only asks for another round, which the running poll() does before it returns, so a
   * popped chain is never overwritten while it is being handled.
   */
  poll(): number {
    if (this.polling) {
      this.pollAgain = true;
      return 0;
    }
    this.polling = true;
    let n = 0;
    try {
      const tx = this.txq;
      let idle = false;
      tx?.vq.disableNotifications();
      for (let round = 0; round < 4; round++) {
        this.pollAgain = false;
        n += this.processTx();
        n += this.flushAll();
        if (this.pollAgain) continue;
        // idle: kicks wanted again; a chain the driver added before it could see that is one more round
        if (tx === undefined || this.broken || tx.vq.enableNotifications()) {
          idle = true;
          break;
        }
        tx.vq.disableNotifications();
      }
      if (!idle && tx !== undefined && !this.broken) {
        // rounds used up with work left: kicks on, and another poll soon
        tx.vq.enableNotifications();
        this.flush.request();
      }
      this.raiseInterrupts();
    } finally {
      this.polling = false;
    }
    return n;
  }

  /** One interrupt per distinct queue notifier whose used ring asked for one during this poll. */
  private raiseInterrupts(): void {
    const { txq, rxq, evq } = this;
    const tx = this.txIrq && txq !== undefined;
    const rx = this.rxIrq && rxq !== undefined;
    const ev = this.evIrq && evq !== undefined;
    this.txIrq = this.rxIrq = this.evIrq = false;
    if (tx) txq.notify();
    if (rx && !(tx && rxq.notify === txq!.notify)) rxq.notify();
    if (ev && !(tx && evq.notify === txq!.notify) && !(rx && evq.notify === rxq!.notify)) evq.notify();
  }

  reset(): void {
    this.endpoint.setOutput(undefined);
    this.act = undefined;
    this.memory = undefined;
    this.rxq = this.txq = this.evq = undefined;
    this.rxReserved = false;
    this.rxDirty = this.evDirty = false;
    this.pendingResetEvent = false;
    this.broken = false;
    this.endpoint.resetAll(VsockErrorCode.TRANSPORT_RESET, 'the virtio device was reset');
  }

  // ---------------------------------------------------------------------------------------------------- device-side resets

  /**
   * The device lost its connections (the secure side restarted its socket layer, or the guest CID changed): every
   * socket is reset without packets, and VIRTIO_VSOCK_EVENT_TRANSPORT_RESET goes to the driver on the event queue
   * (§5.10.6.5), after which the driver resets its own sockets and re-reads guest_cid.
   */
  transportReset(newGuestCid?: number): void {
    this.stats.transportResets++;
    this.endpoint.resetAll(VsockErrorCode.TRANSPORT_RESET, 'the vsock transport was reset by the device');
    if (newGuestCid !== undefined && newGuestCid !== this.guestCidValue) {
      if (!Number.isSafeInteger(newGuestCid) || newGuestCid <= VMADDR_CID_HOST || newGuestCid >= 0xffffffff) {
        throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `guest CID ${newGuestCid} must be above ${VMADDR_CID_HOST} and below 0xffffffff`);
      }
      this.guestCidValue = newGuestCid;
      this.config = encodeVsockConfig(newGuestCid);
      this.act?.configChanged();
    }
    this.pendingResetEvent = true;
    this.poll();
  }

  // ---------------------------------------------------------------------------------------------------- tx: driver → device

  private processTx(): number {
    const q = this.txq;
    const c = this.txChain;
    const mem = this.memory;
    if (q === undefined || c === undefined || mem === undefined || this.broken) return 0;
    let n = 0;
    // bounded: at most one queue's worth per call; the rest waits for the next poll
    for (; n < q.vq.size; n++) {
      if (!this.pop(q, c)) break;
      this.handleTx(mem, c);
      q.vq.pushUsed(c.head, 0);
    }
    if (n > 0 && q.vq.publishUsed()) this.txIrq = true;
    return n;
  }

  private handleTx(mem: PhysicalMemory, c: DescriptorChain): void {
    const ep = this.endpoint;
    if (c.readableBytes < VSOCK_HEADER_SIZE) {
      this.stats.badBuffers++;
      ep.count(VsockErrorCode.BAD_BUFFER, `tx chain ${c.head} has ${c.readableBytes} readable bytes, less than a 44-byte header`);
      return;
    }
    const h = this.h;
    const first = c.readable > 0 ? c.len[0]! : 0;
    if (first >= VSOCK_HEADER_SIZE) {
      const r = mem.regionFor(c.addr[0]!, VSOCK_HEADER_SIZE);
      readHeader(r.view, c.addr[0]! - r.base, h);
    } else {
      c.gather(mem, 0, this.scratch, 0, VSOCK_HEADER_SIZE);
      readHeader(this.scratchView, 0, h);
    }
    const avail = c.readableBytes - VSOCK_HEADER_SIZE;
    if (h.len > avail || h.len > VSOCK_MAX_PKT_PAYLOAD) {
      ep.reject(h, VsockErrorCode.BAD_LEN, `header len ${h.len} exceeds the ${Math.min(avail, VSOCK_MAX_PKT_PAYLOAD)} bytes the packet can carry`);
      return;
    }
    if (h.len === 0) {
      ep.receive(h, undefined, false);
      return;
    }
    const view = readableView(mem, c, VSOCK_HEADER_SIZE, h.len);
    if (view !== undefined) ep.receive(h, view, false);
    else {
      const data = Buffer.allocUnsafe(h.len);
      c.gather(mem, VSOCK_HEADER_SIZE, data, 0, h.len);
      ep.receive(h, data, true);
    }
  }

  // ---------------------------------------------------------------------------------------------------- rx: device → driver

  /** Payload room of the next rx buffer (popping one when none is reserved); -1 when the driver posted none. */
  private room(): number {
    const q = this.rxq;
    const c = this.rxChain;
    if (q === undefined || c === undefined || this.broken) return -1;
    if (this.rxReserved) return Math.min(c.writableBytes - VSOCK_HEADER_SIZE, VSOCK_MAX_PKT_PAYLOAD);
    for (let k = 0; k < q.vq.size; k++) {
      if (!this.popWaiting(q, c)) return -1;
      if (c.readable > 0 || c.writableBytes < VSOCK_HEADER_SIZE) {
        this.stats.badBuffers++;
        this.endpoint.count(VsockErrorCode.BAD_BUFFER, `rx chain ${c.head} (${c.readableBytes} readable, ${c.writableBytes} writable bytes) cannot take a packet`);
        q.vq.pushUsed(c.head, 0);
        this.rxDirty = true;
        continue;
      }
      this.rxReserved = true;
      return Math.min(c.writableBytes - VSOCK_HEADER_SIZE, VSOCK_MAX_PKT_PAYLOAD);
    }
    return -1;
  }

  private sendPacket(h: VsockHeader, src: Uint8Array | undefined, off: number): void {
    const q = this.rxq!;
    const c = this.rxChain!;
    const mem = this.memory!;
    const firstW = c.readable;
    if (c.len[firstW]! >= VSOCK_HEADER_SIZE) {
      const r = mem.regionFor(c.addr[firstW]!, VSOCK_HEADER_SIZE);
      writeHeader(r.view, c.addr[firstW]! - r.base, h);
    } else {
      writeHeader(this.scratchView, 0, h);
      c.scatter(mem, 0, this.scratch, 0, VSOCK_HEADER_SIZE);
    }
    if (h.len > 0) c.scatter(mem, VSOCK_HEADER_SIZE, src!, off, h.len);
    q.vq.pushUsed(c.head, VSOCK_HEADER_SIZE + h.len);
    this.rxReserved = false;
    this.rxDirty = true;
  }

  // ---------------------------------------------------------------------------------------------------- event queue

  private flushEvents(): number {
    const q = this.evq;
    const c = this.evChain;
    const mem = this.memory;
    if (!this.pendingResetEvent || q === undefined || c === undefined || mem === undefined || this.broken) return 0;
    for (let k = 0; k < q.vq.size; k++) {
      if (!this.popWaiting(q, c)) return 0;
      if (c.writableBytes < VSOCK_EVENT_SIZE) {
        this.stats.badBuffers++;
        this.endpoint.count(VsockErrorCode.BAD_BUFFER, `event chain ${c.head} has ${c.writableBytes} writable bytes, less than an event`);
        q.vq.pushUsed(c.head, 0);
        this.evDirty = true;
        continue;
      }
      const ev = new Uint8Array(VSOCK_EVENT_SIZE);
      new DataView(ev.buffer).setUint32(0, VSOCK_EVENT_TRANSPORT_RESET, true);
      c.scatter(mem, 0, ev, 0, VSOCK_EVENT_SIZE);
      q.vq.pushUsed(c.head, VSOCK_EVENT_SIZE);
      this.evDirty = true;
      this.pendingResetEvent = false;
      this.stats.eventsSent++;
      return 1;
    }
    return 0;
  }

  // ---------------------------------------------------------------------------------------------------- plumbing

  /** Sends what the endpoint has for the rx buffers we have, the pending event, and publishes. */
  private flushAll(): number {
    if (this.act === undefined || this.broken) return 0;
    let n = this.flushEvents();
    n += this.endpoint.flush();
    if (this.rxDirty && this.rxq) {
      this.rxDirty = false;
      if (this.rxq.vq.publishUsed()) this.rxIrq = true;
    }
    if (this.evDirty && this.evq) {
      this.evDirty = false;
      if (this.evq.vq.publishUsed()) this.evIrq = true;
    }
    return n;
  }

  /**
   * pop() on a queue whose buffers we need now (rx, event): when there is none, ask the driver to kick once it posts
   * one, and take one that came before the driver could see that; when there is one, kicks are off again.
   */
  private popWaiting(q: DeviceQueue, c: DescriptorChain): boolean {
    const w = this.kicksWanted;
    if (this.pop(q, c)) {
      if (w[q.index] === true) {
        w[q.index] = false;
        q.vq.disableNotifications();
      }
      return true;
    }
    if (this.broken || q.vq.enableNotifications()) {
      w[q.index] = !this.broken;
      return false;
    }
    q.vq.disableNotifications();
    w[q.index] = false;
    return this.pop(q, c);
  }

  /** vq.pop, with a broken ring turned into DEVICE_NEEDS_RESET instead of an exception. */
  private pop(q: DeviceQueue, c: DescriptorChain): boolean {
    try {
      return q.vq.pop(c);
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.stats.ringErrors++;
      this.stats.lastRingError = e.message;
      this.broken = true;
      this.rxReserved = false;
      this.endpoint.setOutput(undefined);
      this.act?.needsReset(`queue ${q.index}: ${e.message}`);
      return false;
    }
  }
}
