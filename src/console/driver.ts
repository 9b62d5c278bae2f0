/**
 * The virtio-console driver role (§5.3), run by the non-secure partition; it behaves like Linux's
 * drivers/char/virtio_console.c so the device is exercised the way Linux exercises it:
 *
 * - activation: fills the control receiveq, then DEVICE_READY(BAD_ID, 1); without MULTIPORT port 0 is a console,
 *   open at once;
 * - PORT_ADD(id): fills the port's receiveq, answers PORT_READY(id, 1) (again if the port exists; ids beyond
 *   max_nr_ports or beyond the queues set up are refused, as Linux does);
 * - CONSOLE_PORT: the port becomes the console and is opened (PORT_OPEN 1), as hvc does;
 * - PORT_NAME: the port can now be found by name (`port(name)`, the 'port' event); a second name is ignored;
 * - PORT_OPEN from the device: writes wait while the host end is closed; a close ends our readable side (EOF);
 * - `port(name)` opens our end (PORT_OPEN 1), `end()` closes it (PORT_OPEN 0).
 *
 * Buffers: each queue owns `buffersPerQueue` fixed slots of `bufferSize` bytes in the pool (slot = token); receive
 * slots are posted device-writable and re-posted after each used buffer; transmit slots carry one piece of a write
 * each and come back free when used.
 *
 *   pool: [queue 0 slots][queue 1 slots][queue 2 slots]…   slot k of queue q at base + (q * buffersPerQueue + k) * bufferSize
 */
import { EventEmitter } from 'node:events';
import { VirtioFeature, features as featureMask, hasFeature, isVirtioError, type DriverActivation, type DriverQueue, type VirtioDriver } from '../virtio/index.js';
import { decodeConfig } from './config.js';
import {
  BAD_ID,
  CONFIG_SIZE,
  CONTROL_RX_QUEUE,
  CONTROL_TX_QUEUE,
  ConsoleFeature,
  ControlEvent,
  MAX_PORTS_LIMIT,
  VIRTIO_ID_CONSOLE,
  queueCount,
  receiveQueue,
  transmitQueue,
} from './constants.js';
import { controlSize, decodeControl, encodeControl, type ControlMessage } from './control.js';
import { ConsoleError, ConsoleErrorCode, isConsoleError } from './errors.js';
import { ConsolePort } from './port.js';
import { ConsoleRoleCore, type PortReceiver } from './role.js';
import type { ConsoleStats } from './stats.js';

export interface ConsoleDriverOptions {
  /** Ports the driver prepares queues and buffers for (it drives min(this, max_nr_ports)). Default 8. */
  readonly maxPorts?: number;
  /** Size of every queue (at most the device's maximum). Default 64. */
  readonly queueSize?: number;
  /** Bytes per buffer. Default 4096 (Linux uses PAGE_SIZE). */
  readonly bufferSize?: number;
  /** Buffers per queue (at most the queue size). Default: the queue size. */
  readonly buffersPerQueue?: number;
  /** Features the driver is willing to accept (AND-ed with what it understands). Default: all it understands. */
  readonly features?: bigint;
  /** highWaterMark of the port streams. Default Node's. */
  readonly highWaterMark?: number;
  readonly onError?: (e: ConsoleError) => void;
}

/** What this driver understands. */
export const DRIVER_FEATURES =
  featureMask(VirtioFeature.VERSION_1, VirtioFeature.EVENT_IDX, VirtioFeature.INDIRECT_DESC, VirtioFeature.RING_PACKED) |
  featureMask(ConsoleFeature.SIZE, ConsoleFeature.MULTIPORT, ConsoleFeature.EMERG_WRITE);

export interface PortInfo {
  readonly id: number;
  readonly name: string | undefined;
  readonly console: boolean;
}

/** What the driver knows of one port (besides its receiver and pause flag: PortReceiver). */
interface DriverPort extends PortReceiver {
  readonly id: number;
  name: string | undefined;
  console: boolean;
  hostOpen: boolean;
  guestOpen: boolean;
  removed: boolean;
  /** The host closed: EOF once the receiveq is drained. */
  eofPending: boolean;
  stream: ConsolePort;
}

export class ConsoleDriver extends EventEmitter implements VirtioDriver {
  readonly deviceType = VIRTIO_ID_CONSOLE;
  readonly poolBytes: number;
  readonly stats: ConsoleStats;
  /** Config space as read at activation. */
  config = { cols: 0, rows: 0, maxNrPorts: 0 };

  private readonly maxPorts: number;
  private readonly queueSize: number;
  private readonly bufferSize: number;
  private readonly perQueue: number;
  private readonly accept: bigint;
  private readonly hwm: { highWaterMark?: number };
  private readonly core: ConsoleRoleCore;
  private accepted = 0n;
  private a: DriverActivation | undefined;
  private multiport = false;
  private nrPorts = 0;
  private readonly ports = new Map<number, DriverPort>();
  private readonly byName = new Map<string, DriverPort>();
  /** Free transmit slots per queue (control transmitq and every port's transmitq). */
  private free: number[][] = [];
  private readonly ctlPending: ControlMessage[] = [];

  constructor(opts: ConsoleDriverOptions = {}) {
    super();
    this.maxPorts = opts.maxPorts ?? 8;
    this.queueSize = opts.queueSize ?? 64;
    this.bufferSize = opts.bufferSize ?? 4096;
    this.perQueue = opts.buffersPerQueue ?? this.queueSize;
    if (!Number.isInteger(this.maxPorts) || this.maxPorts < 1 || this.maxPorts > MAX_PORTS_LIMIT) throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `maxPorts ${this.maxPorts} outside 1..${MAX_PORTS_LIMIT}`);
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1 || this.queueSize > 32768) throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `queueSize ${this.queueSize} outside 1..32768`);
    if (!Number.isInteger(this.bufferSize) || this.bufferSize < 64 || this.bufferSize % 8 !== 0) throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `bufferSize ${this.bufferSize} must be a multiple of 8, at least 64`);
    if (!Number.isInteger(this.perQueue) || this.perQueue < 1 || this.perQueue > this.queueSize) throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `buffersPerQueue ${this.perQueue} outside 1..${this.queueSize}`);
    this.accept = DRIVER_FEATURES & (opts.features ?? DRIVER_FEATURES);
    this.hwm = opts.highWaterMark === undefined ? {} : { highWaterMark: opts.highWaterMark };
    this.core = new ConsoleRoleCore(opts.onError, () => this.round(), () => this.a !== undefined);
    this.stats = this.core.stats;
    this.poolBytes = queueCount(this.maxPorts, true) * this.perQueue * this.bufferSize;
  }

  // ---- application API ------------------------------------------------------------------------------------------

  /**
   * Opens a port found by name (after its PORT_NAME), or the console port without a name, and returns its stream.
   * Opening sends PORT_OPEN 1 (the device sends data only to an open port).
   */
  port(name?: string): ConsolePort {
    const p = this.find(name);
    if (p === undefined) {
      throw new ConsoleError(ConsoleErrorCode.NO_SUCH_PORT, name === undefined ? 'no console port (yet)' : `no port named '${name}' (yet; known: ${[...this.byName.keys()].join(', ') || 'none'})`, { name });
    }
    if (p.stream.destroyed || p.stream.writableEnded) this.newStream(p);
    this.openPort(p.id);
    return p.stream;
  }

  /** Ports known so far. */
  knownPorts(): PortInfo[] {
    return [...this.ports.values()].filter((p) => !p.removed).map((p) => ({ id: p.id, name: p.name, console: p.console }));
  }

  /** Resolves once a port of that name is known (or the console port, without a name). */
  waitPort(name?: string): Promise<PortInfo> {
    const p = this.find(name);
    if (p !== undefined) return Promise.resolve({ id: p.id, name: p.name, console: p.console });
    return new Promise((resolve) => {
      const on = (info: PortInfo): void => {
        if (name === undefined ? info.console : info.name === name) {
          this.off('port', on);
          resolve(info);
        }
      };
      this.on('port', on);
    });
  }

  /** Opens our end of port `id` (PORT_OPEN 1) without a stream. */
  openPort(id: number): void {
    const p = this.known(id);
    if (p.guestOpen) return;
    p.guestOpen = true;
    if (this.multiport) this.sendControl({ id, event: ControlEvent.PORT_OPEN, value: 1 });
  }

  /** Replaces the stream as the receiver of a port's data (view valid during the call; false pauses until resume()). */
  onData(id: number, fn: (data: Uint8Array) => boolean): void {
    this.core.setReceiver(this.known(id), fn);
  }

  resume(id: number): void {
    this.core.resume(this.known(id));
  }

  /** The last error the device caused (also counted in stats.errors and passed to onError). */
  get lastError(): ConsoleError | undefined {
    return this.core.lastError;
  }

  /**
   * Interrupt suppression for a caller that polls while running: disarm(id) asks the device not to interrupt for
   * port `id`'s queues and the control receiveq; arm(id) asks again before sleeping and returns false when used
   * buffers are already waiting (exactly like Linux virtqueue_enable_cb()).
   */
  arm(id: number): boolean {
    let idle = true;
    for (const q of this.portQueues(id)) if (!q.vq.enableCallbacks()) idle = false;
    return idle;
  }

  disarm(id: number): void {
    for (const q of this.portQueues(id)) q.vq.disableCallbacks();
  }

  private portQueues(id: number): DriverQueue[] {
    const qs = this.a?.queues;
    if (qs === undefined) return [];
    return [qs[receiveQueue(id)], qs[transmitQueue(id)], this.multiport ? qs[CONTROL_RX_QUEUE] : undefined].filter((q): q is DriverQueue => q !== undefined);
  }

  /** Both ends of port `id` are open. */
  isOpen(id: number): boolean {
    const p = this.ports.get(id);
    return p !== undefined && !p.removed && this.a !== undefined && p.hostOpen && p.guestOpen;
  }

  /** Copies data[off..] into free transmit buffers of port `id` and kicks; returns the bytes taken. */
  send(id: number, data: Uint8Array, off = 0): number {
    if (!this.isOpen(id) || this.controlInFlight()) return 0;
    const a = this.a!;
    const qi = transmitQueue(id);
    const q = a.queues[qi]!;
    const free = this.free[qi]!;
    let taken = 0;
    while (off + taken < data.length && free.length > 0 && q.vq.numFree > 0) {
      const slot = free.pop()!;
      const n = Math.min(this.bufferSize, data.length - off - taken);
      const addr = this.slotAddr(slot);
      a.memory.writeBytes(addr, data, off + taken, n);
      q.vq.addBuffer(addr, n, false, slot);
      taken += n;
      this.stats.buffersSent++;
    }
    if (taken > 0) {
      this.stats.bytesSent += taken;
      this.kick(q);
    }
    return taken;
  }

  /** Writes one character to emerg_wr (EMERG_WRITE). */
  emergencyWrite(byte: number): void {
    if (this.a === undefined || !hasFeature(this.accepted, ConsoleFeature.EMERG_WRITE)) throw new ConsoleError(ConsoleErrorCode.FEATURE_NOT_NEGOTIATED, 'EMERG_WRITE was not negotiated');
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, byte & 0xff, true);
    this.a.writeConfig(8, b);
  }

  // ---- VirtioDriver ---------------------------------------------------------------------------------------------

  negotiate(offered: bigint): bigint {
    this.accepted = offered & this.accept;
    return this.accepted;
  }

  queueSizes(maxSizes: readonly number[]): readonly number[] {
    const multiport = hasFeature(this.accepted, ConsoleFeature.MULTIPORT);
    const n = Math.min(maxSizes.length, queueCount(this.maxPorts, multiport));
    return maxSizes.slice(0, n).map((m) => Math.min(m, this.queueSize));
  }

  activate(a: DriverActivation): void {
    this.a = a;
    this.accepted = a.features;
    this.multiport = hasFeature(a.features, ConsoleFeature.MULTIPORT);
    const raw = new Uint8Array(CONFIG_SIZE);
    a.readConfig(0, raw);
    this.config = decodeConfig(raw);
    this.nrPorts = this.multiport ? Math.max(0, Math.min(this.config.maxNrPorts, (a.queues.length >>> 1) - 1, this.maxPorts)) : 1;
    this.free = a.queues.map(() => []);
    const txQueues = [CONTROL_TX_QUEUE];
    for (let id = 0; id < this.nrPorts; id++) txQueues.push(transmitQueue(id));
    for (const qi of txQueues) {
      const q = a.queues[qi];
      if (q === undefined) continue;
      const n = Math.min(this.perQueue, q.vq.size);
      for (let k = n - 1; k >= 0; k--) this.free[qi]!.push(qi * this.perQueue + k);
    }
    if (this.multiport) {
      this.postReceive(CONTROL_RX_QUEUE);
      this.sendControl({ id: BAD_ID, event: ControlEvent.DEVICE_READY, value: 1 });
    } else {
      const p = this.addPort(0);
      p.console = true;
      p.hostOpen = p.guestOpen = true;
      this.emit('port', { id: 0, name: undefined, console: true } satisfies PortInfo);
    }
  }

  interrupt(): number {
    return this.core.run();
  }

  /** One round of interrupt(). */
  private round(): void {
    this.reapControl();
    for (const p of this.ports.values()) {
      this.reapTransmit(transmitQueue(p.id));
      if (p.stream.writePending && this.isOpen(p.id)) p.stream.flush();
      if (!p.paused) this.reapReceive(p);
    }
  }

  reset(): void {
    this.a = undefined;
    this.free = [];
    this.ctlPending.length = 0;
    // like a connection reset: readers see EOF; writes no longer go anywhere
    for (const p of this.ports.values()) p.stream.endOfInput();
    this.ports.clear();
    this.byName.clear();
  }

  // ---- control --------------------------------------------------------------------------------------------------

  /**
   * Linux sends a control message synchronously (it spins until the device returns the buffer), so a PORT_OPEN is
   * always consumed before the data that follows it. Data waits the same way here: not while a control message is
   * queued or with the device.
   */
  private controlInFlight(): boolean {
    if (!this.multiport) return false;
    const q = this.a?.queues[CONTROL_TX_QUEUE];
    return this.ctlPending.length > 0 || (q !== undefined && this.free[CONTROL_TX_QUEUE]!.length < Math.min(this.perQueue, q.vq.size));
  }

  private sendControl(m: ControlMessage): void {
    this.ctlPending.push(m);
    this.flushControl();
  }

  private flushControl(): void {
    const a = this.a;
    if (a === undefined) return;
    const q = a.queues[CONTROL_TX_QUEUE];
    if (q === undefined) return;
    const free = this.free[CONTROL_TX_QUEUE]!;
    let added = false;
    while (this.ctlPending.length > 0 && free.length > 0 && q.vq.numFree > 0) {
      const m = this.ctlPending.shift()!;
      const slot = free.pop()!;
      const addr = this.slotAddr(slot);
      const n = encodeControl(m, a.memory.bytes(addr, Math.min(this.bufferSize, controlSize(m))));
      q.vq.addBuffer(addr, n, false, slot);
      this.stats.controlSent++;
      added = true;
    }
    if (added) this.kick(q);
  }

  private reapControl(): void {
    const a = this.a!;
    const tx = a.queues[CONTROL_TX_QUEUE];
    if (tx !== undefined) {
      for (let slot = this.popUsed(tx); slot !== undefined; slot = this.popUsed(tx)) {
        this.core.handled++;
        if (this.ownSlot(CONTROL_TX_QUEUE, slot)) this.free[CONTROL_TX_QUEUE]!.push(slot);
      }
      this.flushControl();
    }
    const rx = a.queues[CONTROL_RX_QUEUE];
    if (rx === undefined || !this.multiport) return;
    let reposted = false;
    for (let slot = this.popUsed(rx); slot !== undefined; slot = this.popUsed(rx)) {
      this.core.handled++;
      if (!this.ownSlot(CONTROL_RX_QUEUE, slot)) continue;
      const addr = this.slotAddr(slot);
      const len = Math.min(rx.vq.lastUsedLen, this.bufferSize);
      let m: ControlMessage | undefined;
      try {
        m = decodeControl(a.memory.bytes(addr, len));
      } catch (e) {
        if (!isConsoleError(e)) throw e;
        this.core.record(e);
      }
      rx.vq.addBuffer(addr, this.bufferSize, true, slot);
      reposted = true;
      if (m !== undefined) this.handleControl(m);
    }
    if (reposted) this.kick(rx);
  }

  private handleControl(m: ControlMessage): void {
    this.stats.controlReceived++;
    const id = m.id;
    if (m.event === ControlEvent.PORT_ADD) {
      if (id >= this.nrPorts) {
        this.core.fail(ConsoleErrorCode.UNKNOWN_PORT, `PORT_ADD for port ${id}: out of bounds (${this.nrPorts} ports driven)`, { id });
        return;
      }
      const existing = this.ports.get(id);
      if (existing === undefined || existing.removed) this.addPort(id);
      this.sendControl({ id, event: ControlEvent.PORT_READY, value: 1 });
      return;
    }
    const p = this.ports.get(id);
    if (p === undefined || p.removed) {
      this.core.fail(ConsoleErrorCode.UNKNOWN_PORT, `control event ${m.event} for port ${id}, which was not added`, { id, event: m.event });
      return;
    }
    switch (m.event) {
      case ControlEvent.PORT_REMOVE:
        p.hostOpen = false;
        p.eofPending = true;
        this.reapReceive(p);
        p.removed = true;
        if (p.name !== undefined) this.byName.delete(p.name);
        this.emit('port-remove', { id, name: p.name, console: p.console } satisfies PortInfo);
        return;
      case ControlEvent.CONSOLE_PORT:
        if (m.value === 0 || p.console) return;
        p.console = true;
        this.openPort(id); // hvc opens a console port at once
        this.emit('port', { id, name: p.name, console: true } satisfies PortInfo);
        return;
      case ControlEvent.RESIZE:
        if (m.size !== undefined) {
          this.config = { ...this.config, cols: m.size.cols, rows: m.size.rows };
          p.stream.emit('resize', m.size);
        }
        return;
      case ControlEvent.PORT_OPEN: {
        const open = m.value !== 0;
        if (open === p.hostOpen) return;
        p.hostOpen = open;
        p.stream.emit(open ? 'peer-open' : 'peer-close');
        // data the device sent before closing is already on the receiveq: EOF comes after it (as a Linux read()
        // returns data while port_has_data(), 0 only afterwards)
        if (!open) {
          p.eofPending = true;
          this.reapReceive(p);
        }
        return;
      }
      case ControlEvent.PORT_NAME:
        if (p.name !== undefined || m.name === undefined) return;
        if (this.byName.has(m.name)) {
          this.core.fail(ConsoleErrorCode.BAD_NAME, `port ${id} announced name '${m.name}', already used by port ${this.byName.get(m.name)!.id}`, { id });
          return;
        }
        p.name = m.name;
        p.stream.portName = m.name;
        this.byName.set(m.name, p);
        this.emit('port', { id, name: p.name, console: p.console } satisfies PortInfo);
        return;
      default:
        this.core.fail(ConsoleErrorCode.BAD_EVENT, `control event ${m.event} for port ${id} is not one a device sends`, { id, event: m.event });
    }
  }

  // ---- data -------------------------------------------------------------------------------------------------------

  private addPort(id: number): DriverPort {
    const p: DriverPort = { id, name: undefined, console: false, hostOpen: false, guestOpen: false, paused: false, removed: false, eofPending: false, stream: undefined!, sink: (d) => p.stream.deliver(d) };
    this.newStream(p);
    this.ports.set(id, p);
    this.postReceive(receiveQueue(id));
    return p;
  }

  private newStream(p: DriverPort): void {
    const old = p.stream;
    p.stream = new ConsolePort(p.id, p.name, this.portIo(p.id), this.hwm);
    if (old !== undefined && !old.destroyed) old.destroy();
  }

  /** Posts every receive slot of queue `qi` that is not already with the device (activation, PORT_ADD). */
  private postReceive(qi: number): void {
    const a = this.a!;
    const q = a.queues[qi];
    if (q === undefined) return;
    if (q.vq.numFree < q.vq.size) return; // already posted (a repeated PORT_ADD)
    const n = Math.min(this.perQueue, q.vq.size);
    for (let k = 0; k < n && q.vq.numFree > 0; k++) {
      const slot = qi * this.perQueue + k;
      q.vq.addBuffer(this.slotAddr(slot), this.bufferSize, true, slot);
    }
    this.kick(q);
  }

  private reapTransmit(qi: number): void {
    const q = this.a!.queues[qi];
    if (q === undefined) return;
    for (let slot = this.popUsed(q); slot !== undefined; slot = this.popUsed(q)) {
      this.core.handled++;
      if (this.ownSlot(qi, slot)) this.free[qi]!.push(slot);
    }
  }

  /** Whether `slot` is one of queue `qi`'s buffers (a token we never handed out is ignored, not reused). */
  private ownSlot(qi: number, slot: number): boolean {
    return Number.isInteger(slot) && slot >= qi * this.perQueue && slot < (qi + 1) * this.perQueue;
  }

  private reapReceive(p: DriverPort): void {
    const a = this.a!;
    const q = a.queues[receiveQueue(p.id)];
    let reposted = false;
    while (q !== undefined && !p.paused) {
      const slot = this.popUsed(q);
      if (slot === undefined) break;
      this.core.handled++;
      if (!this.ownSlot(receiveQueue(p.id), slot)) continue;
      const addr = this.slotAddr(slot);
      const len = Math.min(q.vq.lastUsedLen, this.bufferSize);
      if (len > 0) {
        this.stats.buffersReceived++;
        this.stats.bytesReceived += len;
        if (p.removed || !p.guestOpen) this.stats.droppedBytes += len;
        else {
          const view = a.memory.bytes(addr, len);
          if (!p.sink(view)) p.paused = true;
        }
      }
      q.vq.addBuffer(addr, this.bufferSize, true, slot);
      reposted = true;
    }
    if (reposted) this.kick(q!);
    if (p.eofPending && !p.paused) {
      p.eofPending = false;
      p.stream.endOfInput();
    }
  }

  private portIo(id: number) {
    return {
      write: (data: Uint8Array, off: number): number => this.send(id, data, off),
      resume: (): void => this.resume(id),
      close: (): void => {
        const p = this.ports.get(id);
        if (p === undefined || !p.guestOpen || this.a === undefined) return;
        p.guestOpen = false;
        if (this.multiport && !p.removed) this.sendControl({ id, event: ControlEvent.PORT_OPEN, value: 0 });
      },
    };
  }

  // ---- helpers ----------------------------------------------------------------------------------------------------

  private find(name: string | undefined): DriverPort | undefined {
    if (name !== undefined) return this.byName.get(name);
    for (const p of this.ports.values()) if (p.console && !p.removed) return p;
    return undefined;
  }

  private known(id: number): DriverPort {
    const p = this.ports.get(id);
    if (p === undefined || p.removed) throw new ConsoleError(ConsoleErrorCode.NO_SUCH_PORT, `port ${id} is not known`, { id });
    return p;
  }

  private slotAddr(slot: number): number {
    return this.a!.pool.base + slot * this.bufferSize;
  }

  private popUsed(q: DriverQueue): number | undefined {
    try {
      return q.vq.popUsed();
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.core.queueBroken(q.index, e);
      return undefined;
    }
  }

  private kick(q: DriverQueue): void {
    if (q.kick()) this.stats.notifications++;
  }
}
