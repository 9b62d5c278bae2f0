/**
 * The socket layer of one vsock endpoint (the device's or the driver's), independent of rings: the connection table,
 * listeners, ephemeral ports, the stream state machine (§5.10.6.4–§5.10.6.6) and credit (§5.10.6.3). A role feeds it
 * every received packet (receive()) and lets it emit packets into whatever buffers the role has (flush()).
 *
 * Trust: every field of a received header is checked before it is used; a packet that breaks a rule is counted under
 * its error code, answered with RST when it concerns a connection (never an RST for an RST), and the socket it
 * concerned is destroyed with a VsockError. Memory is bounded: the table holds at most maxConnections records, each
 * with a control bit set instead of a packet queue, RST replies for unknown connections are a bounded queue, and the
 * receive window bounds what a peer can make us buffer.
 *
 * SEQPACKET (type 2, when the role negotiated VIRTIO_VSOCK_F_SEQPACKET): the same state machine and byte credit; a
 * message's packets are assembled until the one flagged SEQ_EOM and pushed whole (socket.ts).
 *
 * Closing (§5.10.6.6): a socket closed in order (SHUTDOWN both ways) waits in CLOSING for the peer's RST; if none
 * comes within closeTimeoutMs (Linux: VSOCK_CLOSE_TIMEOUT, 8 s) it is reset. The endpoint has no timer: the deadline
 * is checked against its clock by flush(), which every poll()/interrupt() of the role runs, and closingDeadline()
 * tells a runtime that sleeps when to poll next.
 *
 * Re-entrancy: receive() emits stream events synchronously; handlers may write, end, destroy or connect. Those calls
 * only change socket state and ask for a flush, which runs after the current receive/flush (the role's poll() calls
 * flush() last), or in a microtask when nothing is running.
 */
import { copyBytes } from '../virtio/copy.js';
import { VsockError, VsockErrorCode } from './errors.js';
import {
  VMADDR_PORT_ANY,
  VSOCK_LAST_RESERVED_PORT,
  VSOCK_MAX_PKT_PAYLOAD,
  VSOCK_SHUTDOWN_BOTH,
  VSOCK_SHUTDOWN_RCV,
  VSOCK_SHUTDOWN_SEND,
  VSOCK_DEFAULT_BUF_ALLOC,
  VSOCK_SEQ_EOM,
  VsockOp,
  VsockType,
} from './constants.js';
import { emptyHeader, type VsockHeader } from './header.js';
import { Pending, SocketState, VsockSocket, type SocketHost } from './socket.js';
import { dropConsumed } from './drop-consumed.js';
import { VsockServer, type ServerHost, type VsockSocketOptions } from './server.js';

/** Where packets go: the role's buffers (device: the driver's rx chains; driver: its tx slots). */
export interface PacketOut {
  /** Payload bytes the next packet can carry, reserving its buffer; -1 when no buffer is free now. */
  room(): number;
  /** Sends `h` (h.len already set) with payload src[off, off + h.len) into the reserved buffer. */
  send(h: VsockHeader, src: Uint8Array | undefined, off: number): void;
}

export interface VsockEndpointOptions {
  /** Most connection records at once (connecting, open and closing); REQUESTs beyond get RST. Default 1024. */
  readonly maxConnections?: number;
  /** Receive window per connection (buf_alloc). Default 256 KiB, as Linux. */
  readonly bufAlloc?: number;
  /** Keep the writable side open after the peer's SHUTDOWN SEND (net's allowHalfOpen). Default false. */
  readonly allowHalfOpen?: boolean;
  /** First ephemeral port tried (then counting up). Default 1024. */
  readonly firstEphemeralPort?: number;
  /** RST replies to unknown connections that may wait for a buffer; more are dropped (and counted). Default 64. */
  readonly maxPendingRst?: number;
  /** Largest payload per packet we send. Default 64 KiB (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
  readonly maxPacketPayload?: number;
  /** How long a connection closed in order waits for the peer's RST before it is reset (ms). Default 8000, as Linux. */
  readonly closeTimeoutMs?: number;
  /** The endpoint's clock in ms (close deadlines). Default performance.now. */
  readonly now?: () => number;
  /**
   * Called when output is waiting and no receive/flush is running (a write from application code): the role (or the
   * runtime above it) schedules its own flush, which calls flush() and then publishes. Default: nothing is scheduled
   * and the output waits for the next poll.
   */
  readonly onWork?: () => void;
}

export interface VsockStats {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  rstIn: number;
  rstOut: number;
  creditUpdatesOut: number;
  /** SEQPACKET messages delivered whole / sent (their last packet went out). */
  messagesIn: number;
  messagesOut: number;
  /** Orderly closes reset because the peer's RST did not come in time. */
  closeTimeouts: number;
  accepted: number;
  connected: number;
  closed: number;
  /** Packets dropped (or answered with RST) by the rule they broke, keyed by VsockErrorCode. */
  readonly dropped: Record<string, number>;
  /** The last rule a peer broke (for diagnostics). */
  lastError: VsockError | undefined;
}

interface OrphanRst {
  type: number;
  localPort: number;
  peerPort: number;
}

export class VsockEndpoint implements SocketHost, ServerHost {
  readonly stats: VsockStats = {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    rstIn: 0,
    rstOut: 0,
    creditUpdatesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    closeTimeouts: 0,
    accepted: 0,
    connected: 0,
    closed: 0,
    dropped: {},
    lastError: undefined,
  };
  private readonly maxConnections: number;
  private readonly bufAlloc: number;
  private readonly allowHalfOpen: boolean;
  private readonly maxPendingRst: number;
  private readonly maxPayload: number;
  private readonly onWork: (() => void) | undefined;
  private readonly closeTimeoutMs: number;
  private readonly now: () => number;
  /** Sockets in CLOSING, oldest first (entries that left CLOSING are dropped when met). */
  private closing: VsockSocket[] = [];
  private seqpacketOn = false;
  /** localPort → peerPort → socket. The peer CID is the endpoint's single peer. */
  private readonly table = new Map<number, Map<number, VsockSocket>>();
  private tableSize = 0;
  private readonly listeners = new Map<number, VsockServer>();
  private readonly portUse = new Map<number, number>();
  private nextPort: number;
  private readonly firstPort: number;
  private ready: VsockSocket[] = [];
  private spare: VsockSocket[] = [];
  private readonly orphans: OrphanRst[] = [];
  private busy = false;
  private again = false;
  private workRequested = false;
  private out: PacketOut | undefined;
  private readonly h: VsockHeader = emptyHeader();

  constructor(
    /** Our CID (device: 2; driver: the guest_cid it read from config space). */
    private readonly localCid: () => number,
    /** The only CID we talk to. */
    private readonly peerCid: () => number,
    opts: VsockEndpointOptions = {},
  ) {
    this.maxConnections = opts.maxConnections ?? 1024;
    this.bufAlloc = opts.bufAlloc ?? VSOCK_DEFAULT_BUF_ALLOC;
    this.allowHalfOpen = opts.allowHalfOpen ?? false;
    this.maxPendingRst = opts.maxPendingRst ?? 64;
    this.maxPayload = Math.min(opts.maxPacketPayload ?? VSOCK_MAX_PKT_PAYLOAD, VSOCK_MAX_PKT_PAYLOAD);
    this.firstPort = opts.firstEphemeralPort ?? VSOCK_LAST_RESERVED_PORT + 1;
    this.nextPort = this.firstPort;
    this.onWork = opts.onWork;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 8000;
    this.now = opts.now ?? (() => performance.now());
    if (!(this.closeTimeoutMs >= 0)) throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `closeTimeoutMs ${this.closeTimeoutMs} must be ≥ 0`);
    for (const [k, v] of [
      ['maxConnections', this.maxConnections],
      ['bufAlloc', this.bufAlloc],
      ['maxPacketPayload', this.maxPayload],
    ] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `${k} ${v} must be an integer ≥ 1`);
    }
    if (!Number.isInteger(this.firstPort) || this.firstPort < 1 || this.firstPort >= VMADDR_PORT_ANY) {
      throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `firstEphemeralPort ${this.firstPort} out of range`);
    }
  }

  /** The role sets where packets go once its queues are live (undefined: nothing can be sent). */
  setOutput(out: PacketOut | undefined): void {
    this.out = out;
  }

  /** The role tells whether VIRTIO_VSOCK_F_SEQPACKET was negotiated (type 2 packets and sockets allowed). */
  setSeqpacket(on: boolean): void {
    this.seqpacketOn = on;
  }

  get seqpacket(): boolean {
    return this.seqpacketOn;
  }

  /** The earliest close deadline on the endpoint's clock (a sleeping runtime polls by then), or undefined. */
  closingDeadline(): number | undefined {
    let d: number | undefined;
    for (const s of this.closing) if (s.state === SocketState.CLOSING && (d === undefined || s.closeDeadline < d)) d = s.closeDeadline;
    return d;
  }

  /** Number of connection records (connecting, open, closing). */
  get connections(): number {
    return this.tableSize;
  }

  // ---------------------------------------------------------------------------------------------------- application API

  createServer(onConnection?: (s: VsockSocket) => void, opts: VsockSocketOptions = {}): VsockServer {
    if (opts.seqpacket === true) this.needSeqpacket();
    return new VsockServer(this, onConnection, opts);
  }

  /** Opens a connection to `port` of the peer (returned at once; 'connect' follows the peer's RESPONSE). */
  connect(port: number, cid?: number, opts: VsockSocketOptions = {}): VsockSocket {
    const type = opts.seqpacket === true ? VsockType.SEQPACKET : VsockType.STREAM;
    if (type === VsockType.SEQPACKET) this.needSeqpacket();
    if (!Number.isInteger(port) || port < 0 || port >= VMADDR_PORT_ANY) throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `port ${port} is not a u32 below VMADDR_PORT_ANY`);
    const peer = this.peerCid();
    if (cid !== undefined && cid !== peer) throw new VsockError(VsockErrorCode.NO_ROUTE, `CID ${cid} is not reachable from CID ${this.localCid()} (only CID ${peer} is)`);
    if (this.tableSize >= this.maxConnections) throw new VsockError(VsockErrorCode.TOO_MANY_CONNECTIONS, `${this.tableSize} connections open (limit ${this.maxConnections})`);
    const localPort = this.allocPort();
    const s = new VsockSocket(this, { localCid: this.localCid(), localPort, remoteCid: peer, remotePort: port }, SocketState.CONNECTING, this.bufAlloc, this.allowHalfOpen, type);
    this.insert(s);
    this.mark(s, Pending.REQUEST);
    return s;
  }

  private needSeqpacket(): void {
    if (!this.seqpacketOn) throw new VsockError(VsockErrorCode.NOT_NEGOTIATED, 'SEQPACKET sockets need VIRTIO_VSOCK_F_SEQPACKET, which this device and driver did not negotiate');
  }

  bind(server: VsockServer, port: number): number {
    if (port === VMADDR_PORT_ANY) port = this.allocPort();
    else if (!Number.isInteger(port) || port < 0 || port > VMADDR_PORT_ANY) throw new VsockError(VsockErrorCode.BAD_ARGUMENT, `port ${port} is not a u32`);
    else if (this.listeners.has(port)) throw new VsockError(VsockErrorCode.ADDR_IN_USE, `port ${port} already has a listener`, { port });
    this.listeners.set(port, server);
    this.usePort(port, 1);
    return port;
  }

  unbind(server: VsockServer, port: number): void {
    if (this.listeners.get(port) === server) {
      this.listeners.delete(port);
      this.usePort(port, -1);
    }
  }

  // ---------------------------------------------------------------------------------------------------- socket host

  enqueue(s: VsockSocket, chunk: Uint8Array, cb: (err?: Error | null) => void, flags: number): void {
    if (s.state === SocketState.CLOSED || (s.peerShutdown & VSOCK_SHUTDOWN_RCV) !== 0) {
      cb(new VsockError(VsockErrorCode.PEER_SHUTDOWN, `port ${s.remotePort} of CID ${s.remoteCid} receives no more data`));
      return;
    }
    if (chunk.length === 0) {
      cb();
      return;
    }
    s.txq.push({ chunk, off: 0, cb, flags });
    this.schedule(s);
  }

  shutdownSend(s: VsockSocket): void {
    if (s.state === SocketState.CLOSED) return;
    this.queueShutdown(s, VSOCK_SHUTDOWN_SEND);
  }

  consumed(s: VsockSocket): void {
    if (s.state === SocketState.CLOSED) return;
    s.credit.setBuffered(s.bufferedBytes());
    if (s.credit.needsUpdate()) this.mark(s, Pending.CREDIT_UPDATE);
  }

  destroyed(s: VsockSocket, err: Error | null): void {
    if (s.state === SocketState.CLOSED) return;
    this.dropTx(s, err ?? new VsockError(VsockErrorCode.CONNECTION_RESET, 'socket destroyed'));
    const bothShut = (s.shutdownQueued & VSOCK_SHUTDOWN_SEND) !== 0 && (s.peerShutdown & VSOCK_SHUTDOWN_SEND) !== 0;
    if (err === null && bothShut && s.state === SocketState.CONNECTED) {
      // orderly close (§5.10.6.6): SHUTDOWN with both flags, the record stays until the peer's RST
      s.state = SocketState.CLOSING;
      s.closeDeadline = this.now() + this.closeTimeoutMs;
      this.closing.push(s);
      this.queueShutdown(s, VSOCK_SHUTDOWN_BOTH);
      return;
    }
    if (s.state !== SocketState.CLOSING) this.closeWithRst(s);
  }

  // ---------------------------------------------------------------------------------------------------- receive

  /**
   * One received packet. `payload` holds h.len bytes (the role checked that the buffer has them); `owned` says the
   * array may be kept (else it is a view of a ring buffer and is copied).
   */
  receive(h: VsockHeader, payload: Uint8Array | undefined, owned: boolean): void {
    const st = this.stats;
    st.packetsIn++;
    const wasBusy = this.busy;
    this.busy = true;
    try {
      if (h.srcCid !== this.peerCid() || h.dstCid !== this.localCid()) {
        // not for this endpoint: drop without an answer (a forged source must not make us reply to anyone)
        this.violation(VsockErrorCode.BAD_CID, `packet from CID ${h.srcCid} to CID ${h.dstCid}; this endpoint is CID ${this.localCid()} and talks to CID ${this.peerCid()}`);
        return;
      }
      if (h.type !== VsockType.STREAM && !(h.type === VsockType.SEQPACKET && this.seqpacketOn)) {
        this.violation(VsockErrorCode.BAD_TYPE, `socket type ${h.type} is not supported (STREAM is ${VsockType.STREAM}${this.seqpacketOn ? `, SEQPACKET ${VsockType.SEQPACKET}` : '; SEQPACKET is not negotiated'})`);
        if (h.op !== VsockOp.RST) this.orphanRst(h);
        return;
      }
      if (h.op < VsockOp.REQUEST || h.op > VsockOp.CREDIT_REQUEST) {
        this.violation(VsockErrorCode.BAD_OP, `op ${h.op} is not a vsock op`);
        this.orphanRst(h);
        return;
      }
      if (h.op === VsockOp.RST) st.rstIn++;
      const s = this.table.get(h.dstPort)?.get(h.srcPort);
      if (h.len !== 0 && h.op !== VsockOp.RW) {
        this.violation(VsockErrorCode.BAD_LEN, `op ${h.op} carries ${h.len} payload bytes; only RW has a payload`);
        if (s) this.resetConnection(s, VsockErrorCode.BAD_LEN, 'control packet with a payload');
        else if (h.op !== VsockOp.RST) this.orphanRst(h);
        return;
      }
      if (s === undefined) {
        this.noSocket(h);
        return;
      }
      if (h.type !== s.type) {
        // a packet of the other type for this address pair: RST without touching the socket (Linux: reset_no_sock)
        this.violation(VsockErrorCode.BAD_TYPE, `${opName(h.op)} of type ${h.type} for a connection of type ${s.type}`);
        if (h.op !== VsockOp.RST) this.orphanRst(h);
        return;
      }
      // an RST ends the connection whatever its credit fields say (an RST for a socket already gone carries zeroes)
      if (h.op !== VsockOp.RST && !s.credit.updatePeer(h.bufAlloc, h.fwdCnt)) {
        this.violation(VsockErrorCode.BAD_CREDIT, `fwd_cnt ${h.fwdCnt} acknowledges bytes never sent (sent ${s.credit.txCnt}, acknowledged ${s.credit.peerFwdCnt})`);
        this.resetConnection(s, VsockErrorCode.BAD_CREDIT, 'peer acknowledged bytes never sent');
        return;
      }
      if (s.state === SocketState.CONNECTING) this.receiveConnecting(s, h);
      else this.receiveConnected(s, h, payload, owned);
    } finally {
      this.busy = wasBusy;
    }
  }

  /**
   * A packet the role could not accept (its length does not fit its buffer, …): counted under `code`, and answered
   * with RST (resetting the connection it names, if any), except an RST.
   */
  reject(h: VsockHeader, code: VsockErrorCode, message: string): void {
    this.stats.packetsIn++;
    this.violation(code, message);
    const s = h.srcCid === this.peerCid() && h.dstCid === this.localCid() ? this.table.get(h.dstPort)?.get(h.srcPort) : undefined;
    if (s) this.resetConnection(s, code, message);
    else if (h.op !== VsockOp.RST && h.srcCid === this.peerCid()) this.orphanRst(h);
  }

  /** A rule broken below the packet level (a buffer too small for a header, …): counted under `code`. */
  count(code: VsockErrorCode, message: string): void {
    this.violation(code, message);
  }

  private noSocket(h: VsockHeader): void {
    if (h.op === VsockOp.RST) {
      // an RST for nothing (e.g. both sides closed at once) is not an error, and is never answered
      return;
    }
    if (h.op === VsockOp.REQUEST) {
      const server = this.listeners.get(h.dstPort);
      if (server === undefined) {
        this.violation(VsockErrorCode.NO_SOCKET, `REQUEST for port ${h.dstPort}, where nothing listens`);
        this.orphanRst(h);
        return;
      }
      if (server.type !== h.type) {
        this.violation(VsockErrorCode.BAD_TYPE, `REQUEST of type ${h.type} for port ${h.dstPort}, which listens for type ${server.type}`);
        this.orphanRst(h);
        return;
      }
      if (this.tableSize >= this.maxConnections) {
        this.violation(VsockErrorCode.TOO_MANY_CONNECTIONS, `REQUEST for port ${h.dstPort} refused: ${this.tableSize} connections (limit ${this.maxConnections})`);
        this.orphanRst(h);
        return;
      }
      const s = new VsockSocket(this, { localCid: this.localCid(), localPort: h.dstPort, remoteCid: h.srcCid, remotePort: h.srcPort }, SocketState.CONNECTED, this.bufAlloc, this.allowHalfOpen, server.type);
      s.credit.updatePeer(h.bufAlloc, h.fwdCnt);
      this.insert(s);
      this.mark(s, Pending.RESPONSE);
      this.stats.accepted++;
      server.emit('connection', s);
      return;
    }
    this.violation(VsockErrorCode.NO_SOCKET, `${opName(h.op)} for ${h.srcPort} → ${h.dstPort}, which is no connection`);
    this.orphanRst(h);
  }

  private receiveConnecting(s: VsockSocket, h: VsockHeader): void {
    switch (h.op) {
      case VsockOp.RESPONSE:
        s.state = SocketState.CONNECTED;
        this.stats.connected++;
        this.schedule(s);
        s.emit('connect');
        return;
      case VsockOp.RST:
        this.remove(s);
        s.state = SocketState.CLOSED;
        s.destroy(new VsockError(VsockErrorCode.CONNECTION_REFUSED, `port ${s.remotePort} of CID ${s.remoteCid} refused the connection`));
        return;
      default:
        this.violation(VsockErrorCode.UNEXPECTED_OP, `${opName(h.op)} while connecting`);
        this.resetConnection(s, VsockErrorCode.UNEXPECTED_OP, `${opName(h.op)} while connecting`);
    }
  }

  private receiveConnected(s: VsockSocket, h: VsockHeader, payload: Uint8Array | undefined, owned: boolean): void {
    switch (h.op) {
      case VsockOp.RW: {
        if ((s.peerShutdown & VSOCK_SHUTDOWN_SEND) !== 0) {
          this.violation(VsockErrorCode.UNEXPECTED_OP, 'RW after the peer shut down sending');
          this.resetConnection(s, VsockErrorCode.UNEXPECTED_OP, 'data after SHUTDOWN SEND');
          return;
        }
        if (!s.credit.fits(h.len)) {
          this.violation(VsockErrorCode.CREDIT_OVERFLOW, `${h.len} bytes exceed the credit we gave (buf_alloc ${s.credit.lastBufAlloc}, ${(s.credit.rxCnt - s.credit.lastFwdCnt) >>> 0} in flight)`);
          this.resetConnection(s, VsockErrorCode.CREDIT_OVERFLOW, 'peer sent beyond its credit');
          return;
        }
        // SEQPACKET: SEQ_EOM ends the message (an empty RW may carry it); SEQ_EOR only adds a record end to it.
        // STREAM: flags carry nothing.
        const seq = s.type === VsockType.SEQPACKET;
        const end = seq && (h.flags & VSOCK_SEQ_EOM) !== 0;
        if (h.len === 0 && !end) return;
        s.credit.onReceived(h.len);
        this.stats.bytesIn += h.len;
        if (s.state === SocketState.CLOSING || (s.shutdownSent & VSOCK_SHUTDOWN_RCV) !== 0 || s.destroyed) {
          // we said we receive no more: count it as consumed so the window stays open for nobody
          s.dropAssembly();
          s.credit.setBuffered(0);
          return;
        }
        if (s.onPayload !== undefined) {
          try {
            s.onPayload(payload === undefined ? EMPTY : payload.length === h.len ? payload : payload.subarray(0, h.len), end);
          } catch (e) {
            // the application's handler failed: its connection goes, the device goes on
            s.destroy(e instanceof Error ? e : new Error(String(e)));
            return;
          }
          if (end) this.stats.messagesIn++;
          this.consumed(s);
          return;
        }
        if (!seq) {
          s.push(owned ? payload! : copyOut(payload!, h.len));
          this.consumed(s);
          return;
        }
        // the message's packets are copied once each as they come (the window bounds what they hold); a message of
        // one packet is pushed as it is, a longer one joined once
        if (h.len > 0) {
          s.assembly.push(owned ? payload! : copyOut(payload!, h.len));
          s.assemblyBytes += h.len;
        }
        if (end && s.assemblyBytes > 0) {
          const msg = s.assembly.length === 1 ? s.assembly[0]! : Buffer.concat(s.assembly, s.assemblyBytes);
          s.dropAssembly();
          this.stats.messagesIn++;
          s.pushMessage(msg);
        }
        this.consumed(s);
        return;
      }
      case VsockOp.CREDIT_UPDATE:
        this.schedule(s);
        return;
      case VsockOp.CREDIT_REQUEST:
        this.mark(s, Pending.CREDIT_UPDATE);
        return;
      case VsockOp.SHUTDOWN: {
        const f = h.flags & VSOCK_SHUTDOWN_BOTH;
        const fresh = f & ~s.peerShutdown;
        s.peerShutdown |= f;
        if ((fresh & VSOCK_SHUTDOWN_RCV) !== 0) this.dropTx(s, new VsockError(VsockErrorCode.PEER_SHUTDOWN, `port ${s.remotePort} of CID ${s.remoteCid} receives no more data`));
        if ((fresh & VSOCK_SHUTDOWN_SEND) !== 0) {
          // a message the peer never ended is not a message
          s.dropAssembly();
          s.push(null);
        }
        if (s.peerShutdown === VSOCK_SHUTDOWN_BOTH) {
          // the peer is done both ways: answer with RST and forget the record (Linux: virtio_transport_recv_connected)
          this.closeWithRst(s);
        } else this.schedule(s);
        return;
      }
      case VsockOp.RST: {
        const orderly = s.state === SocketState.CLOSING || ((s.shutdownQueued & VSOCK_SHUTDOWN_SEND) !== 0 && (s.peerShutdown & VSOCK_SHUTDOWN_SEND) !== 0);
        this.remove(s);
        s.state = SocketState.CLOSED;
        s.pending = 0;
        s.dropAssembly();
        if (orderly) {
          if (!s.readableEnded) s.push(null);
        } else s.destroy(new VsockError(VsockErrorCode.CONNECTION_RESET, `port ${s.remotePort} of CID ${s.remoteCid} reset the connection`));
        return;
      }
      default:
        this.violation(VsockErrorCode.UNEXPECTED_OP, `${opName(h.op)} on an open connection`);
        this.resetConnection(s, VsockErrorCode.UNEXPECTED_OP, `${opName(h.op)} on an open connection`);
    }
  }

  // ---------------------------------------------------------------------------------------------------- send

  /** Emits packets while the role has buffers for them; returns the packets sent. */
  flush(): number {
    if (this.busy) {
      this.again = true;
      return 0;
    }
    this.workRequested = false;
    if (this.closing.length > 0) this.expireClosing();
    const out = this.out;
    if (out === undefined) return 0;
    this.busy = true;
    let sent = 0;
    try {
      do {
        this.again = false;
        // Connections first, RST replies to unknown ones last: a peer that keeps sending to a connection we reset
        // refills the bounded orphan queue with every packet, and served first those replies would take every rx
        // buffer the driver posts, so the connection's own RST (the one the peer's socket waits for) would starve.
        let progress = true;
        while (progress && this.ready.length > 0) {
          progress = false;
          // two lists swapped per pass (nothing allocated): sockets scheduled during the pass go to the other one
          const list = this.ready;
          this.ready = this.spare;
          this.spare = list;
          for (let i = 0; i < list.length; i++) {
            const s = list[i]!;
            s.scheduled = false;
            const r = this.emitOne(s, out);
            if (r < 0) {
              // no buffer: keep this one and the rest for the next flush
              for (let j = i; j < list.length; j++) {
                list[j]!.scheduled = false;
                this.schedule(list[j]!, true);
              }
              list.length = 0;
              return sent;
            }
            if (r > 0) {
              sent += r;
              progress = true;
            }
            if (this.hasWork(s)) this.schedule(s, true);
          }
          list.length = 0;
        }
        sent += this.flushOrphans(out);
      } while (this.again);
    } finally {
      this.busy = false;
    }
    return sent;
  }

  private flushOrphans(out: PacketOut): number {
    let n = 0;
    while (this.orphans.length > 0) {
      const room = out.room();
      if (room < 0) break;
      const o = this.orphans.shift()!;
      this.header(VsockOp.RST, o.type, o.localPort, o.peerPort, 0, 0, 0);
      this.stats.rstOut++;
      this.put(out);
      n++;
    }
    return n;
  }

  /** Whether `s` has something it could send now. */
  private hasWork(s: VsockSocket): boolean {
    if (s.pending !== 0) return true;
    if (s.state === SocketState.CLOSED) return false;
    if (s.state === SocketState.CONNECTED && s.txHead < s.txq.length && (s.peerShutdown & VSOCK_SHUTDOWN_RCV) === 0 && s.credit.peerCredit() > 0) return true;
    return s.state !== SocketState.CONNECTING && s.credit.needsUpdate();
  }

  /** Sends at most one packet for `s`: 1 sent, 0 nothing to send, -1 no buffer. */
  private emitOne(s: VsockSocket, out: PacketOut): number {
    if (!this.hasWork(s)) return 0;
    const room = out.room();
    if (room < 0) return -1;
    const c = s.credit;
    const p = s.pending;
    if ((p & Pending.RST) !== 0) {
      s.pending = 0;
      this.stats.rstOut++;
      return this.control(s, out, VsockOp.RST, 0);
    }
    if ((p & Pending.REQUEST) !== 0) {
      s.pending &= ~Pending.REQUEST;
      return this.control(s, out, VsockOp.REQUEST, 0);
    }
    if ((p & Pending.RESPONSE) !== 0) {
      s.pending &= ~Pending.RESPONSE;
      this.stats.connected++;
      return this.control(s, out, VsockOp.RESPONSE, 0);
    }
    if (s.state === SocketState.CONNECTED && s.txHead < s.txq.length && (s.peerShutdown & VSOCK_SHUTDOWN_RCV) === 0) {
      const credit = c.peerCredit();
      const t = s.txq[s.txHead]!;
      if (t.off === 0 && s.type === VsockType.SEQPACKET && t.chunk.length > c.peerBufAlloc) {
        // the message can never fit the peer's window: fail it (Node then destroys the socket, which sends RST)
        this.failHead(s, new VsockError(VsockErrorCode.MSG_SIZE, `a ${t.chunk.length}-byte message exceeds the peer's buf_alloc ${c.peerBufAlloc}`, { length: t.chunk.length, bufAlloc: c.peerBufAlloc }));
        return 0;
      }
      if (credit > 0 && room > 0) {
        const len = Math.min(room, credit, this.maxPayload, t.chunk.length - t.off);
        const last = t.off + len === t.chunk.length;
        c.setBuffered(s.bufferedBytes());
        // SEQPACKET: the message's end flags go on the packet that carries its last byte only (a packet split over
        // several buffers keeps them on its last piece, as vhost does)
        this.header(VsockOp.RW, s.type, s.localPort, s.remotePort, last ? t.flags : 0, len, c.bufAlloc, c.fwdCnt);
        c.stamp();
        out.send(this.h, t.chunk, t.off);
        c.onSent(len);
        s.pending &= ~Pending.CREDIT_UPDATE;
        this.stats.packetsOut++;
        this.stats.bytesOut += len;
        t.off += len;
        if (last) {
          if (t.flags !== 0) this.stats.messagesOut++;
          this.takeTxHead(s)?.();
        }
        return 1;
      }
    }
    if ((p & Pending.SHUTDOWN) !== 0 && s.txHead === s.txq.length) {
      s.pending &= ~Pending.SHUTDOWN;
      const f = s.shutdownQueued;
      s.shutdownSent |= f;
      return this.control(s, out, VsockOp.SHUTDOWN, f);
    }
    if ((p & Pending.CREDIT_UPDATE) !== 0 || (s.state !== SocketState.CONNECTING && c.needsUpdate())) {
      s.pending &= ~Pending.CREDIT_UPDATE;
      this.stats.creditUpdatesOut++;
      return this.control(s, out, VsockOp.CREDIT_UPDATE, 0);
    }
    // a SHUTDOWN waiting behind data, or data waiting for credit: nothing this round
    return 0;
  }

  private control(s: VsockSocket, out: PacketOut, op: number, flags: number): number {
    const c = s.credit;
    if (!s.destroyed) c.setBuffered(s.bufferedBytes());
    this.header(op, s.type, s.localPort, s.remotePort, flags, 0, c.bufAlloc, c.fwdCnt);
    c.stamp();
    this.put(out);
    return 1;
  }

  private header(op: number, type: number, localPort: number, peerPort: number, flags: number, len = 0, bufAlloc = 0, fwdCnt = 0): void {
    const h = this.h;
    h.srcCid = this.localCid();
    h.dstCid = this.peerCid();
    h.srcPort = localPort;
    h.dstPort = peerPort;
    h.len = len;
    h.type = type;
    h.op = op;
    h.flags = flags;
    h.bufAlloc = bufAlloc;
    h.fwdCnt = fwdCnt;
  }

  private put(out: PacketOut): void {
    out.send(this.h, undefined, 0);
    this.stats.packetsOut++;
  }

  // ---------------------------------------------------------------------------------------------------- resets

  /**
   * Every connection is gone (transport reset, device reset): sockets are destroyed with `code` and no packet is
   * sent for them; listeners stay.
   */
  resetAll(code: VsockErrorCode, why: string): void {
    const all: VsockSocket[] = [];
    for (const m of this.table.values()) for (const s of m.values()) all.push(s);
    this.orphans.length = 0;
    this.ready.length = 0;
    this.closing.length = 0;
    for (const s of all) {
      this.remove(s);
      s.state = SocketState.CLOSED;
      s.pending = 0;
      s.scheduled = false;
      s.destroy(new VsockError(code, why));
    }
  }

  private resetConnection(s: VsockSocket, code: VsockErrorCode, why: string): void {
    s.destroy(new VsockError(code, `${why} (port ${s.localPort} ↔ CID ${s.remoteCid} port ${s.remotePort})`));
    // destroy() ran destroyed() synchronously, which queued the RST; when it had already been destroyed, do it here
    if (s.state !== SocketState.CLOSED) this.closeWithRst(s);
  }

  /** Resets every CLOSING connection whose deadline passed (its RST goes out with this flush). */
  private expireClosing(): void {
    const now = this.now();
    const list = this.closing;
    let keep = 0;
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      // a socket that left CLOSING (the RST came, a reset) is forgotten here
      if (s.state !== SocketState.CLOSING) continue;
      if (now >= s.closeDeadline) {
        this.stats.closeTimeouts++;
        this.stats.lastError = new VsockError(VsockErrorCode.CLOSE_TIMEOUT, `port ${s.remotePort} of CID ${s.remoteCid} sent no RST within ${this.closeTimeoutMs} ms of our SHUTDOWN; reset`);
        this.closeWithRst(s);
        continue;
      }
      list[keep++] = s;
    }
    list.length = keep;
  }

  private closeWithRst(s: VsockSocket): void {
    this.remove(s);
    s.dropAssembly();
    s.state = SocketState.CLOSED;
    s.pending = Pending.RST;
    if (!s.readableEnded && !s.destroyed) s.push(null);
    this.schedule(s);
  }

  private violation(code: VsockErrorCode, message: string): void {
    this.stats.dropped[code] = (this.stats.dropped[code] ?? 0) + 1;
    this.stats.lastError = new VsockError(code, message);
  }

  private orphanRst(h: VsockHeader): void {
    if (this.orphans.length >= this.maxPendingRst) {
      this.violation(VsockErrorCode.TOO_MANY_CONNECTIONS, 'RST reply queue full; reply dropped');
      return;
    }
    this.orphans.push({ type: h.type, localPort: h.dstPort, peerPort: h.srcPort });
    this.wake();
  }

  // ---------------------------------------------------------------------------------------------------- helpers

  private queueShutdown(s: VsockSocket, flags: number): void {
    s.shutdownQueued |= flags;
    this.mark(s, Pending.SHUTDOWN);
  }

  /** Takes the head chunk off the queue and fails its write. */
  private failHead(s: VsockSocket, err: Error): void {
    this.takeTxHead(s)?.(err);
  }

  /**
   * Takes the head chunk off the send queue (sent in full, or failed) and returns its write callback, to be called
   * by the caller once the queue is consistent (kept bounded by dropConsumed).
   */
  private takeTxHead(s: VsockSocket): ((err?: Error | null) => void) | undefined {
    const t = s.txq[s.txHead]!;
    const cb = t.cb;
    t.cb = undefined;
    s.txHead = dropConsumed(s.txq, s.txHead + 1);
    return cb;
  }

  private dropTx(s: VsockSocket, err: Error): void {
    const cbs: ((err?: Error | null) => void)[] = [];
    for (let i = s.txHead; i < s.txq.length; i++) {
      const cb = s.txq[i]!.cb;
      if (cb) cbs.push(cb);
    }
    s.txq.length = 0;
    s.txHead = 0;
    for (const cb of cbs) cb(err);
  }

  private mark(s: VsockSocket, bit: number): void {
    s.pending |= bit;
    this.schedule(s);
  }

  private schedule(s: VsockSocket, quiet = false): void {
    if (!s.scheduled) {
      s.scheduled = true;
      this.ready.push(s);
    }
    if (!quiet) this.wake();
  }

  /** Asks for a flush: at the end of the running receive/flush, or through onWork / a microtask. */
  private wake(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    if (this.workRequested) return;
    this.workRequested = true;
    this.onWork?.();
  }

  private insert(s: VsockSocket): void {
    let m = this.table.get(s.localPort);
    if (m === undefined) this.table.set(s.localPort, (m = new Map()));
    m.set(s.remotePort, s);
    s.inTable = true;
    this.tableSize++;
    this.usePort(s.localPort, 1);
  }

  private remove(s: VsockSocket): void {
    if (!s.inTable) return;
    const m = this.table.get(s.localPort);
    if (m?.get(s.remotePort) === s) {
      m.delete(s.remotePort);
      if (m.size === 0) this.table.delete(s.localPort);
    }
    s.inTable = false;
    this.tableSize--;
    this.stats.closed++;
    this.usePort(s.localPort, -1);
  }

  private usePort(port: number, d: number): void {
    const n = (this.portUse.get(port) ?? 0) + d;
    if (n <= 0) this.portUse.delete(port);
    else this.portUse.set(port, n);
  }

  /** An ephemeral port no listener or connection of ours uses (counting up from firstEphemeralPort, wrapping). */
  private allocPort(): number {
    const tries = this.portUse.size + 1;
    for (let i = 0; i < tries; i++) {
      const p = this.nextPort;
      this.nextPort = p + 1 >= VMADDR_PORT_ANY ? this.firstPort : p + 1;
      if (!this.portUse.has(p)) return p;
    }
    throw new VsockError(VsockErrorCode.NO_PORTS, 'no free ephemeral port');
  }
}

/**
 * Received payloads are copied out of the ring (the buffer goes back to the driver at once, and the secure side never
 * hands the application memory the driver can still change) into slices of a 1 MiB slab, as Node's own Buffer pool
 * does for small buffers: one allocation per slab instead of one per 64 KiB packet. A slab is freed by the GC once
 * no slice of it is referenced. The copy is copyBytes (virtio/copy.ts: the addon's memmove when installed). The slice
 * starts at the source's address modulo 8 for its TypedArray.set fallback: V8 copies out of a SharedArrayBuffer a word
 * at a time only when both sides share their alignment (else a byte at a time, several times slower), and a peer's
 * buffers need not be aligned.
 */
const SLAB_BYTES = 1 << 20;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabAt = 0;

const EMPTY = new Uint8Array(0);

function copyOut(view: Uint8Array, len: number): Buffer {
  let at = slabAt + ((view.byteOffset - slabAt) & 7);
  if (at + len > slab.length) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, len + 8));
    at = view.byteOffset & 7;
  }
  const data = slab.subarray(at, at + len);
  slabAt = at + len;
  copyBytes(data, 0, view, 0, len);
  return data;
}

function opName(op: number): string {
  return ['INVALID', 'REQUEST', 'RESPONSE', 'RST', 'SHUTDOWN', 'RW', 'CREDIT_UPDATE', 'CREDIT_REQUEST'][op] ?? `op ${op}`;
}
