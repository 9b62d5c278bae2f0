/**
 * What the host and the remote role share: the endpoint table and address allocation, the name service, message
 * dispatch, send paths (copy, zero-copy, async and blocking backpressure) and counters. The roles supply the
 * buffer plumbing (which vring, driver or device side) through the protected hooks at the bottom.
 *
 * Threading: single-threaded. Nothing happens behind the caller's back (no timers except the timeout of a pending
 * async wait): messages are received, TX buffers reclaimed and waiting senders woken inside poll().
 */
import { copyBytes } from '../virtio/copy.js';
import { Endpoint, type EndpointOptions } from './endpoint.js';
import { RxMessage, TxBuffer, TX_ACQUIRED, TX_FREE } from './buffers.js';
import { RpmsgError, RpmsgErrorCode, isRpmsgError } from './errors.js';
import { RPMSG_ADDR_ANY, RPMSG_HEADER_SIZE, RPMSG_NS_ADDR, RPMSG_NS_MSG_SIZE, RPMSG_RESERVED_ADDRESSES, RpmsgNsFlags } from './constants.js';
import { decodeNsMessage, encodeNsMessage, encodeServiceName } from './name-service.js';

/** How a role reaches the other side. */
export interface RpmsgTransport {
  /** Notify the other side about vring `vqIndex` (0 or 1); called only when the virtqueue says so. */
  notify(vqIndex: number): void;
}

export interface NameServiceEvent {
  readonly type: 'create' | 'destroy';
  readonly name: string;
  /** The peer's address of the service. */
  readonly addr: number;
}

export interface RpmsgCommonOptions {
  readonly transport: RpmsgTransport;
  /**
   * Blocking wait used by the *Blocking send paths: sleep until the other side notifies or timeoutMs elapses
   * (e.g. Atomics.wait on a doorbell word); return value is ignored (the role re-polls either way).
   */
  readonly waitForNotification?: (timeoutMs: number) => boolean;
  /** Default wait for a TX buffer in send()/sendBlocking(). Default 15000 ms (OpenAMP's 15 s). */
  readonly defaultTimeoutMs?: number;
  /**
   * Called when the peer announces or destroys a service no local endpoint is bound to, after the role updated its
   * table (create a channel with `createEndpoint({ name, dst: ev.addr })` in it). Default: none (see services).
   */
  readonly onNameService?: (ev: NameServiceEvent, role: RpmsgCore) => void;
  /** Called with exceptions thrown by endpoint callbacks (they never escape poll()). Default: counted only. */
  readonly onCallbackError?: (e: unknown, ep: Endpoint) => void;
  /** Clock for timeouts (ms). Default performance.now. */
  readonly now?: () => number;
  /**
   * Most services the peer may have announced at once (`services`): a CREATE of a new name beyond it is dropped and
   * counted (stats.droppedNameService), so a flood of announcements cannot grow memory without bound. Default 1024.
   */
  readonly maxServices?: number;
}

/** Default of RpmsgCommonOptions.maxServices. */
export const DEFAULT_MAX_SERVICES = 1024;

export interface RpmsgStats {
  txMessages: number;
  rxMessages: number;
  /** Messages for an address with no endpoint (dropped, as Linux does). */
  droppedUnknownDst: number;
  /** Malformed messages (bad header len, bad buffer shape, bad name-service message): dropped. */
  droppedMalformed: number;
  /** trySend / getTxBuffer found no free TX buffer. */
  txNoBuffer: number;
  /** Notifications asked of the transport. */
  notifications: number;
  callbackErrors: number;
  /** VirtIO rule violations by the peer (each puts the role in needs-reset). */
  peerErrors: number;
  /** Name-service CREATEs of new names dropped because `services` held maxServices names already. */
  droppedNameService: number;
}

interface TxWaiter {
  resolve(b: TxBuffer): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Endpoint routing cache: a direct-mapped table of 64 slots indexed by the low bits of the address, in front of the
 * endpoints Map (the truth). A slot holds an endpoint whose addr matches, or undefined; a miss falls back to the Map
 * and fills the slot. Destroy clears the endpoint's slot.
 */
const ROUTE_SLOTS = 64;
const ROUTE_MASK = ROUTE_SLOTS - 1;

export abstract class RpmsgCore {
  readonly stats: RpmsgStats = {
    txMessages: 0,
    rxMessages: 0,
    droppedUnknownDst: 0,
    droppedMalformed: 0,
    txNoBuffer: 0,
    notifications: 0,
    callbackErrors: 0,
    peerErrors: 0,
    droppedNameService: 0,
  };
  /** Services the peer announced and has not destroyed: name -> peer address. */
  readonly services = new Map<string, number>();
  /** The last error that put the role into needs-reset (a VirtioError or RpmsgError). */
  lastError: unknown = undefined;
  protected readonly transport: RpmsgTransport;
  protected readonly opts: RpmsgCommonOptions;
  protected readonly endpoints = new Map<number, Endpoint>();
  private readonly routes: (Endpoint | undefined)[] = new Array<Endpoint | undefined>(ROUTE_SLOTS).fill(undefined);
  /** Whether the peer was asked to notify us about returned TX buffers (armTxWait(true) in force). */
  private txWaitArmed = false;
  /**
   * A non-blocking send (trySend, a guest's ep.send) was refused for want of a TX buffer. Its caller will retry after
   * its next wake-up, so the peer is asked to notify us when it gives a buffer back (as for a waiting sender), until
   * poll() sees one free again. Without this the peer returns buffers silently (EVENT_IDX: we had said we do not
   * want to know, §2.7.10) and a sender whose peer has nothing else to say sleeps until something unrelated wakes it.
   */
  private txRefused = false;
  /** poll() found a TX buffer free again after a refused send (taken, once, by takeTxFreed()). */
  private txFreed = false;
  protected nsEnabled = false;
  private nextAddr = RPMSG_RESERVED_ADDRESSES;
  private readonly txWaiters: TxWaiter[] = [];
  private readonly nsScratch = new Uint8Array(RPMSG_NS_MSG_SIZE);
  protected readonly now: () => number;
  private readonly maxServices: number;

  protected constructor(opts: RpmsgCommonOptions) {
    if (opts === undefined || opts.transport === undefined || typeof opts.transport.notify !== 'function') {
      throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, 'options.transport { notify(vqIndex) } is required');
    }
    const maxServices = opts.maxServices ?? DEFAULT_MAX_SERVICES;
    if (!Number.isSafeInteger(maxServices) || maxServices < 0) {
      throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `maxServices must be an integer >= 0, not ${String(maxServices)}`);
    }
    this.maxServices = maxServices;
    this.opts = opts;
    this.transport = opts.transport;
    this.now = opts.now ?? (() => performance.now());
  }

  // ---- state --------------------------------------------------------------------------------------------------

  /** True when messages can flow (host: started; remote: attached and the host is at DRIVER_OK). */
  abstract get ready(): boolean;
  /** True when the peer broke a rule and the role stopped; see lastError and the role's reset path. */
  abstract get needsReset(): boolean;
  /** Whether the name service (VIRTIO_RPMSG_F_NS) was negotiated. */
  get nameService(): boolean {
    return this.nsEnabled;
  }
  /** Largest payload a TX buffer is known to take (remote: of the last host buffer seen). */
  abstract get maxPayload(): number;
  /** Processes everything pending (received messages, returned TX buffers, waiting senders). Returns messages received. */
  abstract poll(): number;
  /**
   * Before sleeping: asks the peer to notify us about the next message (the default state). Returns false when
   * messages are already waiting (poll() instead of sleeping), true when it is safe to sleep.
   */
  abstract armRx(): boolean;
  /**
   * While polling anyway: the peer need not notify us about new messages until armRx() (saves a notification and a
   * shared-memory store per message). Kept across resets and re-attaches.
   */
  abstract disarmRx(): void;
  /** Same as poll(); `vqIndex` is informative (both vrings are looked at). */
  onInterrupt(vqIndex: number): number {
    void vqIndex;
    return this.poll();
  }

  protected checkReady(): void {
    if (this.needsReset) throw new RpmsgError(RpmsgErrorCode.NEEDS_RESET, 'the RPMsg device needs a reset', { cause: String(this.lastError) });
    if (!this.ready) throw new RpmsgError(RpmsgErrorCode.NOT_READY, 'the RPMsg device is not ready yet (poll() until ready)');
  }

  // ---- endpoints and addresses ---------------------------------------------------------------------------------

  /** Creates an endpoint; announces it when named, the name service is on and it is not bound yet. */
  createEndpoint(o: EndpointOptions = {}): Endpoint {
    if (o.name !== undefined) encodeServiceName(o.name);
    let addr: number;
    if (o.addr === undefined || o.addr === RPMSG_ADDR_ANY) addr = this.allocAddress();
    else {
      if (!Number.isInteger(o.addr) || o.addr < 0 || o.addr >= RPMSG_ADDR_ANY) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `address ${o.addr} is not a u32 below 0xffffffff`);
      if (this.endpoints.has(o.addr)) throw new RpmsgError(RpmsgErrorCode.ADDR_IN_USE, `address ${o.addr} is in use`, { addr: o.addr });
      addr = o.addr;
    }
    const ep = new Endpoint(this, addr, o);
    // A service the peer already announced binds at once (OpenAMP: rpmsg_create_ept after ns_bind_cb).
    if (ep.dst === RPMSG_ADDR_ANY && o.name !== undefined && this.services.has(o.name) && o.announce !== true) ep.dst = ep.learntDst = this.services.get(o.name)!;
    const announce = o.announce ?? (o.name !== undefined && ep.dst === RPMSG_ADDR_ANY);
    if (announce && o.name !== undefined) {
      if (this.ready && !this.nsEnabled) {
        if (o.announce === true) throw new RpmsgError(RpmsgErrorCode.NO_NAME_SERVICE, 'cannot announce: VIRTIO_RPMSG_F_NS was not negotiated');
      } else ep.wantAnnounce = true;
    }
    this.endpoints.set(addr, ep);
    if (ep.wantAnnounce && this.ready) this.announcePending();
    return ep;
  }

  /** Sends the CREATE announcements of endpoints made before the device was ready (roles call it on ready). */
  protected announcePending(): void {
    if (!this.nsEnabled) return;
    for (const ep of this.endpoints.values()) {
      if (ep.wantAnnounce && !ep.announced && ep.name !== undefined) {
        this.sendNs(ep.name, ep.addr, RpmsgNsFlags.CREATE);
        ep.announced = true;
      }
    }
  }

  /**
   * Sends the pending CREATE announcements without waiting for a TX buffer: true when none is left pending, false
   * when one found no buffer or the role stopped being ready (the rest stay pending, ep.announced false).
   */
  protected announcePendingNow(): boolean {
    if (!this.nsEnabled) return true;
    for (const ep of this.endpoints.values()) {
      if (ep.wantAnnounce && !ep.announced && ep.name !== undefined) {
        if (!this.ready) return false;
        encodeNsMessage({ name: ep.name, addr: ep.addr, flags: RpmsgNsFlags.CREATE }, this.nsScratch);
        let sent: boolean;
        try {
          sent = this.trySendRaw(ep.addr, RPMSG_NS_ADDR, this.nsScratch);
        } catch (e) {
          // NOT_READY / NEEDS_RESET: the send found the rings gone; PAYLOAD_TOO_LARGE: the peer's buffer is too small.
          if (!isRpmsgError(e)) throw e;
          return false;
        }
        if (!sent) return false;
        ep.announced = true;
      }
    }
    return true;
  }

  /**
   * After a reset: peer services are forgotten, announced endpoints will be announced again, and peer addresses
   * learnt in the old session (from a first message or an announcement) are cleared, since the peer's endpoints of
   * the new session may live elsewhere. Addresses the creator gave (or set since) are kept. Endpoints stay.
   */
  protected forgetPeer(): void {
    this.services.clear();
    for (const ep of this.endpoints.values()) {
      ep.announced = false;
      if (ep.learntDst !== RPMSG_ADDR_ANY && ep.dst === ep.learntDst) ep.dst = RPMSG_ADDR_ANY;
      ep.learntDst = RPMSG_ADDR_ANY;
    }
  }

  /** The endpoint at `addr`, if any. */
  endpoint(addr: number): Endpoint | undefined {
    return this.endpoints.get(addr);
  }

  /** @internal Endpoint.destroy(). */
  destroyEndpoint(ep: Endpoint): void {
    if (this.endpoints.get(ep.addr) !== ep) return;
    if (ep.announced && ep.name !== undefined && this.nsEnabled && this.ready) {
      try {
        this.sendNs(ep.name, ep.addr, RpmsgNsFlags.DESTROY);
      } catch (e) {
        if (!isRpmsgError(e)) throw e;
      }
    }
    this.endpoints.delete(ep.addr);
    const slot = ep.addr & ROUTE_MASK;
    if (this.routes[slot] === ep) this.routes[slot] = undefined;
    ep.markClosed();
  }

  /** Dynamic address: next free one from 1024 (wrapping within [1024, 0xfffffffe]). */
  private allocAddress(): number {
    const span = RPMSG_ADDR_ANY - RPMSG_RESERVED_ADDRESSES;
    for (let tries = 0; tries <= this.endpoints.size; tries++) {
      const a = this.nextAddr;
      this.nextAddr = a + 1 >= RPMSG_ADDR_ANY ? RPMSG_RESERVED_ADDRESSES : a + 1;
      if (!this.endpoints.has(a)) return a;
    }
    throw new RpmsgError(RpmsgErrorCode.NO_ADDRESS, `no free dynamic address among ${span}`);
  }

  /** Creates the name-service endpoint (address 53) once the feature is negotiated. */
  protected enableNameService(): void {
    this.nsEnabled = true;
    if (this.endpoints.has(RPMSG_NS_ADDR)) return;
    // Decoded from a copy: the peer may rewrite the message while it is being decoded.
    const ns = new Endpoint(this, RPMSG_NS_ADDR, { dst: RPMSG_NS_ADDR, onMessage: (m) => this.onNsMessage(m.copy()) });
    this.endpoints.set(RPMSG_NS_ADDR, ns);
  }

  private sendNs(name: string, addr: number, flags: number): void {
    encodeNsMessage({ name, addr, flags }, this.nsScratch);
    // Announcements are rare and must not be lost: wait for a buffer through whichever wait the role has.
    if (!this.trySendRaw(addr, RPMSG_NS_ADDR, this.nsScratch)) {
      if (this.opts.waitForNotification !== undefined) this.sendRawBlocking(addr, RPMSG_NS_ADDR, this.nsScratch, undefined);
      else void this.sendRaw(addr, RPMSG_NS_ADDR, this.nsScratch.slice(), undefined).catch(() => undefined);
    }
  }

  private onNsMessage(payload: Uint8Array): void {
    let m;
    try {
      m = decodeNsMessage(payload);
    } catch (e) {
      if (!isRpmsgError(e)) throw e;
      this.stats.droppedMalformed++;
      return;
    }
    const create = m.flags === RpmsgNsFlags.CREATE;
    let bound = false;
    if (create) {
      if (this.services.size >= this.maxServices && !this.services.has(m.name)) {
        // A flood of announcements (distinct names) must not grow memory: drop the excess, count it.
        this.stats.droppedNameService++;
        return;
      }
      this.services.set(m.name, m.addr);
      for (const ep of this.endpoints.values()) {
        if (ep.name === m.name && ep.dst === RPMSG_ADDR_ANY) {
          ep.dst = ep.learntDst = m.addr;
          bound = true;
          break;
        }
      }
    } else {
      if (this.services.get(m.name) === m.addr) this.services.delete(m.name);
      for (const ep of this.endpoints.values()) {
        if (ep.name === m.name && ep.dst === m.addr) {
          ep.dst = RPMSG_ADDR_ANY;
          bound = true;
          try {
            ep.onUnbind?.(ep);
          } catch (e) {
            this.callbackError(e, ep);
          }
        }
      }
    }
    if (!bound && this.opts.onNameService !== undefined) {
      try {
        this.opts.onNameService({ type: create ? 'create' : 'destroy', name: m.name, addr: m.addr }, this);
      } catch (e) {
        this.callbackError(e, this.endpoints.get(RPMSG_NS_ADDR)!);
      }
    }
  }

  // ---- receiving -----------------------------------------------------------------------------------------------

  /**
   * @internal Roles call this for each well-formed message: counts it and finds its endpoint (learning the peer
   * address of an unbound one). Returns undefined when no endpoint has that address (counted, dropped as Linux does).
   */
  protected route(msg: RxMessage): Endpoint | undefined {
    this.stats.rxMessages++;
    const dst = msg.dst;
    const slot = dst & ROUTE_MASK;
    let ep = this.routes[slot];
    if (ep === undefined || ep.addr !== dst) {
      ep = this.endpoints.get(dst);
      if (ep === undefined) {
        this.stats.droppedUnknownDst++;
        return undefined;
      }
      this.routes[slot] = ep;
    }
    if (ep.dst === RPMSG_ADDR_ANY && dst !== RPMSG_NS_ADDR) ep.dst = ep.learntDst = msg.src;
    return ep;
  }

  /**
   * @internal Hands a live message to its endpoint. Exceptions from the callback propagate: the role's receive loop
   * has one try around the whole batch and reports them through callbackError() (they never escape poll()).
   */
  protected invoke(ep: Endpoint, msg: RxMessage): void {
    const cb = ep.onMessage;
    if (cb !== undefined) cb(msg, ep);
    else ep.deliver(msg);
  }

  /** An endpoint callback threw: count it and hand it to options.onCallbackError (which may rethrow). */
  protected callbackError(e: unknown, ep: Endpoint): void {
    this.stats.callbackErrors++;
    if (this.opts.onCallbackError !== undefined) this.opts.onCallbackError(e, ep);
  }

  // ---- sending -------------------------------------------------------------------------------------------------

  private tooLarge(len: number, cap: number): RpmsgError {
    return new RpmsgError(RpmsgErrorCode.PAYLOAD_TOO_LARGE, `payload of ${len} bytes exceeds the ${cap}-byte payload area of a buffer`, { len, capacity: cap });
  }

  /** A free TX buffer for zero-copy use, or undefined (counted in txNoBuffer). */
  getTxBuffer(): TxBuffer | undefined {
    this.checkReady();
    const b = this.acquireTx();
    if (b === undefined) {
      this.stats.txNoBuffer++;
      return undefined;
    }
    b.state = TX_ACQUIRED;
    return b;
  }

  /** Waits (async) for a TX buffer; resolved by a later poll(), rejected with TX_TIMEOUT. */
  waitTxBuffer(timeoutMs?: number): Promise<TxBuffer> {
    this.checkReady();
    const b = this.acquireTx();
    if (b !== undefined) {
      b.state = TX_ACQUIRED;
      return Promise.resolve(b);
    }
    const ms = timeoutMs ?? this.opts.defaultTimeoutMs ?? 15000;
    return new Promise((resolve, reject) => {
      const w: TxWaiter = { resolve, reject, timer: undefined };
      w.timer = setTimeout(() => {
        const i = this.txWaiters.indexOf(w);
        if (i >= 0) this.txWaiters.splice(i, 1);
        if (this.txWaiters.length === 0) this.setTxWait(false);
        reject(new RpmsgError(RpmsgErrorCode.TX_TIMEOUT, `no TX buffer became free within ${ms} ms`, { timeoutMs: ms }));
      }, ms);
      this.txWaiters.push(w);
      this.flushTx();
      this.setTxWait(true);
    });
  }

  /** Waits (blocking, through waitForNotification) for a TX buffer; throws TX_TIMEOUT or NO_WAIT_HOOK. */
  waitTxBufferBlocking(timeoutMs?: number): TxBuffer {
    this.checkReady();
    let b = this.acquireTx();
    if (b === undefined) {
      const hook = this.opts.waitForNotification;
      if (hook === undefined) throw new RpmsgError(RpmsgErrorCode.NO_WAIT_HOOK, 'blocking send needs options.waitForNotification');
      const ms = timeoutMs ?? this.opts.defaultTimeoutMs ?? 15000;
      const deadline = this.now() + ms;
      this.setTxWait(true);
      try {
        for (;;) {
          b = this.acquireTx();
          if (b !== undefined) break;
          const left = deadline - this.now();
          if (left <= 0) throw new RpmsgError(RpmsgErrorCode.TX_TIMEOUT, `no TX buffer became free within ${ms} ms`, { timeoutMs: ms });
          // Corked sends (an explicit cork, or sends from callbacks inside poll()) are published before sleeping:
          // the peer can only return buffers for messages it sees.
          this.flushTx();
          hook(left);
          this.poll();
          this.checkReady();
        }
      } finally {
        if (this.txWaiters.length === 0) this.setTxWait(false);
      }
    }
    b.state = TX_ACQUIRED;
    return b;
  }

  /** Gives back a TX buffer taken with getTxBuffer() without sending it. */
  releaseTxBuffer(b: TxBuffer): void {
    this.checkOwned(b);
    b.state = TX_FREE;
    this.unacquireTx(b);
  }

  private checkOwned(b: TxBuffer): void {
    if (b.state !== TX_ACQUIRED || !this.ownsTx(b)) throw new RpmsgError(RpmsgErrorCode.BAD_BUFFER, 'TX buffer is not one taken from this role with getTxBuffer()');
  }

  /** Zero-copy send of `len` bytes already in b.data. */
  sendNoCopy(b: TxBuffer, src: number, dst: number, len: number): void {
    this.checkOwned(b);
    if (!Number.isInteger(len) || len < 0) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `bad payload length ${len}`);
    if (len > b.capacity) throw this.tooLarge(len, b.capacity);
    this.checkReady();
    b.state = TX_FREE;
    this.commit(b, src, dst, len);
  }

  /** @internal copy send without waiting. */
  trySendRaw(src: number, dst: number, data: Uint8Array): boolean {
    this.checkReady();
    const n = data.length;
    if (n > this.maxPayload) throw this.tooLarge(n, this.maxPayload);
    const b = this.acquireTx();
    if (b === undefined) {
      this.stats.txNoBuffer++;
      this.txRefused = true;
      // Publish what callbacks sent under poll()'s cork first: the peer only returns buffers for messages it sees.
      this.flushTx();
      this.setTxWait(true);
      return false;
    }
    if (n > b.capacity) {
      this.unacquireTx(b);
      throw this.tooLarge(n, b.capacity);
    }
    copyBytes(b.region!.u8, b.off + RPMSG_HEADER_SIZE, data, 0, n);
    this.commit(b, src, dst, n);
    return true;
  }

  /** @internal copy send, waiting asynchronously for a buffer. */
  sendRaw(src: number, dst: number, data: Uint8Array, timeoutMs: number | undefined): Promise<void> {
    try {
      if (this.trySendRaw(src, dst, data)) return RESOLVED;
    } catch (e) {
      return Promise.reject(e);
    }
    return this.waitTxBuffer(timeoutMs).then((b) => {
      if (data.length > b.capacity) {
        this.releaseTxBuffer(b);
        throw this.tooLarge(data.length, b.capacity);
      }
      copyBytes(b.data, 0, data, 0, data.length);
      this.sendNoCopy(b, src, dst, data.length);
    });
  }

  /** @internal copy send, blocking for a buffer. */
  sendRawBlocking(src: number, dst: number, data: Uint8Array, timeoutMs: number | undefined): void {
    if (this.trySendRaw(src, dst, data)) return;
    const b = this.waitTxBufferBlocking(timeoutMs);
    if (data.length > b.capacity) {
      this.releaseTxBuffer(b);
      throw this.tooLarge(data.length, b.capacity);
    }
    copyBytes(b.data, 0, data, 0, data.length);
    this.sendNoCopy(b, src, dst, data.length);
  }

  /** Writes the header in place and hands the buffer to the role's ring. */
  private commit(b: TxBuffer, src: number, dst: number, len: number): void {
    const r = b.region!;
    const o = b.off;
    if ((o & 3) === 0) {
      // Aligned (always for the host's pool): four u32 stores; the host is little-endian (memory.ts), so
      // word 3 = len (bytes 12-13) | flags 0 (bytes 14-15).
      const u32 = r.u32;
      const w = o >>> 2;
      u32[w] = src;
      u32[w + 1] = dst;
      u32[w + 2] = 0;
      u32[w + 3] = len;
    } else {
      const v = r.view;
      v.setUint32(o, src, true);
      v.setUint32(o + 4, dst, true);
      v.setUint32(o + 8, 0, true);
      v.setUint16(o + 12, len, true);
      v.setUint16(o + 14, 0, true);
    }
    this.stats.txMessages++;
    this.submitTx(b, RPMSG_HEADER_SIZE + len);
  }

  /** Hands free TX buffers to waiting async senders; roles call it at the end of poll(). */
  protected wakeTxWaiters(): void {
    while (this.txWaiters.length > 0) {
      const b = this.acquireTx();
      if (b === undefined) return;
      const w = this.txWaiters.shift();
      if (w === undefined) {
        // acquireTx found the rings reset and re-attached, which rejected the waiters: keep the buffer.
        this.unacquireTx(b);
        break;
      }
      if (w.timer !== undefined) clearTimeout(w.timer);
      b.state = TX_ACQUIRED;
      w.resolve(b);
    }
    if (this.txRefused) {
      // Look after arming (the peer's check of our event index and our look here are ordered by seq-cst atomics):
      // a buffer given back before we armed is seen now, one given back after comes with a notification.
      const b = this.acquireTx();
      if (b === undefined) return; // stay armed
      this.unacquireTx(b);
      this.txRefused = false;
      this.txFreed = true;
    }
    this.setTxWait(false);
  }

  /**
   * Whether a TX buffer became free since a non-blocking send was refused (true once per refusal): a caller that
   * counts the work a poll did counts this too, so that a sender with messages queued retries instead of sleeping.
   */
  takeTxFreed(): boolean {
    const f = this.txFreed;
    this.txFreed = false;
    return f;
  }

  /** armTxWait through a flag, so the common "nobody waits" case touches no shared memory. */
  protected setTxWait(on: boolean): void {
    if (on === this.txWaitArmed) return;
    this.txWaitArmed = on;
    this.armTxWait(on);
  }

  /** Roles call this when their rings were (re)created: the new rings start with TX-complete notifications off. */
  protected txWaitReset(): void {
    this.txWaitArmed = false;
  }

  /** Rejects every pending async wait (reset / needs-reset). */
  protected failTxWaiters(e: unknown): void {
    for (const w of this.txWaiters.splice(0)) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.reject(e);
    }
  }

  protected notify(vq: number): void {
    this.stats.notifications++;
    this.transport.notify(vq);
  }

  // ---- role hooks ----------------------------------------------------------------------------------------------

  /** A free TX buffer bound to its memory, or undefined; may reclaim buffers the peer returned. */
  protected abstract acquireTx(): TxBuffer | undefined;
  /** Gives back a buffer acquireTx() returned, unsent. */
  protected abstract unacquireTx(b: TxBuffer): void;
  /** Puts a filled buffer (header written, `bytes` = 16 + payload) on the ring and notifies if asked to. */
  protected abstract submitTx(b: TxBuffer, bytes: number): void;
  /** Whether the buffer belongs to this role's current ring generation. */
  protected abstract ownsTx(b: TxBuffer): boolean;
  /** Publishes TX buffers submitted but held back by a cork (the cork stays), notifying if the peer asks for it. */
  protected abstract flushTx(): void;
  /** Ask (true) or stop asking (false) the peer to notify us when it returns TX buffers. */
  protected abstract armTxWait(on: boolean): void;
  /** @internal a held RX message was released. */
  abstract releaseRx(msg: RxMessage): void;
}
