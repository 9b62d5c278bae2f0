/**
 * An RPMsg endpoint: a local address, optionally bound to a peer address (`dst`) and a service name.
 *
 * Life cycle:  open ──destroy()──► destroyed   (a destroyed endpoint refuses sends, its iterator ends)
 * Binding:     dst = RPMSG_ADDR_ANY until set: by the creator, by a name-service CREATE from the peer with the same
 *              name, or by the first message received (its src), as OpenAMP does. A name-service DESTROY unbinds;
 *              a reset of the device forgets a learnt address (one the creator gave is kept).
 *
 * Receiving: with `onMessage` set, each message is handed to it as a zero-copy RpmsgMessage; otherwise a copy is
 * queued (at most `queueLimit`, further messages are dropped and counted) for receive() and the async iterator.
 */
import type { RpmsgCore } from './core.js';
import type { ReceivedMessage, RpmsgMessage, TxBuffer } from './buffers.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import { RPMSG_ADDR_ANY } from './constants.js';

export type MessageCallback = (msg: RpmsgMessage, ep: Endpoint) => void;

export interface EndpointOptions {
  /** Service name (announced to the peer when the name service is negotiated and `announce` is true). */
  readonly name?: string;
  /** Local address; default: a dynamic address >= 1024. */
  readonly addr?: number;
  /** Peer address; default RPMSG_ADDR_ANY (learnt later). */
  readonly dst?: number;
  /** Send a name-service CREATE now and a DESTROY at destroy(). Default: true when named and dst is ANY. */
  readonly announce?: boolean;
  readonly onMessage?: MessageCallback;
  /** Called when the peer destroys the service this endpoint was bound to. */
  readonly onUnbind?: (ep: Endpoint) => void;
  /** Most copied messages queued for receive()/iterator when there is no callback. Default 256. */
  readonly queueLimit?: number;
}

export interface SendOptions {
  /** How long to wait for a TX buffer (backpressure). Default: the role's defaultTimeoutMs. */
  readonly timeoutMs?: number;
}

interface Waiter {
  resolve(m: ReceivedMessage | undefined): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class Endpoint {
  readonly addr: number;
  readonly name: string | undefined;
  dst: number;
  onMessage: MessageCallback | undefined;
  onUnbind: ((ep: Endpoint) => void) | undefined;
  /** Whether a name-service CREATE was sent for it (a DESTROY follows at destroy()). */
  announced = false;
  /** @internal announce when (again) possible. */
  wantAnnounce = false;
  /** @internal the peer address learnt in this session (first message, announcement); cleared at a reset. */
  learntDst = RPMSG_ADDR_ANY;
  /** Messages dropped because the queue was full. */
  dropped = 0;
  private readonly core: RpmsgCore;
  private readonly queue: ReceivedMessage[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly queueLimit: number;
  private closed = false;

  /** @internal use core.createEndpoint(). */
  constructor(core: RpmsgCore, addr: number, o: EndpointOptions) {
    this.core = core;
    this.addr = addr;
    this.name = o.name;
    this.dst = o.dst ?? RPMSG_ADDR_ANY;
    this.onMessage = o.onMessage;
    this.onUnbind = o.onUnbind;
    this.queueLimit = o.queueLimit ?? 256;
  }

  get destroyed(): boolean {
    return this.closed;
  }

  private target(dst: number): number {
    if (this.closed) throw new RpmsgError(RpmsgErrorCode.ENDPOINT_DESTROYED, `endpoint ${this.addr} is destroyed`);
    if (dst === RPMSG_ADDR_ANY) throw new RpmsgError(RpmsgErrorCode.NO_DESTINATION, `endpoint ${this.addr} is not bound to a peer address; use sendTo()`);
    return dst;
  }

  /** Sends a copy of `data` to dst now; false when no TX buffer is free (nothing sent). */
  trySend(data: Uint8Array): boolean {
    return this.core.trySendRaw(this.addr, this.target(this.dst), data);
  }
  trySendTo(dst: number, data: Uint8Array): boolean {
    return this.core.trySendRaw(this.addr, this.target(dst), data);
  }
  /** Sends a copy; waits (async, resolved by poll()) up to timeoutMs for a TX buffer, else rejects TX_TIMEOUT. */
  send(data: Uint8Array, o?: SendOptions): Promise<void> {
    return this.core.sendRaw(this.addr, this.target(this.dst), data, o?.timeoutMs);
  }
  sendTo(dst: number, data: Uint8Array, o?: SendOptions): Promise<void> {
    return this.core.sendRaw(this.addr, this.target(dst), data, o?.timeoutMs);
  }
  /** Sends a copy; blocks through the role's waitForNotification hook while no TX buffer is free. */
  sendBlocking(data: Uint8Array, timeoutMs?: number): void {
    this.core.sendRawBlocking(this.addr, this.target(this.dst), data, timeoutMs);
  }
  sendToBlocking(dst: number, data: Uint8Array, timeoutMs?: number): void {
    this.core.sendRawBlocking(this.addr, this.target(dst), data, timeoutMs);
  }
  /** Zero-copy: a TX buffer to fill in place (undefined when none is free). */
  getTxBuffer(): TxBuffer | undefined {
    this.target(0);
    return this.core.getTxBuffer();
  }
  /** Zero-copy: sends `len` payload bytes already written into buf.data, to dst (default: the bound peer). */
  sendNoCopy(buf: TxBuffer, len: number, dst: number = this.dst): void {
    this.core.sendNoCopy(buf, this.addr, this.target(dst), len);
  }

  /** Next queued message (copy), waiting up to timeoutMs (RX_TIMEOUT); resolves undefined once destroyed. */
  receive(timeoutMs?: number): Promise<ReceivedMessage | undefined> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new RpmsgError(RpmsgErrorCode.RX_TIMEOUT, `no message on endpoint ${this.addr} within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.waiters.push(w);
    });
  }

  /** Copied messages until the endpoint is destroyed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ReceivedMessage, void, undefined> {
    for (;;) {
      const m = await this.receive();
      if (m === undefined) return;
      yield m;
    }
  }

  /** Number of copied messages waiting. */
  get queued(): number {
    return this.queue.length;
  }

  /** Sends a name-service DESTROY if announced, frees the address, ends iterators. Idempotent. */
  destroy(): void {
    if (this.closed) return;
    this.core.destroyEndpoint(this);
  }

  /** @internal called by the core while delivering (the message is live for the duration of the call). */
  deliver(msg: RpmsgMessage): void {
    const cb = this.onMessage;
    if (cb !== undefined) {
      cb(msg, this);
      return;
    }
    const copy: ReceivedMessage = { src: msg.src, dst: msg.dst, data: msg.copy() };
    const w = this.waiters.shift();
    if (w !== undefined) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.resolve(copy);
      return;
    }
    if (this.queue.length >= this.queueLimit) {
      this.dropped++;
      return;
    }
    this.queue.push(copy);
  }

  /** @internal */
  markClosed(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.resolve(undefined);
    }
  }
}
