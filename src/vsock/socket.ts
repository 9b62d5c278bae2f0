/**
 * A vsock connection as a Node `stream.Duplex`, in the manner of `net.Socket`:
 *   write() returns false once 64 KiB (writableHighWaterMark) wait in the socket, for the peer's credit or for a free
 *           ring buffer; 'drain' when they went out (when the peer's CREDIT_UPDATE or a used buffer came back);
 *   end()   = SHUTDOWN with SEND (half-close; the peer's readable ends);
 *   destroy() = RST;
 *   'connect' when the peer answered our REQUEST; 'end' when the peer sent SHUTDOWN SEND; 'close' when both are done.
 *
 * The stream never touches a ring: _write queues the chunk on the socket and asks the endpoint to flush, which
 * happens in the role's poll()/interrupt() or in a later microtask, never inside the caller's write(). A chunk's
 * callback runs once all of it went out within the peer's credit, which is what makes write() report backpressure.
 *
 * SEQPACKET sockets (VIRTIO_VSOCK_F_SEQPACKET, type 2) are object-mode Duplexes: one write() is one message (a
 * Uint8Array, a string, or { data, eor: true } to end a record as well), one 'data' / read() is one whole message
 * (a Buffer). On the wire a message is one or more RW packets, the last one flagged SEQ_EOM (and SEQ_EOR when asked);
 * credit stays counted in bytes, and a message larger than the peer's buf_alloc can never fit its window, so writing
 * one fails with VSOCK_ERR_MSG_SIZE (Linux: EMSGSIZE), which, as any write error of a Node stream, destroys the
 * socket. Zero-length messages are neither sent nor delivered (Linux sends nothing for them either).
 */
import { Duplex } from 'node:stream';
import { Credit } from './credit.js';
import { VsockType, VSOCK_SEQ_EOM, VSOCK_SEQ_EOR } from './constants.js';
import { VsockError, VsockErrorCode } from './errors.js';
import { dropConsumed } from './drop-consumed.js';

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
  /** `flags`: the RW flags of the chunk's last packet (SEQPACKET: SEQ_EOM, maybe SEQ_EOR; STREAM: 0). */
  enqueue(s: VsockSocket, chunk: Uint8Array, cb: (err?: Error | null) => void, flags: number): void;
  shutdownSend(s: VsockSocket): void;
  consumed(s: VsockSocket): void;
  destroyed(s: VsockSocket, err: Error | null): void;
}

export interface TxChunk {
  chunk: Uint8Array;
  off: number;
  cb: ((err?: Error | null) => void) | undefined;
  /** RW flags of the packet that carries the chunk's last byte (SEQPACKET message end); 0 for streams. */
  flags: number;
}

/** What a SEQPACKET socket's write() takes besides a plain Uint8Array or string: a message that also ends a record. */
export interface VsockRecord {
  readonly data: Uint8Array | string;
  readonly eor?: boolean;
}

/** Zero-copy receive handler: a view of one packet's payload; `end` is true on the last packet of a SEQPACKET message. */
export type ZeroCopyHandler = (view: Uint8Array, end: boolean) => void;

export class VsockSocket extends Duplex {
  /** VsockType.STREAM (1) or VsockType.SEQPACKET (2), as on the wire. */
  readonly type: number;
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
  /** CLOSING: the endpoint's clock value after which the connection is reset if the peer's RST has not come. */
  closeDeadline = 0;
  /**
   * SEQPACKET receive side: the packets of the message being assembled (owned copies) and their bytes; the lengths
   * of the messages pushed to the readable side and not yet known to be taken (msgLens[msgHead..]).
   */
  readonly assembly: Uint8Array[] = [];
  assemblyBytes = 0;
  private readonly msgLens: number[] = [];
  private msgHead = 0;
  private pushedMsgs = 0;
  private takenMsgs = 0;
  private pushedBytes = 0;
  private takenBytes = 0;
  private readonly host: SocketHost;

  constructor(
    host: SocketHost,
    addr: { localCid: number; localPort: number; remoteCid: number; remotePort: number },
    state: SocketState,
    bufAlloc: number,
    allowHalfOpen: boolean,
    type: number = VsockType.STREAM,
  ) {
    // the readable buffer never needs to hold more than the window we advertise (SEQPACKET: messages, each ≥ 1 byte)
    super(
      type === VsockType.SEQPACKET
        ? { allowHalfOpen, objectMode: true, readableHighWaterMark: bufAlloc, writableHighWaterMark: 16 }
        : { allowHalfOpen, readableHighWaterMark: bufAlloc, writableHighWaterMark: 64 * 1024, decodeStrings: true },
    );
    this.type = type;
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
   * SEQPACKET: one call per packet; `end` marks the packet that ends a message.
   */
  onPayload: ZeroCopyHandler | undefined = undefined;

  setZeroCopyReceive(handler: ZeroCopyHandler | undefined): this {
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

  /** The peer's receive window (buf_alloc): the largest SEQPACKET message it can take (0 before it told us). */
  get maxMessageSize(): number {
    return this.credit.peerBufAlloc;
  }

  /** Whether the stream is SEQPACKET (message boundaries kept). */
  get seqpacket(): boolean {
    return this.type === VsockType.SEQPACKET;
  }

  override _write(chunk: unknown, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.type !== VsockType.SEQPACKET) {
      this.host.enqueue(this, chunk as Buffer, cb, 0);
      return;
    }
    let data: unknown = chunk;
    let flags = VSOCK_SEQ_EOM;
    if (data !== null && typeof data === 'object' && !(data instanceof Uint8Array) && 'data' in data) {
      if ((data as VsockRecord).eor === true) flags |= VSOCK_SEQ_EOR;
      data = (data as VsockRecord).data;
    }
    if (typeof data === 'string') data = Buffer.from(data);
    if (!(data instanceof Uint8Array)) {
      cb(new VsockError(VsockErrorCode.BAD_ARGUMENT, 'a SEQPACKET message is a Uint8Array, a string or { data, eor }'));
      return;
    }
    this.host.enqueue(this, data, cb, flags);
  }

  /** SEQPACKET: hands one whole message to the readable side (the endpoint's call). */
  pushMessage(msg: Uint8Array): void {
    this.msgLens.push(msg.length);
    this.pushedMsgs++;
    this.pushedBytes += msg.length;
    this.push(msg);
  }

  /**
   * Received bytes the application has not taken yet: what the credit window still holds for it. A stream counts the
   * readable buffer's bytes. An object-mode readable counts messages and hands them out in order, so the messages
   * taken are those pushed minus those still buffered, and their bytes are the first lengths of msgLens.
   */
  bufferedBytes(): number {
    if (this.type !== VsockType.SEQPACKET) return this.readableLength;
    const taken = this.pushedMsgs - this.readableLength;
    while (this.takenMsgs < taken && this.msgHead < this.msgLens.length) {
      this.takenBytes += this.msgLens[this.msgHead++]!;
      this.takenMsgs++;
    }
    this.msgHead = dropConsumed(this.msgLens, this.msgHead);
    return this.assemblyBytes + (this.pushedBytes - this.takenBytes);
  }

  /** SEQPACKET: forgets a message that will never be completed (its bytes leave the window). */
  dropAssembly(): void {
    this.assembly.length = 0;
    this.assemblyBytes = 0;
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
