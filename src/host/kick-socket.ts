/**
 * Cross-process kicks over an AF_UNIX stream socket, one byte per kick, as OpenAMP's Linux-process machine does
 * (openamp-system-reference, legacy_apps/system/linux/machine/generic/platform_info.c: the notify op sends one
 * byte; the receiving side reads whatever is queued and then rescans every virtqueue). The byte's value and the
 * number of bytes carry no meaning: a kick says "look at the rings", nothing more, so receivers must rescan all
 * rings on any kick and may see several kicks merged into one read.
 *
 * Either side may be the server. The server removes a stale socket file, listens, accepts exactly one peer and
 * stops listening (as OpenAMP's `unixs:` side does); the client retries until the server is up.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import { HostError, HostErrorCode } from './errors.js';
import type { KickChannel, KickRole, KickSocketOptions } from './kick-channel.js';

export type { KickRole, KickSocketOptions } from './kick-channel.js';

const KICK_BYTE = Buffer.from([1]);

export class KickSocket implements KickChannel {
  readonly path: string;
  readonly role: KickRole;
  /** Kicks written so far. */
  kicksSent = 0;
  /** Bytes (kicks) received so far. */
  kicksReceived = 0;
  private readonly socket: Socket;
  private kickListeners: ((count: number) => void)[] = [];
  private closeListeners: ((err?: HostError) => void)[] = [];
  private closed = false;

  /** Wraps an already connected stream socket (use `KickSocket.open` to make one). */
  constructor(socket: Socket, path: string, role: KickRole) {
    this.socket = socket;
    this.path = path;
    this.role = role;
    socket.on('data', (chunk: Buffer) => {
      this.kicksReceived += chunk.length;
      for (const l of this.kickListeners) l(chunk.length);
    });
    socket.on('error', () => {
      // 'close' follows and reports it
    });
    socket.on('close', (hadError: boolean) => {
      const wasClosed = this.closed;
      this.closed = true;
      if (this.role === 'server') removeSocketFile(this.path);
      const err = wasClosed ? undefined : new HostError(HostErrorCode.KICK_PEER_CLOSED, `kick socket ${this.path}: peer closed${hadError ? ' (with an error)' : ''}`);
      for (const l of this.closeListeners) l(err);
    });
  }

  /** Opens the socket in the given role; resolves once the peer is connected. */
  static open(options: KickSocketOptions): Promise<KickSocket> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (typeof options.path !== 'string' || options.path.length === 0 || Buffer.byteLength(options.path) > 107) {
      return Promise.reject(new HostError(HostErrorCode.BAD_ARGUMENT, `bad kick socket path ${JSON.stringify(options.path)} (1..107 bytes)`));
    }
    return options.role === 'server' ? serve(options.path, timeoutMs) : connect(options.path, timeoutMs);
  }

  /** Sends one kick. Kicks after the peer has gone are dropped (like OpenAMP's send with MSG_NOSIGNAL). */
  kick(): void {
    if (this.closed) return;
    this.kicksSent++;
    this.socket.write(KICK_BYTE);
  }

  /** Calls `listener(count)` for every batch of received kicks. */
  onKick(listener: (count: number) => void): void {
    this.kickListeners.push(listener);
  }

  /** Calls `listener(err)` once when the socket closes; err is set when the peer closed it, not us. */
  onClose(listener: (err?: HostError) => void): void {
    this.closeListeners.push(listener);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the socket after flushing queued kicks. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      this.socket.end(() => {
        this.socket.destroy();
        resolve();
      });
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 500).unref();
    });
  }
}

function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function serve(path: string, timeoutMs: number): Promise<KickSocket> {
  return new Promise((resolve, reject) => {
    removeSocketFile(path);
    const server: Server = createServer({ allowHalfOpen: false });
    const timer = setTimeout(() => {
      server.close();
      removeSocketFile(path);
      reject(new HostError(HostErrorCode.KICK_CONNECT_FAILED, `kick socket ${path}: no peer connected within ${timeoutMs} ms`, { path }));
    }, timeoutMs);
    server.once('error', (e: Error & { code?: string }) => {
      clearTimeout(timer);
      reject(new HostError(HostErrorCode.KICK_CONNECT_FAILED, `kick socket ${path}: cannot listen: ${e.message}`, { path, cause: e.code }));
    });
    server.once('connection', (socket: Socket) => {
      clearTimeout(timer);
      server.close(); // one peer only; the accepted socket stays open
      resolve(new KickSocket(socket, path, 'server'));
    });
    server.listen(path);
  });
}

function connect(path: string, timeoutMs: number): Promise<KickSocket> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let delay = 5;
    const attempt = (): void => {
      const socket = createConnection({ path });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(new KickSocket(socket, path, 'client'));
      });
      socket.once('error', (e: Error & { code?: string }) => {
        socket.destroy();
        const retryable = e.code === 'ENOENT' || e.code === 'ECONNREFUSED';
        if (retryable && Date.now() + delay < deadline) {
          setTimeout(attempt, delay);
          delay = Math.min(delay * 2, 100);
        } else {
          reject(new HostError(HostErrorCode.KICK_CONNECT_FAILED, `kick socket ${path}: cannot connect: ${e.message}`, { path, cause: e.code }));
        }
      });
    };
    attempt();
  });
}
