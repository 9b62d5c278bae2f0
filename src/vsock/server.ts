/**
 * A listening vsock port, shaped like net.Server: `createServer(onConnection).listen(port)`, 'connection' for every
 * accepted REQUEST, close() to stop accepting (open connections stay, as with net).
 */
import { EventEmitter } from 'node:events';
import type { VsockSocket } from './socket.js';
import { VsockType } from './constants.js';

/** Options of createServer / connect: the socket type (default STREAM). */
export interface VsockSocketOptions {
  /** SEQPACKET (message boundaries kept; needs VIRTIO_VSOCK_F_SEQPACKET negotiated). Default false: STREAM. */
  readonly seqpacket?: boolean;
}

/** What the server asks of its endpoint. */
export interface ServerHost {
  bind(server: VsockServer, port: number): number;
  unbind(server: VsockServer, port: number): void;
}

export class VsockServer extends EventEmitter<{ connection: [VsockSocket]; listening: []; close: []; error: [Error] }> {
  private port: number | undefined;
  private readonly host: ServerHost;

  /** The socket type this server accepts (a REQUEST of another type gets RST, as in Linux). */
  readonly type: number;

  constructor(host: ServerHost, onConnection?: (s: VsockSocket) => void, opts: VsockSocketOptions = {}) {
    super();
    this.host = host;
    this.type = opts.seqpacket === true ? VsockType.SEQPACKET : VsockType.STREAM;
    if (onConnection) this.on('connection', onConnection);
  }

  /** Starts accepting on `port` (VMADDR_PORT_ANY or omitted: an ephemeral port). Throws ADDR_IN_USE. */
  listen(port?: number, cb?: () => void): this {
    this.port = this.host.bind(this, port ?? 0xffffffff);
    if (cb) this.once('listening', cb);
    queueMicrotask(() => this.emit('listening'));
    return this;
  }

  get listening(): boolean {
    return this.port !== undefined;
  }

  address(): { port: number } | null {
    return this.port === undefined ? null : { port: this.port };
  }

  close(cb?: () => void): this {
    if (this.port !== undefined) {
      this.host.unbind(this, this.port);
      this.port = undefined;
    }
    if (cb) this.once('close', cb);
    queueMicrotask(() => this.emit('close'));
    return this;
  }
}
