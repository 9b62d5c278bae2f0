/**
 * A vsock stream connection as a Node `stream.Duplex`, in the manner of `net.Socket`:
 *   write() returns false once 64 KiB (writableHighWaterMark) wait in the socket, for the peer's credit or for a free
 *           ring buffer; 'drain' when they went out (when the peer's CREDIT_UPDATE or a used buffer came back);
 *   end()   = SHUTDOWN with SEND (half-close; the peer's readable ends);
 *   destroy() = RST;
 *   'connect' when the peer answered our REQUEST; 'end' when the peer sent SHUTDOWN SEND; 'close' when both are done.
 *
 * The stream never touches a ring: _write queues the chunk on the socket and asks the endpoint to flush, which
 * happens in the role's poll()/interrupt() or in a later microtask, never inside the caller's write(). A chunk's
 * callback runs once all of it went out within the peer's credit, which is what makes write() report backpressure.
 */
import { Duplex } from 'node:stream';
import { Credit } from './credit.js';

/** Connection life cycle (as Linux's TCP_SYN_SENT / ESTABLISHED / CLOSING / CLOSE for vsock). */
export const SocketState = {
  CONNECTING: 0,
  CONNECTED: 1,
  /** We sent SHUTDOWN with both flags and wait for the peer's RST. */
  CLOSING: 2,
  CLOSED: 3,
} as const;
export type SocketState = (typeof SocketState)[keyof typeof SocketState];

/** Control packets waiting to go out (bit set). */
export const Pending = {
  REQUEST: 1,
  RESPONSE: 2,
  SHUTDOWN: 4,
  CREDIT_UPDATE: 8,
  RST: 16,
  CREDIT_REQUEST: 32,
} as const;

/** What the socket asks of the endpoint that owns it (implemented by VsockEndpoint). */
export interface SocketHost {
  enqueue(s: VsockSocket, chunk: Uint8Array, cb: (err?: Error | null) => void): void;
  shutdownSend(s: VsockSocket): void;
  consumed(s: VsockSocket): void;
  destroyed(s: VsockSocket, err: Error | null): void;
}

export interface TxChunk {
  chunk: Uint8Array;
  off: number;
  cb: ((err?: Error | null) => void) | undefined;
}

export class VsockSocket extends Duplex {
  readonly localCid: number;
  readonly localPort: number;
  readonly remoteCid: number;
  readonly remotePort: number;
  /** Endpoint-owned state (the socket's fields are the connection's record; nothing outside src/vsock touches them). */
  state: SocketState;
  readonly credit: Credit;
  pending = 0;
  /** SHUTDOWN flags queued or sent by us, and received from the peer. */
  shutdownSent = 0;
  shutdownQueued = 0;
  peerShutdown = 0;
  /** Queued outgoing data: txq[txHead..] are waiting, each with the stream's callback for it. */
  readonly txq: TxChunk[] = [];
  txHead = 0;
  /** In the endpoint's ready list. */
  scheduled = false;
  /** In the endpoint's connection table. */
  inTable = false;
  private readonly host: SocketHost;

  constructor(
    host: SocketHost,
    addr: { localCid: number; localPort: number; remoteCid: number; remotePort: number },
    state: SocketState,
    bufAlloc: number,
    allowHalfOpen: boolean,
  ) {
    // the readable buffer never needs to hold more than the window we advertise
    super({ allowHalfOpen, readableHighWaterMark: bufAlloc, writableHighWaterMark: 64 * 1024, decodeStrings: true });
    this.host = host;
    this.localCid = addr.localCid;
    this.localPort = addr.localPort;
    this.remoteCid = addr.remoteCid;
    this.remotePort = addr.remotePort;
    this.state = state;
    this.credit = new Credit(bufAlloc);
  }

  /**
   * Zero-copy receive (opt-in, like RPMsg's zero-copy endpoints): when set, each received payload is handed to
   * `handler` as a view of the ring buffer, valid only during the call, instead of being copied into the readable
   * side; the credit is returned as soon as the handler returns. The view is shared memory the peer can still write:
   * copy what you keep, and validate the copy, not the view. 'end' and 'close' still arrive through the stream.
   */
  onPayload: ((view: Uint8Array) => void) | undefined = undefined;

  setZeroCopyReceive(handler: ((view: Uint8Array) => void) | undefined): this {
    this.onPayload = handler;
    return this;
  }

  /** Like net.Socket#address(): our side. */
  address(): { cid: number; port: number } {
    return { cid: this.localCid, port: this.localPort };
  }

  /** True once the REQUEST was answered (net.Socket's `pending` inverted). */
  get connected(): boolean {
    return this.state === SocketState.CONNECTED;
  }

  /** Bytes queued by write() and not yet sent (the peer's window or the ring is full). */
  get queuedBytes(): number {
    let n = 0;
    for (let i = this.txHead; i < this.txq.length; i++) n += this.txq[i]!.chunk.length - this.txq[i]!.off;
    return n;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.host.enqueue(this, chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.host.shutdownSend(this);
    cb();
  }

  /**
   * Readable.read, plus the credit check once the chunk left the buffer: a reader that pulls with read() (paused mode,
   * or a poll loop that never yields to the event loop) opens the peer's window at once, not a tick later.
   */
  override read(size?: number): any {
    const r: unknown = super.read(size);
    if (r !== null) this.host.consumed(this);
    return r;
  }

  override _read(): void {
    // Readable.read() calls _read before it takes the chunk out of the buffer: look at the window after it did
    process.nextTick(() => this.host.consumed(this));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.host.destroyed(this, err);
    cb(err);
  }
}
