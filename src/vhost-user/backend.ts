/**
 * The back-end side of vhost-user (QEMU docs/interop/vhost-user.rst) as a transport under the device seam: one
 * VirtioDevice, served to one front-end connection at a time, never knowing it is carried this way.
 *
 * Session life cycle (one connected fd):
 *   SET_OWNER, GET/SET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_BACKEND_REQ_FD     negotiation
 *   SET_MEM_TABLE                                                                 memory mapped (MemTable)
 *   per ring: SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_CALL       ring configured
 *             SET_VRING_KICK (fd, or "no fd" for in-band / polling)               ring started
 *             SET_VRING_ENABLE 1 (or no PROTOCOL_FEATURES: enabled at once)       ring enabled
 *   every configured ring started and enabled  ->  device.activate(features, queues)        (DRIVER_OK of the seam)
 *   kick eventfd readable / VRING_KICK message  ->  device.queueNotify(i)
 *   DeviceQueue.notify()  ->  8 bytes on the call fd, or BACKEND VRING_CALL on the back-end channel (in-band)
 *   GET_VRING_BASE (ring stopped), SET_VRING_ENABLE 0, SET_MEM_TABLE, SET_FEATURES change, RESET_*  ->  device.reset()
 *   disconnect  ->  device.reset(), every fd closed, every mapping released; the next front-end gets a clean device.
 *
 * Ring states follow vhost-user's "Ring states": stopped until SET_VRING_KICK (as QEMU, rust-vmm and DPDK do, a
 * kick message is not needed to start), disabled until SET_VRING_ENABLE when VHOST_USER_F_PROTOCOL_FEATURES was
 * negotiated, else enabled as soon as the features are set. The device only runs while every ring the front-end
 * configured is started and enabled; a ring that becomes ready later (a front-end that starts rings one by one)
 * re-activates the device before any buffer could have moved.
 *
 * The front-end is not trusted: every field is validated (message.ts, mem-table.ts), ring addresses are translated
 * and bounds-checked, and the virtqueues themselves check every descriptor against the mapped memory. A request that
 * breaks a rule gets a typed error; with REPLY_ACK and NEED_REPLY the front-end learns it from a non-zero ack and
 * the session goes on, otherwise (and for any framing error) the connection is closed cleanly.
 */
import { loadVhostNative, type VhostNative } from '../host/native-vhost.js';
import type { DeviceQueue, VirtioDevice } from '../virtio/device.js';
import { VirtioError } from '../virtio/errors.js';
import { bit, hasFeature, VirtioFeature } from '../virtio/features.js';
import { PackedVirtqueueDevice } from '../virtio/packed/device.js';
import { PACKED_DESC_SIZE, PACKED_EVENT_SIZE } from '../virtio/packed/layout.js';
import { SplitVirtqueueDevice } from '../virtio/split/device.js';
import type { VirtqueueDevice } from '../virtio/virtqueue.js';
import { MessageReader } from './channel.js';
import { FATAL_ERROR_CODES, VhostUserError, VhostUserErrorCode, isVhostUserError } from './errors.js';
import { MemTable } from './mem-table.js';
import {
  checkPayloadSize,
  decodeConfig,
  decodeMemTable,
  decodeU64,
  decodeVringAddr,
  decodeVringState,
  encodeConfig,
  encodeMessage,
  encodeReply,
  encodeU64,
  encodeVringState,
  type VhostUserMessage,
} from './message.js';
import { BackendReq, FLAG_NEED_REPLY, ProtocolFeature, protocolBit, Req, requestName, VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_VERSION, VRING_INDEX_MASK, VRING_NOFD_MASK } from './protocol.js';

export interface VhostUserBackendOptions {
  /** Offer VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS (kicks and calls as messages). Default false. */
  readonly inband?: boolean;
  /** Virtio feature bits withheld from the device's offer (e.g. RING_PACKED to force split rings). Default 0n. */
  readonly withheldFeatures?: bigint;
  /** Native calls (tests may pass their own); default: the addon's. */
  readonly native?: VhostNative;
  /** Called with one line per request received and per notification sent (debugging; `--trace` in the CLI). Default none. */
  readonly trace?: (line: string) => void;
}

export interface VhostUserStats {
  connections: number;
  messages: number;
  activations: number;
  kicks: number;
  calls: number;
  errors: number;
}

/** What the session knows of one ring. Addresses are guest-physical (translated at SET_VRING_ADDR). */
interface Vring {
  num: number;
  /** SET_VRING_BASE value (split: next avail index; packed: the fresh state). */
  base: number;
  addrs: { desc: number; avail: number; used: number } | undefined;
  kickFd: number;
  kickWatch: number;
  callFd: number;
  errFd: number;
  started: boolean;
  enabled: boolean;
  vq: VirtqueueDevice | undefined;
}

const newVring = (): Vring => ({ num: 0, base: 0, addrs: undefined, kickFd: -1, kickWatch: 0, callFd: -1, errFd: -1, started: false, enabled: false, vq: undefined });

/** Requests whose reply is their own (NEED_REPLY adds no ack, per REPLY_ACK's rule). */
const OWN_REPLY = new Set<number>([Req.GET_FEATURES, Req.GET_PROTOCOL_FEATURES, Req.GET_VRING_BASE, Req.GET_QUEUE_NUM, Req.GET_CONFIG]);

const MAX_QUEUE_SIZE = 32768;
const PACKED_FRESH = 0x8000_8000; // avail and used index 0, both wrap counters 1

export class VhostUserBackend {
  readonly stats: VhostUserStats = { connections: 0, messages: 0, activations: 0, kicks: 0, calls: 0, errors: 0 };
  /** What the most recent front-end negotiated (kept after it disconnects, for reports and tests). */
  readonly lastSession: { features: bigint | undefined; protocolFeatures: bigint } = { features: undefined, protocolFeatures: 0n };
  /** The most recent errors (newest last, at most 16), for reports. */
  readonly recentErrors: VhostUserError[] = [];
  private readonly native: VhostNative;
  private readonly offeredFeatures: bigint;
  private readonly offeredProtocol: bigint;
  private readonly rings: Vring[];
  private readonly errorListeners: ((e: VhostUserError) => void)[] = [];
  private readonly disconnectListeners: ((reason: string) => void)[] = [];

  private fd = -1;
  private watch = 0;
  private reader: MessageReader | undefined;
  private backendFd = -1;
  private features: bigint | undefined;
  private protocolFeatures = 0n;
  private mem: MemTable | undefined;
  private active = false;
  private readonly pendingCall: Uint8Array;
  private callScheduled = false;
  private readonly inbandCall: Uint8Array;
  private readonly trace: ((line: string) => void) | undefined;

  constructor(
    readonly device: VirtioDevice,
    opts: VhostUserBackendOptions = {},
  ) {
    this.native = opts.native ?? loadVhostNative();
    this.trace = opts.trace;
    this.offeredFeatures = (device.deviceFeatures & ~(opts.withheldFeatures ?? 0n)) | bit(VHOST_USER_F_PROTOCOL_FEATURES);
    let p = protocolBit(ProtocolFeature.MQ) | protocolBit(ProtocolFeature.REPLY_ACK) | protocolBit(ProtocolFeature.BACKEND_REQ) | protocolBit(ProtocolFeature.RESET_DEVICE);
    if (device.configSize > 0) p |= protocolBit(ProtocolFeature.CONFIG);
    if (opts.inband === true) p |= protocolBit(ProtocolFeature.INBAND_NOTIFICATIONS);
    this.offeredProtocol = p;
    if (device.queueMaxSizes.length < 1 || device.queueMaxSizes.length > VRING_INDEX_MASK + 1) {
      throw new VhostUserError(VhostUserErrorCode.BAD_ARGUMENT, `a device with ${device.queueMaxSizes.length} queues cannot be served (1..256)`);
    }
    this.rings = device.queueMaxSizes.map(newVring);
    this.pendingCall = new Uint8Array(this.rings.length);
    this.inbandCall = encodeMessage(BackendReq.VRING_CALL, VHOST_USER_VERSION, encodeVringState(0, 0));
  }

  /** True while a front-end is attached. */
  get connected(): boolean {
    return this.fd >= 0;
  }

  /** True while the device is activated (every configured ring started and enabled). */
  get deviceActive(): boolean {
    return this.active;
  }

  /** The features the front-end set (virtio bits, without VHOST_USER_F_PROTOCOL_FEATURES). */
  get negotiatedFeatures(): bigint | undefined {
    return this.features;
  }

  onError(listener: (e: VhostUserError) => void): void {
    this.errorListeners.push(listener);
  }

  onDisconnect(listener: (reason: string) => void): void {
    this.disconnectListeners.push(listener);
  }

  /** Serves the front-end connected on `fd` (non-blocking AF_UNIX stream); the backend owns the fd from now on. */
  attach(fd: number): void {
    if (this.fd >= 0) {
      this.native.closeFd(fd);
      throw new VhostUserError(VhostUserErrorCode.BAD_ARGUMENT, 'a front-end is already attached');
    }
    this.fd = fd;
    this.stats.connections++;
    this.reader = new MessageReader(this.native, fd);
    this.watch = this.native.watchFd(fd, () => this.onReadable());
  }

  /** Closes the connection (if any) and gives the device back clean: reset, fds closed, memory released. */
  detach(reason = 'closed by the back-end'): void {
    if (this.fd < 0) return;
    this.native.unwatchFd(this.watch);
    this.native.closeFd(this.fd);
    this.fd = -1;
    this.watch = 0;
    this.reader?.dispose();
    this.reader = undefined;
    this.resetSession();
    this.trace?.(`-- disconnected: ${reason}`);
    for (const l of this.disconnectListeners) l(reason);
  }

  /**
   * Reads and handles what the connection holds now, without waiting for the event loop (a synchronous driver such
   * as the fuzzer calls it after each write; the watcher does the same when the fd becomes readable).
   */
  pump(): void {
    this.onReadable();
  }

  // ---- reading and dispatch ---------------------------------------------------------------------------------------

  private onReadable(): void {
    const reader = this.reader;
    if (reader === undefined) return;
    let r: string;
    try {
      r = reader.read((m) => this.handle(m));
    } catch (e) {
      this.fail(e, undefined);
      this.detach(`protocol error: ${(e as Error).message}`);
      return;
    }
    if (r === 'eof' && this.fd >= 0) this.detach('the front-end closed the connection');
  }

  /** Handles one request; returns false when the connection was closed. */
  private handle(m: VhostUserMessage): boolean {
    this.stats.messages++;
    this.trace?.(`<- ${requestName(m.request)} flags=0x${m.flags.toString(16)} size=${m.size} fds=${m.fds.length} ${hexBytes(m.payload, 48)}`);
    // Evaluated after the request ran: SET_PROTOCOL_FEATURES that negotiates REPLY_ACK is itself acked (Linux UML's
    // virtio_uml waits for that ack, as rust-vmm's back-ends send it).
    const wantAck = (): boolean => (m.flags & FLAG_NEED_REPLY) !== 0 && (this.protocolFeatures & protocolBit(ProtocolFeature.REPLY_ACK)) !== 0n && !OWN_REPLY.has(m.request);
    try {
      checkPayloadSize(m);
      this.checkFds(m);
      const reply = this.dispatch(m);
      if (reply !== undefined) this.send(encodeReply(m.request, reply));
      else if (wantAck()) this.send(encodeReply(m.request, encodeU64(0n)));
      return this.fd >= 0;
    } catch (e) {
      for (const f of m.fds.splice(0)) this.native.closeFd(f);
      const err = this.fail(e, m.request);
      if (FATAL_ERROR_CODES.has(err.code)) {
        this.detach(`protocol error: ${err.message}`);
        return false;
      }
      if (m.request === Req.GET_CONFIG) {
        // the front-end waits for this reply: an empty config access tells it the read failed
        this.send(encodeReply(m.request, encodeConfig(0, new Uint8Array(0))));
        return this.fd >= 0;
      }
      if (wantAck()) {
        this.send(encodeReply(m.request, encodeU64(1n)));
        return this.fd >= 0;
      }
      this.detach(`request failed: ${err.message}`);
      return false;
    }
  }

  private checkFds(m: VhostUserMessage): void {
    let want = 0;
    if (m.request === Req.SET_VRING_KICK || m.request === Req.SET_VRING_CALL || m.request === Req.SET_VRING_ERR) {
      want = (Number(decodeU64(m.payload) & BigInt(VRING_NOFD_MASK)) === 0) ? 1 : 0;
    } else if (m.request === Req.SET_BACKEND_REQ_FD) {
      want = 1;
    } else if (m.request === Req.SET_MEM_TABLE) {
      return; // one per region, checked against the table
    }
    if (m.fds.length < want) throw new VhostUserError(VhostUserErrorCode.MISSING_FD, `${requestName(m.request)} came without its descriptor`, { request: m.request });
    if (m.fds.length > want) {
      throw new VhostUserError(VhostUserErrorCode.UNEXPECTED_FD, `${requestName(m.request)} came with ${m.fds.length} descriptors, takes ${want}`, { request: m.request, fds: m.fds.length });
    }
  }

  /** Performs a request; returns the payload of its own reply, or undefined. */
  private dispatch(m: VhostUserMessage): Uint8Array | undefined {
    const p = m.payload;
    switch (m.request) {
      case Req.GET_FEATURES:
        return encodeU64(this.offeredFeatures);
      case Req.SET_FEATURES:
        this.setFeatures(decodeU64(p));
        return undefined;
      case Req.SET_OWNER:
        return undefined;
      case Req.RESET_OWNER:
      case Req.RESET_DEVICE:
        this.resetSession(true);
        return undefined;
      case Req.GET_PROTOCOL_FEATURES:
        return encodeU64(this.offeredProtocol);
      case Req.SET_PROTOCOL_FEATURES: {
        const v = decodeU64(p);
        if ((v & ~this.offeredProtocol) !== 0n) {
          throw new VhostUserError(VhostUserErrorCode.PROTOCOL_FEATURE_NOT_OFFERED, `protocol features 0x${(v & ~this.offeredProtocol).toString(16)} were not offered`, { features: v });
        }
        this.protocolFeatures = v;
        this.lastSession.protocolFeatures = v;
        return undefined;
      }
      case Req.GET_QUEUE_NUM:
        return encodeU64(BigInt(this.rings.length));
      case Req.SET_BACKEND_REQ_FD:
        if (this.backendFd >= 0) this.native.closeFd(this.backendFd);
        this.backendFd = m.fds.splice(0)[0]!;
        return undefined;
      case Req.SET_MEM_TABLE:
        this.setMemTable(m);
        return undefined;
      case Req.SET_VRING_NUM:
        this.setVringNum(decodeVringState(p));
        return undefined;
      case Req.SET_VRING_BASE:
        this.setVringBase(decodeVringState(p));
        return undefined;
      case Req.SET_VRING_ADDR:
        this.setVringAddr(p);
        return undefined;
      case Req.GET_VRING_BASE:
        return this.getVringBase(decodeVringState(p).index);
      case Req.SET_VRING_KICK:
      case Req.SET_VRING_CALL:
      case Req.SET_VRING_ERR:
        this.setVringFd(m);
        return undefined;
      case Req.SET_VRING_ENABLE: {
        const s = decodeVringState(p);
        const r = this.ring(s.index);
        if (s.num > 1) throw new VhostUserError(VhostUserErrorCode.BAD_ENABLE, `SET_VRING_ENABLE ${s.index}: value ${s.num} is not 0 or 1`, { index: s.index, num: s.num });
        r.enabled = s.num === 1;
        // With in-band notifications Linux's virtio_uml never sends SET_VRING_KICK (there is no kick fd to give):
        // enabling such a ring starts it too, as the first VRING_KICK would under the older "started by a kick" rule.
        if (r.enabled && this.inbandNegotiated && r.kickFd < 0) r.started = true;
        if (!r.enabled) this.deactivate();
        else this.maybeActivate();
        return undefined;
      }
      case Req.GET_CONFIG:
        return this.getConfig(p);
      case Req.SET_CONFIG: {
        const c = decodeConfig(p);
        this.checkConfigRange(c.offset, c.size);
        this.device.writeConfig(c.offset, c.data);
        return undefined;
      }
      case Req.VRING_KICK: {
        const s = decodeVringState(p);
        const r = this.ring(s.index);
        if (!r.started && r.addrs !== undefined) {
          r.started = true; // a kick starts a ring that was set up without SET_VRING_KICK
          this.maybeActivate();
        }
        this.kick(s.index);
        return undefined;
      }
      default:
        throw new VhostUserError(VhostUserErrorCode.UNSUPPORTED_REQUEST, `${requestName(m.request)} is not supported`, { request: m.request });
    }
  }

  // ---- requests ---------------------------------------------------------------------------------------------------

  private ring(index: number): Vring {
    const r = this.rings[index];
    if (r === undefined) throw new VhostUserError(VhostUserErrorCode.BAD_QUEUE_INDEX, `queue ${index} does not exist (the device has ${this.rings.length})`, { index });
    return r;
  }

  private get inbandNegotiated(): boolean {
    return (this.protocolFeatures & protocolBit(ProtocolFeature.INBAND_NOTIFICATIONS)) !== 0n;
  }

  private get packed(): boolean {
    return this.features !== undefined && hasFeature(this.features, VirtioFeature.RING_PACKED);
  }

  private setFeatures(v: bigint): void {
    if ((v & ~this.offeredFeatures) !== 0n) {
      throw new VhostUserError(VhostUserErrorCode.FEATURE_NOT_OFFERED, `features 0x${(v & ~this.offeredFeatures).toString(16)} were not offered`, { features: v });
    }
    const virtio = v & ~bit(VHOST_USER_F_PROTOCOL_FEATURES);
    const refused = this.device.checkFeatures?.(virtio);
    if (refused !== undefined) throw new VhostUserError(VhostUserErrorCode.FEATURES_REFUSED, `the device refused features 0x${virtio.toString(16)}: ${refused}`, { features: virtio });
    if (this.active && virtio !== this.features) this.deactivate();
    this.features = virtio;
    this.lastSession.features = virtio;
    // Without VHOST_USER_F_PROTOCOL_FEATURES there is no SET_VRING_ENABLE: rings are enabled from the start.
    if (!hasFeature(v, VHOST_USER_F_PROTOCOL_FEATURES)) for (const r of this.rings) r.enabled = true;
    this.maybeActivate();
  }

  private setMemTable(m: VhostUserMessage): void {
    const descs = decodeMemTable(m.payload);
    const fds = m.fds.splice(0);
    this.deactivate();
    const table = MemTable.map(this.native, descs, fds); // closes fds in every case
    this.mem?.release();
    this.mem = table;
    this.maybeActivate();
  }

  private setVringNum(s: { index: number; num: number }): void {
    const r = this.ring(s.index);
    const max = Math.min(this.device.queueMaxSizes[s.index]!, MAX_QUEUE_SIZE);
    if (s.num < 1 || s.num > max || (!this.packed && (s.num & (s.num - 1)) !== 0)) {
      throw new VhostUserError(VhostUserErrorCode.BAD_QUEUE_SIZE, `queue ${s.index}: size ${s.num} must be in 1..${max}${this.packed ? '' : ' and a power of two'}`, { index: s.index, num: s.num });
    }
    if (r.vq !== undefined) this.deactivate();
    r.num = s.num;
    r.addrs = undefined; // the ring's extent changed: SET_VRING_ADDR must follow
  }

  private setVringBase(s: { index: number; num: number }): void {
    const r = this.ring(s.index);
    if (this.packed) {
      // bits 0-14 avail index, 15 avail wrap, 16-30 used index, 31 used wrap. A fresh ring is index 0 with both wrap
      // counters 1 (§2.8.1); Linux UML sends 0 for a fresh packed ring too. Resuming mid-ring is not supported.
      if (s.num !== 0 && s.num >>> 0 !== PACKED_FRESH) {
        throw new VhostUserError(VhostUserErrorCode.BAD_VRING_BASE, `queue ${s.index}: packed ring state 0x${(s.num >>> 0).toString(16)}: only a fresh ring can be started`, { index: s.index, num: s.num });
      }
      r.base = 0;
      return;
    }
    if (s.num > 0xffff) throw new VhostUserError(VhostUserErrorCode.BAD_VRING_BASE, `queue ${s.index}: split ring index ${s.num} > 65535`, { index: s.index, num: s.num });
    if (r.vq !== undefined) this.deactivate();
    r.base = s.num;
  }

  private setVringAddr(p: Uint8Array): void {
    const a = decodeVringAddr(p);
    const r = this.ring(a.index);
    if (this.mem === undefined) throw new VhostUserError(VhostUserErrorCode.VRING_NOT_READY, `SET_VRING_ADDR ${a.index} before SET_MEM_TABLE`, { index: a.index });
    if (r.num === 0) throw new VhostUserError(VhostUserErrorCode.VRING_NOT_READY, `SET_VRING_ADDR ${a.index} before SET_VRING_NUM`, { index: a.index });
    const n = r.num;
    const mem = this.mem;
    // Ring extents: split §2.7 (desc 16N, avail 6+2N, used 6+8N, each with its event field); packed §2.8 (the
    // avail/used fields carry the driver and device event suppression areas).
    const lens = this.packed ? { desc: PACKED_DESC_SIZE * n, avail: PACKED_EVENT_SIZE, used: PACKED_EVENT_SIZE } : { desc: 16 * n, avail: 6 + 2 * n, used: 6 + 8 * n };
    const addrs = {
      desc: mem.toGuest(a.desc, lens.desc, `queue ${a.index} descriptor table`),
      avail: mem.toGuest(a.avail, lens.avail, `queue ${a.index} ${this.packed ? 'driver area' : 'available ring'}`),
      used: mem.toGuest(a.used, lens.used, `queue ${a.index} ${this.packed ? 'device area' : 'used ring'}`),
    };
    if (r.vq !== undefined) this.deactivate();
    r.addrs = addrs;
    this.maybeActivate();
  }

  private getVringBase(index: number): Uint8Array {
    const r = this.ring(index);
    let value = r.base;
    const vq = r.vq;
    if (vq instanceof SplitVirtqueueDevice) value = vq.lastAvailIdx;
    else if (vq instanceof PackedVirtqueueDevice) value = (vq.availOffWrap | (vq.usedOffWrap << 16)) >>> 0;
    // GET_VRING_BASE stops the ring: no more processing until the next SET_VRING_KICK.
    this.stopRing(r);
    this.deactivate();
    if (!this.packed) r.base = value;
    return encodeVringState(index, value);
  }

  private stopRing(r: Vring): void {
    r.started = false;
    if (r.kickWatch !== 0) this.native.unwatchFd(r.kickWatch);
    if (r.kickFd >= 0) this.native.closeFd(r.kickFd);
    r.kickWatch = 0;
    r.kickFd = -1;
  }

  private setVringFd(m: VhostUserMessage): void {
    const v = decodeU64(m.payload);
    if ((v & ~BigInt(VRING_INDEX_MASK | VRING_NOFD_MASK)) !== 0n) {
      throw new VhostUserError(VhostUserErrorCode.BAD_QUEUE_INDEX, `${requestName(m.request)}: reserved bits in 0x${v.toString(16)}`, { value: v });
    }
    const index = Number(v & BigInt(VRING_INDEX_MASK));
    const r = this.ring(index);
    const fd = m.fds.splice(0)[0] ?? -1;
    if (m.request === Req.SET_VRING_KICK) {
      this.stopRing(r);
      r.kickFd = fd;
      if (fd >= 0) r.kickWatch = this.native.watchFd(fd, (what) => this.onKickFd(index, what));
      r.started = true;
      this.maybeActivate();
    } else if (m.request === Req.SET_VRING_CALL) {
      if (r.callFd >= 0) this.native.closeFd(r.callFd);
      r.callFd = fd;
    } else {
      if (r.errFd >= 0) this.native.closeFd(r.errFd);
      r.errFd = fd;
    }
  }

  private checkConfigRange(offset: number, size: number): void {
    if (offset + size > this.device.configSize) {
      throw new VhostUserError(VhostUserErrorCode.BAD_CONFIG_ACCESS, `config access of ${size} bytes at ${offset} is outside the device's ${this.device.configSize} bytes`, { offset, size });
    }
  }

  private getConfig(p: Uint8Array): Uint8Array {
    const c = decodeConfig(p);
    this.checkConfigRange(c.offset, c.size);
    const data = new Uint8Array(c.size);
    this.device.readConfig(c.offset, data);
    return encodeConfig(c.offset, data, c.flags);
  }

  // ---- activation and notifications -------------------------------------------------------------------------------

  private maybeActivate(): void {
    const mem = this.mem;
    const features = this.features;
    if (mem === undefined || features === undefined) return;
    let configured = 0;
    for (const r of this.rings) {
      if (r.addrs === undefined) continue;
      if (!r.started || !r.enabled) return;
      configured++;
    }
    if (configured === 0) return;
    if (this.active) {
      if (this.rings.every((r) => (r.addrs !== undefined) === (r.vq !== undefined))) return;
      this.deactivate(); // a ring became ready after the device was activated: activate again with all of them
    }
    let queues: (DeviceQueue | undefined)[];
    try {
      queues = this.rings.map((r, index) => (r.addrs === undefined ? undefined : this.buildQueue(index, r, mem, features)));
    } catch (e) {
      for (const r of this.rings) r.vq = undefined;
      throw e instanceof VirtioError ? new VhostUserError(VhostUserErrorCode.VRING_ADDR_UNMAPPED, `ring setup: ${e.message}`, { cause: e.code }) : e;
    }
    this.active = true;
    this.stats.activations++;
    try {
      this.device.activate({
        features,
        queues,
        memory: mem.memory,
        configChanged: () => this.sendConfigChanged(),
        needsReset: (reason) => this.deviceNeedsReset(reason),
      });
      this.device.poll(); // buffers the driver posted before its rings were started
    } catch (e) {
      this.deactivate();
      throw new VhostUserError(VhostUserErrorCode.DEVICE_ERROR, `device activation failed: ${(e as Error).message}`, { cause: (e as { code?: string }).code });
    }
  }

  private buildQueue(index: number, r: Vring, mem: MemTable, features: bigint): DeviceQueue {
    const a = r.addrs!;
    let vq: VirtqueueDevice;
    if (hasFeature(features, VirtioFeature.RING_PACKED)) {
      vq = new PackedVirtqueueDevice(mem.memory, r.num, { desc: a.desc, driverEvent: a.avail, deviceEvent: a.used }, { features });
    } else {
      const s = new SplitVirtqueueDevice(mem.memory, r.num, a, { features });
      // Resume at the front-end's index (SET_VRING_BASE): the ring is idle, so used.idx equals it too.
      if (r.base !== 0) s.setIndicesForTest(r.base);
      vq = s;
    }
    r.vq = vq;
    return { index, vq, notify: () => this.queueCall(index) };
  }

  private deactivate(): void {
    for (const r of this.rings) r.vq = undefined;
    this.pendingCall.fill(0);
    if (!this.active) return;
    this.active = false;
    this.device.reset();
  }

  private onKickFd(index: number, what: number): void {
    const r = this.rings[index]!;
    if (r.kickFd < 0) return;
    const n = this.native.drainFd(r.kickFd);
    if (what === 2 || n < 0) {
      // the front-end closed its end: stop watching (level-triggered, it would fire forever)
      this.native.unwatchFd(r.kickWatch);
      r.kickWatch = 0;
      return;
    }
    this.kick(index);
  }

  private kick(index: number): void {
    this.stats.kicks++;
    const r = this.rings[index]!;
    if (!this.active || r.vq === undefined) return; // a kick before setup, or on a stopped ring: nothing to do
    try {
      this.device.queueNotify(index);
    } catch (e) {
      this.deviceNeedsReset(`queue ${index}: ${(e as Error).message}`);
    }
  }

  /** Coalesces used-buffer notifications: one call per queue per turn of the event loop. */
  private queueCall(index: number): void {
    this.pendingCall[index] = 1;
    if (this.callScheduled) return;
    this.callScheduled = true;
    queueMicrotask(() => this.flushCalls());
  }

  private flushCalls(): void {
    this.callScheduled = false;
    const inband = this.inbandNegotiated;
    for (let i = 0; i < this.pendingCall.length; i++) {
      if (this.pendingCall[i] === 0) continue;
      this.pendingCall[i] = 0;
      const r = this.rings[i]!;
      if (r.callFd >= 0) {
        this.native.writeU64(r.callFd, 1); // 0 (would block) means a call is already pending there
        this.stats.calls++;
      } else if (inband && this.backendFd >= 0) {
        new DataView(this.inbandCall.buffer).setUint32(12, i, true);
        this.native.sendMsg(this.backendFd, this.inbandCall, []);
        this.stats.calls++;
      }
    }
  }

  private sendConfigChanged(): void {
    if (this.backendFd < 0 || (this.protocolFeatures & protocolBit(ProtocolFeature.CONFIG)) === 0n) return;
    this.native.sendMsg(this.backendFd, encodeMessage(BackendReq.CONFIG_CHANGE_MSG, VHOST_USER_VERSION), []);
  }

  private deviceNeedsReset(reason: string): void {
    this.fail(new VhostUserError(VhostUserErrorCode.DEVICE_ERROR, `device needs reset: ${reason}`), undefined);
    for (const r of this.rings) if (r.errFd >= 0) this.native.writeU64(r.errFd, 1);
    this.deactivate();
  }

  // ---- plumbing ---------------------------------------------------------------------------------------------------

  private send(bytes: Uint8Array): void {
    if (this.fd < 0) return;
    this.trace?.(`-> reply ${hexBytes(bytes, 60)}`);
    if (this.native.sendMsg(this.fd, bytes, []) < 0) this.detach('the front-end is gone (send failed)');
  }

  private fail(e: unknown, request: number | undefined): VhostUserError {
    const err = isVhostUserError(e)
      ? e
      : new VhostUserError(e instanceof VirtioError ? VhostUserErrorCode.DEVICE_ERROR : VhostUserErrorCode.IO_FAILED, (e as Error).message ?? String(e), {
          cause: (e as { code?: string }).code,
        });
    if (request !== undefined && err.details['request'] === undefined) (err.details as Record<string, unknown>)['request'] = requestName(request);
    this.stats.errors++;
    this.trace?.(`!! ${err.message}`);
    this.recentErrors.push(err);
    if (this.recentErrors.length > 16) this.recentErrors.shift();
    for (const l of this.errorListeners) l(err);
    return err;
  }

  /** Forgets every per-session state (the connection itself stays unless detach() called this). */
  private resetSession(keepConnection = false): void {
    this.deactivate();
    for (let i = 0; i < this.rings.length; i++) {
      const r = this.rings[i]!;
      this.stopRing(r);
      if (r.callFd >= 0) this.native.closeFd(r.callFd);
      if (r.errFd >= 0) this.native.closeFd(r.errFd);
      this.rings[i] = newVring();
    }
    this.mem?.release();
    this.mem = undefined;
    this.features = undefined;
    if (!keepConnection) {
      if (this.backendFd >= 0) this.native.closeFd(this.backendFd);
      this.backendFd = -1;
      this.protocolFeatures = 0n;
    }
  }
}

function hexBytes(b: Uint8Array, max: number): string {
  return Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, max)).toString('hex') + (b.length > max ? '…' : '');
}
