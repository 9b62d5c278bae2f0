/**
 * The virtio-console device role (§5.3), run by the secure partition: it trusts nothing the driver (the non-secure
 * side) writes in shared memory. Every control message is length-checked and decoded into values, every port id
 * looked up, every loop bounded by the queue size; a broken rule is recorded (stats.errors by code, lastError,
 * onError) and the message dropped, never thrown. A virtqueue rule broken (VirtioError from pop) stops that queue and
 * asks the transport for DEVICE_NEEDS_RESET. The device writes only into chains it popped, whose segments the walk
 * checked against the memory it was given.
 *
 * Bring-up with MULTIPORT, in the order Linux's drivers/char/virtio_console.c expects:
 *
 *   driver                                   device
 *   fill c_ivq, DEVICE_READY(BAD_ID, 1)  ──►
 *                                         ◄── PORT_ADD(id) for every declared port
 *   fill port's receiveq, PORT_READY(id,1)──►
 *                                         ◄── CONSOLE_PORT(id, 1)  (port 0, the console)
 *                                         ◄── PORT_NAME(id) + name + NUL (named ports)
 *                                         ◄── PORT_OPEN(id, 1)      (the host end is open)
 *   PORT_OPEN(id, 1) on open (hvc: at once) ──►     data flows both ways while both ends are open
 *
 * Linux discards data for a port its user has not opened, and blocks writes while the host end is closed, so the
 * device sends data only while the guest end is open and accepts it only while both ends are. Without MULTIPORT only
 * port 0 exists and is open from DRIVER_OK on.
 */
import { DescriptorChain, VirtioFeature, features as featureMask, hasFeature, isVirtioError, type DeviceActivation, type DeviceQueue, type VirtioDevice } from '../virtio/index.js';
import { encodeConfig, checkConfigRange } from './config.js';
import {
  CONFIG_SIZE,
  CONTROL_HEADER_SIZE,
  CONTROL_RX_QUEUE,
  CONTROL_TX_QUEUE,
  ConfigOffset,
  ConsoleFeature,
  ControlEvent,
  MAX_PORTS_LIMIT,
  VIRTIO_ID_CONSOLE,
  queueCount,
  receiveQueue,
  transmitQueue,
} from './constants.js';
import { controlSize, encodeControl, nameBytes, type ControlMessage } from './control.js';
import { ConsoleError, ConsoleErrorCode } from './errors.js';
import { ConsolePort } from './port.js';
import { ConsoleRoleCore, type PortReceiver } from './role.js';
import type { ConsoleStats } from './stats.js';

export interface ConsoleDeviceOptions {
  /** Names of the ports after the console: port 1, 2, … Default: none. */
  readonly ports?: readonly string[];
  /** max_nr_ports offered (≥ 1 + ports.length). Default 1 + ports.length. */
  readonly maxPorts?: number;
  /** Offer MULTIPORT. Default true (false: only port 0, no names). */
  readonly multiport?: boolean;
  /** Console size; SIZE is offered when given. */
  readonly size?: { readonly cols: number; readonly rows: number };
  /** Offer EMERG_WRITE (a character written to emerg_wr arrives on port 0). Default true. */
  readonly emergWrite?: boolean;
  /** Largest size of every queue. Default 256. */
  readonly queueSize?: number;
  /** Transport features offered besides the console's own. Default VERSION_1, EVENT_IDX, INDIRECT_DESC, RING_PACKED. */
  readonly ringFeatures?: bigint;
  /** highWaterMark of the port streams. Default Node's (16 KiB). */
  readonly highWaterMark?: number;
  /** Called with every error the driver caused (after it was counted). */
  readonly onError?: (e: ConsoleError) => void;
}

export const DEFAULT_RING_FEATURES = featureMask(VirtioFeature.VERSION_1, VirtioFeature.EVENT_IDX, VirtioFeature.INDIRECT_DESC, VirtioFeature.RING_PACKED);

/** What the device knows of one port (besides its receiver and pause flag: PortReceiver). */
interface DevicePort extends PortReceiver {
  readonly id: number;
  readonly name: string | undefined;
  readonly console: boolean;
  /** PORT_ADD sent since the last reset. */
  added: boolean;
  /** The driver answered PORT_READY 1. */
  ready: boolean;
  /** The driver's end is open (PORT_OPEN 1 from the driver). */
  guestOpen: boolean;
  /** Our end is open (until the stream ends). */
  hostOpen: boolean;
  /** Hot-unplugged with removePort(): never added again. */
  removed: boolean;
  readonly stream: ConsolePort;
}

export class ConsoleDevice implements VirtioDevice {
  readonly deviceType = VIRTIO_ID_CONSOLE;
  readonly deviceFeatures: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = CONFIG_SIZE;
  readonly stats: ConsoleStats;

  private readonly ports: DevicePort[] = [];
  private readonly byName = new Map<string, DevicePort>();
  private readonly maxNrPorts: number;
  private readonly multiportOffered: boolean;
  private cols: number;
  private rows: number;
  private negotiated = 0n;
  private multiport = false;
  private activation: DeviceActivation | undefined;
  private queues: readonly (DeviceQueue | undefined)[] = [];
  private resetRequested = false;
  /** DEVICE_READY 1 seen since the last reset. */
  private driverReady = false;
  /** Control messages waiting for a buffer on the control receiveq (bounded: a driver cannot make it grow). */
  private readonly ctlOut: ControlMessage[] = [];
  private readonly ctlOutLimit: number;
  private readonly ctlBytes = new Uint8Array(CONTROL_HEADER_SIZE + 256 + 8);
  private readonly ctlIn = new Uint8Array(CONTROL_HEADER_SIZE);
  private readonly ctlInView = new DataView(this.ctlIn.buffer);
  /** One chain per use, so a sink that re-enters send() cannot clobber a chain still being read. */
  private rxChain = new DescriptorChain(1);
  private txChain = new DescriptorChain(1);
  private ctlChain = new DescriptorChain(1);
  private readonly core: ConsoleRoleCore;

  constructor(opts: ConsoleDeviceOptions = {}) {
    const names = opts.ports ?? [];
    const multiport = opts.multiport ?? true;
    if (!multiport && names.length > 0) throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, 'named ports need MULTIPORT');
    this.maxNrPorts = opts.maxPorts ?? 1 + names.length;
    if (!Number.isInteger(this.maxNrPorts) || this.maxNrPorts < 1 + names.length || this.maxNrPorts > MAX_PORTS_LIMIT) {
      throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `maxPorts ${this.maxNrPorts} must be an integer in ${1 + names.length}..${MAX_PORTS_LIMIT}`);
    }
    const qsize = opts.queueSize ?? 256;
    if (!Number.isInteger(qsize) || qsize < 1 || qsize > 32768) throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `queueSize ${qsize} outside 1..32768`);
    this.queueMaxSizes = new Array<number>(queueCount(this.maxNrPorts, multiport)).fill(qsize);
    this.cols = opts.size?.cols ?? 0;
    this.rows = opts.size?.rows ?? 0;
    let f = opts.ringFeatures ?? DEFAULT_RING_FEATURES;
    if (multiport) f |= 1n << BigInt(ConsoleFeature.MULTIPORT);
    if (opts.size !== undefined) f |= 1n << BigInt(ConsoleFeature.SIZE);
    if (opts.emergWrite ?? true) f |= 1n << BigInt(ConsoleFeature.EMERG_WRITE);
    this.deviceFeatures = f;
    this.ctlOutLimit = 8 * this.maxNrPorts + 16;
    this.core = new ConsoleRoleCore(opts.onError, () => this.round(), () => this.activation !== undefined);
    this.stats = this.core.stats;
    const hwm = opts.highWaterMark === undefined ? {} : { highWaterMark: opts.highWaterMark };
    this.multiportOffered = multiport;
    ['', ...names].forEach((raw, id) => {
      const name = id === 0 ? undefined : raw;
      this.declare(id, name, hwm);
    });
    this.hwm = hwm;
  }

  private readonly hwm: { highWaterMark?: number };

  private declare(id: number, name: string | undefined, hwm: { highWaterMark?: number }): DevicePort {
    if (name !== undefined) {
      nameBytes(name);
      if (this.byName.has(name)) throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `port name '${name}' declared twice`);
    }
    const stream = new ConsolePort(id, name, this.portIo(id), hwm);
    const p: DevicePort = { id, name, console: id === 0, added: false, ready: false, guestOpen: false, hostOpen: true, removed: false, paused: false, sink: (d) => stream.deliver(d), stream };
    this.ports.push(p);
    if (name !== undefined) this.byName.set(name, p);
    return p;
  }

  /**
   * Hot-plugs a named port (the next port number, up to max_nr_ports - 1): PORT_ADD goes out at once when the driver
   * is ready, else with the others at DEVICE_READY. Returns its stream.
   */
  addPort(name: string): ConsolePort {
    if (!this.multiportOffered) throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, 'named ports need MULTIPORT');
    if (this.ports.length >= this.maxNrPorts) throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `all ${this.maxNrPorts} ports (max_nr_ports) are declared`);
    const p = this.declare(this.ports.length, name, this.hwm);
    if (this.activation !== undefined && this.multiport && this.driverReady && this.queues[receiveQueue(p.id)] !== undefined && this.queues[transmitQueue(p.id)] !== undefined) {
      p.added = true;
      this.queueControl({ id: p.id, event: ControlEvent.PORT_ADD, value: 1 });
      this.service();
    }
    return p.stream;
  }

  /** Hot-unplugs a named port (PORT_REMOVE): the driver's stream ends; data for it is dropped from now on. */
  removePort(name: string): void {
    const p = this.portByName(name);
    const was = p.guestOpen;
    p.removed = true;
    this.byName.delete(name);
    if (p.added && this.activation !== undefined && this.multiport) this.queueControl({ id: p.id, event: ControlEvent.PORT_REMOVE, value: 1 });
    p.added = p.ready = p.guestOpen = false;
    if (was) p.stream.emit('peer-close');
    this.service();
  }

  // ---- application API ------------------------------------------------------------------------------------------

  /** The stream of a declared port: by name, or port 0 (the console) without one. */
  port(name?: string): ConsolePort {
    return this.portByName(name).stream;
  }

  /** Port number of a declared port name. */
  portId(name: string): number {
    return this.portByName(name).id;
  }

  /** The declared port names (port 1 upward). */
  get portNames(): readonly string[] {
    return [...this.byName.keys()];
  }

  /**
   * Replaces the stream as the receiver of a port's data (for benchmarks and in-thread users): `fn` gets a view into
   * shared memory, valid only during the call; returning false pauses the port until resume(id).
   */
  onData(id: number, fn: (data: Uint8Array) => boolean): void {
    this.core.setReceiver(this.declared(id), fn);
  }

  /** Resumes a port paused by its receiver. */
  resume(id: number): void {
    this.core.resume(this.declared(id));
  }

  /** The last error the driver caused (also counted in stats.errors and passed to onError). */
  get lastError(): ConsoleError | undefined {
    return this.core.lastError;
  }

  /**
   * Notification suppression for a caller that polls while running (§2.7.10 / §2.8.10): disarm(id) asks the driver
   * not to notify for port `id`'s transmitq and the control transmitq; arm(id) asks again before the caller sleeps and
   * returns false when buffers are already waiting (poll again instead of sleeping).
   */
  arm(id: number): boolean {
    let idle = true;
    for (const qi of [transmitQueue(id), CONTROL_TX_QUEUE]) {
      const q = this.queues[qi];
      if (q !== undefined && q.vq.broken === undefined && !q.vq.enableNotifications()) idle = false;
    }
    return idle;
  }

  disarm(id: number): void {
    for (const qi of [transmitQueue(id), CONTROL_TX_QUEUE]) {
      const q = this.queues[qi];
      if (q !== undefined && q.vq.broken === undefined) q.vq.disableNotifications();
    }
  }

  /** Whether data can flow on port `id` now (both ends open). */
  isOpen(id: number): boolean {
    const p = this.ports[id];
    return p !== undefined && this.activation !== undefined && p.ready && p.guestOpen && p.hostOpen;
  }

  /**
   * Copies data[off..] into the driver's receive buffers of port `id`; returns the bytes taken (0 when the port is
   * not open or no buffer is free). Fills each buffer as far as the data goes.
   */
  send(id: number, data: Uint8Array, off = 0): number {
    const p = this.ports[id];
    if (p === undefined || !this.isOpen(id)) return 0;
    const q = this.queues[receiveQueue(id)];
    if (q === undefined || q.vq.broken !== undefined) return 0;
    const memory = this.activation!.memory;
    let taken = 0;
    let used = false;
    let budget = q.vq.size;
    while (off + taken < data.length && budget-- > 0) {
      const c = this.rxChain;
      if (!this.pop(q, c)) break;
      used = true;
      if (c.readable > 0 || c.writableBytes === 0) {
        this.core.fail(ConsoleErrorCode.BAD_BUFFER, `port ${id}: receive buffer ${c.head} has ${c.readable} device-readable segments and ${c.writableBytes} writable bytes`, { port: id, head: c.head });
        q.vq.pushUsed(c.head, 0);
        continue;
      }
      const n = c.scatter(memory, 0, data, off + taken, data.length - off - taken);
      q.vq.pushUsed(c.head, n);
      taken += n;
      this.stats.buffersSent++;
      this.core.handled++;
    }
    this.stats.bytesSent += taken;
    if (used) this.publish(q);
    return taken;
  }

  /** Changes the console size: RESIZE to the console port with MULTIPORT, else a configuration change (§5.3.6.2). */
  resize(cols: number, rows: number): void {
    if (!(Number.isInteger(cols) && Number.isInteger(rows) && cols >= 0 && rows >= 0 && cols <= 0xffff && rows <= 0xffff)) {
      throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `console size ${cols}x${rows} is not two u16`);
    }
    this.cols = cols;
    this.rows = rows;
    const a = this.activation;
    if (a === undefined || !hasFeature(this.negotiated, ConsoleFeature.SIZE)) return;
    if (this.multiport) {
      if (this.ports[0]!.ready) this.queueControl({ id: 0, event: ControlEvent.RESIZE, value: 0, size: { cols, rows } });
      this.service();
    } else a.configChanged();
  }

  // ---- VirtioDevice ---------------------------------------------------------------------------------------------

  readConfig(offset: number, dest: Uint8Array): void {
    checkConfigRange(offset, dest.length);
    dest.set(encodeConfig({ cols: this.cols, rows: this.rows, maxNrPorts: this.maxNrPorts }).subarray(offset, offset + dest.length));
  }

  writeConfig(offset: number, data: Uint8Array): void {
    try {
      checkConfigRange(offset, data.length);
    } catch (e) {
      this.core.record(e as ConsoleError);
      return;
    }
    if (offset < ConfigOffset.EMERG_WR) {
      this.core.fail(ConsoleErrorCode.CONFIG_READ_ONLY, `config write of ${data.length} bytes at ${offset}: only emerg_wr is writable`, { offset });
      return;
    }
    if (!hasFeature(this.negotiated, ConsoleFeature.EMERG_WRITE)) {
      this.core.fail(ConsoleErrorCode.FEATURE_NOT_NEGOTIATED, 'emerg_wr written without EMERG_WRITE', { offset });
      return;
    }
    // emerg_wr is a le32 holding one character: its low byte (the write may cover only part of the field)
    if (offset !== ConfigOffset.EMERG_WR || data.length === 0) return;
    const p = this.ports[0]!;
    this.stats.bytesReceived++;
    p.sink(data.subarray(0, 1));
  }

  checkFeatures(features: bigint): string | undefined {
    this.negotiated = features;
    return undefined;
  }

  activate(a: DeviceActivation): void {
    this.activation = a;
    this.negotiated = a.features;
    this.multiport = hasFeature(a.features, ConsoleFeature.MULTIPORT);
    this.queues = a.queues;
    this.resetRequested = false;
    let cap = 1;
    for (const q of a.queues) if (q !== undefined) cap = Math.max(cap, q.vq.size);
    this.rxChain = new DescriptorChain(cap);
    this.txChain = new DescriptorChain(cap);
    this.ctlChain = new DescriptorChain(cap);
    if (!this.multiport) {
      // §5.3.6: without MULTIPORT port 0 is a plain console, open on both ends
      const p = this.ports[0]!;
      p.added = p.ready = p.guestOpen = true;
      p.stream.emit('peer-open');
    }
    this.service();
  }

  queueNotify(_index: number): void {
    this.service();
  }

  poll(): number {
    return this.service();
  }

  reset(): void {
    this.activation = undefined;
    this.queues = [];
    this.ctlOut.length = 0;
    this.negotiated = 0n;
    this.multiport = false;
    this.driverReady = false;
    for (const p of this.ports) {
      const was = p.guestOpen;
      p.added = p.ready = p.guestOpen = p.paused = false;
      if (was) p.stream.emit('peer-close');
    }
  }

  // ---- the work loop ----------------------------------------------------------------------------------------------

  /**
   * Handles control messages, the driver's transmitted data and our pending writes, until nothing moves. Re-entrant
   * calls (a data handler that writes) only mark another round.
   */
  private service(): number {
    return this.core.run();
  }

  /** One round of service(). */
  private round(): void {
    this.controlIn();
    this.controlOut();
    const portsWithQueues = Math.min(this.maxNrPorts, this.multiport ? (this.queues.length >>> 1) - 1 : 1);
    for (let id = 0; id < portsWithQueues; id++) this.drainTransmit(id);
    for (const p of this.ports) if (p.stream.writePending && this.isOpen(p.id)) p.stream.flush();
    this.controlOut();
  }

  /** Data the driver transmitted on port `id` (its transmitq): delivered while both ends are open, else dropped. */
  private drainTransmit(id: number): void {
    const q = this.queues[transmitQueue(id)];
    if (q === undefined || q.vq.broken !== undefined) return;
    const p = this.ports[id];
    const memory = this.activation!.memory;
    const c = this.txChain;
    let used = false;
    let budget = q.vq.size;
    while (budget-- > 0 && !(p !== undefined && p.paused)) {
      if (!this.pop(q, c)) break;
      used = true;
      this.core.handled++;
      const head = c.head;
      if (c.readable === 0) {
        this.core.fail(ConsoleErrorCode.BAD_BUFFER, `port ${id}: transmit buffer ${head} has no device-readable segment`, { port: id, head });
        q.vq.pushUsed(head, 0);
        continue;
      }
      // A PORT_OPEN published just before this data may not have been seen yet: look at the control queue again.
      if (p !== undefined && !this.isOpen(id)) this.controlIn();
      if (p === undefined || !this.isOpen(id)) {
        this.stats.droppedBytes += c.readableBytes;
        if (p === undefined) this.core.fail(ConsoleErrorCode.UNKNOWN_PORT, `data for port ${id}, which the device did not declare`, { port: id });
        else this.core.fail(ConsoleErrorCode.PORT_CLOSED, `data for port ${id} while it is not open on both ends`, { port: id, ready: p.ready, guestOpen: p.guestOpen, hostOpen: p.hostOpen });
        q.vq.pushUsed(head, 0);
        continue;
      }
      this.stats.buffersReceived++;
      this.stats.bytesReceived += c.readableBytes;
      // the sink copies before returning; the buffer goes back only afterwards
      const n = c.readable;
      for (let i = 0; i < n; i++) {
        const len = c.len[i]!;
        if (len > 0 && !p.sink(memory.bytes(c.addr[i]!, len))) p.paused = true;
      }
      q.vq.pushUsed(head, 0);
    }
    if (used) this.publish(q);
  }

  /** Control messages from the driver (control transmitq, queue 3). Linux spins until they come back used. */
  private controlIn(): void {
    if (!this.multiport) return;
    const q = this.queues[CONTROL_TX_QUEUE];
    if (q === undefined || q.vq.broken !== undefined) return;
    const c = this.ctlChain;
    let used = false;
    let budget = q.vq.size;
    while (budget-- > 0) {
      if (!this.pop(q, c)) break;
      used = true;
      this.core.handled++;
      const got = c.readInto(this.activation!.memory, this.ctlIn);
      q.vq.pushUsed(c.head, 0);
      if (got < CONTROL_HEADER_SIZE) {
        this.core.fail(ConsoleErrorCode.TRUNCATED, `control message of ${c.readableBytes} readable bytes (header: ${CONTROL_HEADER_SIZE})`, { head: c.head });
        continue;
      }
      const v = this.ctlInView;
      this.handleControl(v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true));
    }
    if (used) this.publish(q);
  }

  private handleControl(id: number, event: number, value: number): void {
    this.stats.controlReceived++;
    if (value > 1) {
      this.core.fail(ConsoleErrorCode.BAD_VALUE, `control event ${event} for port ${id}: value ${value} is not 0 or 1`, { id, event, value });
      return;
    }
    switch (event) {
      case ControlEvent.DEVICE_READY:
        if (value === 0) {
          this.core.fail(ConsoleErrorCode.PEER_FAILED, 'the driver reported DEVICE_READY 0 (it failed to set up)', { id });
          return;
        }
        // (QEMU answers a repeated DEVICE_READY the same way; the bounded control queue keeps that harmless)
        this.driverReady = true;
        for (const p of this.ports) {
          if (p.removed) continue;
          if (this.queues[receiveQueue(p.id)] === undefined || this.queues[transmitQueue(p.id)] === undefined) continue;
          p.added = true;
          this.queueControl({ id: p.id, event: ControlEvent.PORT_ADD, value: 1 });
        }
        return;
      case ControlEvent.PORT_READY: {
        const p = this.ports[id];
        if (p === undefined || !p.added) {
          this.core.fail(ConsoleErrorCode.UNKNOWN_PORT, `PORT_READY for port ${id}, which was not added`, { id });
          return;
        }
        if (value === 0) {
          p.ready = false;
          this.core.fail(ConsoleErrorCode.PEER_FAILED, `the driver could not add port ${id} (PORT_READY 0)`, { id });
          return;
        }
        p.ready = true;
        if (p.console) this.queueControl({ id, event: ControlEvent.CONSOLE_PORT, value: 1 });
        if (p.name !== undefined) this.queueControl({ id, event: ControlEvent.PORT_NAME, value: 1, name: p.name });
        if (p.hostOpen) this.queueControl({ id, event: ControlEvent.PORT_OPEN, value: 1 });
        return;
      }
      case ControlEvent.PORT_OPEN: {
        const p = this.ports[id];
        if (p === undefined || !p.added) {
          this.core.fail(ConsoleErrorCode.UNKNOWN_PORT, `PORT_OPEN for port ${id}, which was not added`, { id });
          return;
        }
        if (!p.ready) {
          this.core.fail(ConsoleErrorCode.PORT_CLOSED, `PORT_OPEN for port ${id} before PORT_READY`, { id });
          return;
        }
        const open = value === 1;
        if (open === p.guestOpen) return;
        p.guestOpen = open;
        p.stream.emit(open ? 'peer-open' : 'peer-close');
        return;
      }
      default:
        this.core.fail(ConsoleErrorCode.BAD_EVENT, `control event ${event} for port ${id} is not one a driver sends`, { id, event });
    }
  }

  private queueControl(m: ControlMessage): void {
    if (this.ctlOut.length >= this.ctlOutLimit) {
      this.core.fail(ConsoleErrorCode.CONTROL_OVERFLOW, `${this.ctlOut.length} control messages wait for buffers; dropping event ${m.event} for port ${m.id}`, { id: m.id, event: m.event });
      return;
    }
    this.ctlOut.push(m);
  }

  /** Sends queued control messages into the driver's control receive buffers (queue 2). */
  private controlOut(): void {
    if (!this.multiport || this.ctlOut.length === 0) return;
    const q = this.queues[CONTROL_RX_QUEUE];
    if (q === undefined || q.vq.broken !== undefined) return;
    const c = this.ctlChain;
    let used = false;
    let budget = q.vq.size;
    while (this.ctlOut.length > 0 && budget-- > 0) {
      if (!this.pop(q, c)) break;
      used = true;
      this.core.handled++;
      const m = this.ctlOut[0]!;
      const size = controlSize(m);
      if (c.readable > 0 || c.writableBytes < size) {
        // the message stays queued for the next buffer
        this.core.fail(ConsoleErrorCode.BUFFER_TOO_SMALL, `control receive buffer ${c.head}: ${c.writableBytes} writable bytes (${c.readable} readable segments), ${size} needed`, { head: c.head });
        q.vq.pushUsed(c.head, 0);
        continue;
      }
      encodeControl(m, this.ctlBytes);
      q.vq.pushUsed(c.head, c.writeFrom(this.activation!.memory, this.ctlBytes.subarray(0, size)));
      this.ctlOut.shift();
      this.stats.controlSent++;
    }
    if (used) this.publish(q);
  }

  // ---- helpers ----------------------------------------------------------------------------------------------------

  private portIo(id: number) {
    return {
      write: (data: Uint8Array, off: number): number => this.send(id, data, off),
      resume: (): void => this.resume(id),
      close: (): void => {
        const p = this.ports[id]!;
        if (!p.hostOpen) return;
        p.hostOpen = false;
        if (this.multiport && p.ready) {
          this.queueControl({ id, event: ControlEvent.PORT_OPEN, value: 0 });
          this.service();
        }
      },
    };
  }

  private portByName(name: string | undefined): DevicePort {
    const p = name === undefined ? this.ports[0] : this.byName.get(name);
    if (p === undefined) throw new ConsoleError(ConsoleErrorCode.NO_SUCH_PORT, `no port named '${String(name)}' was declared (declared: ${this.portNames.join(', ') || 'none'})`, { name });
    return p;
  }

  private declared(id: number): DevicePort {
    const p = this.ports[id];
    if (p === undefined) throw new ConsoleError(ConsoleErrorCode.NO_SUCH_PORT, `port ${id} was not declared`, { id });
    return p;
  }

  /** pop() that turns a broken virtqueue rule into a recorded error and a reset request. */
  private pop(q: DeviceQueue, c: DescriptorChain): boolean {
    try {
      return q.vq.pop(c);
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.core.queueBroken(q.index, e);
      if (!this.resetRequested && this.activation !== undefined) {
        this.resetRequested = true;
        this.activation.needsReset(`console queue ${q.index}: ${e.code}`);
      }
      return false;
    }
  }

  private publish(q: DeviceQueue): void {
    if (q.vq.publishUsed()) {
      this.stats.notifications++;
      q.notify();
    }
  }

}
