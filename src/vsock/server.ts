/**
 * A listening vsock port, shaped like net.Server: `createServer(onConnection).listen(port)`, 'connection' for every
 * accepted REQUEST, close() to stop accepting (open connections stay, as with net).
 */
import { EventEmitter } from 'node:events';
import type { VsockSocket } from './socket.js';

/** What the server asks of its endpoint. */
export interface ServerHost {
  bind(server: VsockServer, port: number): number;
  unbind(server: VsockServer, port: number): void;
}

export class VsockServer extends EventEmitter<{ connection: [VsockSocket]; listening: []; close: []; error: [Error] }> {
  private port: number | undefined;
  private readonly host: ServerHost;

  constructor(host: ServerHost, onConnection?: (s: VsockSocket) => void) {
    super();
    this.host = host;
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
