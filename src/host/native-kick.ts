/**
 * Kicks over an AF_UNIX stream socket owned by the tz_shm addon (native/shm.cc), for loops that must not wait for
 * Node's event loop: `kick()` is one non-blocking send(2), `waitKicks()` sleeps in ppoll(2) and drains every queued
 * byte with recv(2). Same wire behaviour as KickSocket and OpenAMP's Linux machine: one byte per kick, the byte and
 * the count carry no meaning, either side may be the server, the server accepts one peer and stops listening.
 *
 * Coalescing: when the socket buffer is full, the peer has unread kicks and rescans every ring when it reads them,
 * so a further kick adds nothing; it is dropped and counted in `kicksCoalesced` (never blocks, no deadlock when both
 * sides are single-threaded and busy).
 *
 * Outside a blocking loop (handshakes, library users awaiting promises), onKick/onClose listeners are served by a
 * 1 ms timer that polls the socket without sleeping; it runs only while listeners exist and the socket is open.
 */
import { unlinkSync } from 'node:fs';
import { HostError, HostErrorCode } from './errors.js';
import { loadNative, type NativeShm } from './native.js';
import type { BlockingKickChannel, KickRole, KickSocketOptions } from './kick-channel.js';

type KickCalls = Required<Pick<NativeShm, 'kickListen' | 'kickAccept' | 'kickConnect' | 'pollKick' | 'sendKick' | 'closeFd'>>;

/** The addon's kick calls; throws HostError(NATIVE_UNAVAILABLE) when the addon is missing or older than ABI 2. */
export function nativeKickCalls(): KickCalls {
  const n = loadNative();
  if (typeof n.pollKick !== 'function' || typeof n.sendKick !== 'function' || typeof n.kickListen !== 'function') {
    throw new HostError(
      HostErrorCode.NATIVE_UNAVAILABLE,
      `the native addon (ABI ${n.abiVersion}) has no kick-socket calls (ABI 2); rebuild it with \`node scripts/build-native.mjs\``,
    );
  }
  return n as NativeShm & KickCalls;
}

/** True when the addon loads and has the kick-socket calls (never throws). */
export function nativeKicksAvailable(): boolean {
  try {
    nativeKickCalls();
    return true;
  } catch {
    return false;
  }
}

function ioError(e: unknown, what: string, fd: number): HostError {
  if (e instanceof HostError) return e;
  const err = e as Error & { code?: string };
  if (err instanceof TypeError) return new HostError(HostErrorCode.BAD_ARGUMENT, `${what}: ${err.message}`, { fd });
  return new HostError(HostErrorCode.KICK_IO_FAILED, `${what} on fd ${fd}: ${err.message}`, { fd, cause: err.code });
}

/**
 * Waits up to timeoutMs (Infinity or < 0: no limit) for kick bytes on a connected socket fd and drains them.
 * Returns the byte count (> 0), 0 on timeout or signal, -1 when the peer has closed. Typed errors: BAD_ARGUMENT,
 * KICK_IO_FAILED (details.cause = EBADF, ENOTSOCK, ...).
 */
export function pollKick(fd: number, timeoutMs: number): number {
  const k = nativeKickCalls();
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new HostError(HostErrorCode.BAD_ARGUMENT, `bad fd ${fd}`, { fd });
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) throw new HostError(HostErrorCode.BAD_ARGUMENT, `bad timeout ${String(timeoutMs)}`);
  try {
    return k.pollKick(fd, Number.isFinite(timeoutMs) ? timeoutMs : -1);
  } catch (e) {
    throw ioError(e, 'poll kick', fd);
  }
}

/** Sends one kick byte without blocking: 1 sent, 0 coalesced (buffer full of unread kicks), -1 peer gone. */
export function sendKick(fd: number): number {
  const k = nativeKickCalls();
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new HostError(HostErrorCode.BAD_ARGUMENT, `bad fd ${fd}`, { fd });
  try {
    return k.sendKick(fd);
  } catch (e) {
    throw ioError(e, 'send kick', fd);
  }
}

function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

const RETRYABLE_CONNECT = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

export class NativeKickSocket implements BlockingKickChannel {
  readonly path: string;
  readonly role: KickRole;
  /** The connected socket (non-blocking, close-on-exec); valid until close or the peer's departure. */
  readonly fd: number;
  kicksSent = 0;
  kicksReceived = 0;
  /** Kicks dropped because the socket buffer was full of kicks the peer had not read yet. */
  kicksCoalesced = 0;
  private readonly k: KickCalls;
  private closed = false;
  private readonly kickListeners: ((count: number) => void)[] = [];
  private readonly closeListeners: ((err?: HostError) => void)[] = [];
  private watcher: ReturnType<typeof setInterval> | undefined;

  private constructor(k: KickCalls, fd: number, path: string, role: KickRole) {
    this.k = k;
    this.fd = fd;
    this.path = path;
    this.role = role;
  }

  /** Opens the socket in the given role; resolves once the peer is connected (the event loop turns meanwhile). */
  static open(options: KickSocketOptions): Promise<NativeKickSocket> {
    let k: KickCalls;
    try {
      k = nativeKickCalls();
    } catch (e) {
      return Promise.reject(e);
    }
    const { path, role } = options;
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0') || Buffer.byteLength(path) > 107) {
      return Promise.reject(new HostError(HostErrorCode.BAD_ARGUMENT, `bad kick socket path ${JSON.stringify(path)} (1..107 bytes)`));
    }
    if (role !== 'server' && role !== 'client') return Promise.reject(new HostError(HostErrorCode.BAD_ARGUMENT, `bad kick role ${String(role)}`));
    const deadline = performance.now() + timeoutMs;
    const fail = (msg: string, e?: unknown): HostError =>
      new HostError(HostErrorCode.KICK_CONNECT_FAILED, `kick socket ${path}: ${msg}${e !== undefined ? `: ${(e as Error).message}` : ''}`, {
        path,
        ...(e !== undefined ? { cause: (e as { code?: string }).code } : {}),
      });
    return new Promise((resolve, reject) => {
      if (role === 'server') {
        removeSocketFile(path);
        let lfd: number;
        try {
          lfd = k.kickListen(path);
        } catch (e) {
          reject(fail('cannot listen', e));
          return;
        }
        const stop = (): void => {
          k.closeFd(lfd);
          removeSocketFile(path); // one peer only: nobody else may connect
        };
        let delay = 1;
        const attempt = (): void => {
          let fd: number;
          try {
            fd = k.kickAccept(lfd);
          } catch (e) {
            stop();
            reject(fail('accept failed', e));
            return;
          }
          if (fd >= 0) {
            stop();
            resolve(new NativeKickSocket(k, fd, path, role));
          } else if (performance.now() >= deadline) {
            stop();
            reject(fail(`no peer connected within ${timeoutMs} ms`));
          } else {
            setTimeout(attempt, delay);
            delay = Math.min(delay * 2, 20);
          }
        };
        attempt();
      } else {
        let delay = 1;
        const attempt = (): void => {
          try {
            resolve(new NativeKickSocket(k, k.kickConnect(path), path, role));
          } catch (e) {
            const code = (e as { code?: string }).code ?? '';
            if (RETRYABLE_CONNECT.has(code) && performance.now() + delay < deadline) {
              setTimeout(attempt, delay);
              delay = Math.min(delay * 2, 50);
            } else reject(fail('cannot connect', e));
          }
        };
        attempt();
      }
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  kick(): void {
    if (this.closed) return;
    let r: number;
    try {
      r = this.k.sendKick(this.fd);
    } catch (e) {
      throw ioError(e, 'send kick', this.fd);
    }
    if (r === 1) this.kicksSent++;
    else if (r === 0) this.kicksCoalesced++;
    else this.peerClosed();
  }

  waitKicks(timeoutMs: number): number {
    if (this.closed) return -1;
    let r: number;
    try {
      r = this.k.pollKick(this.fd, Number.isFinite(timeoutMs) ? Math.max(0, timeoutMs) : -1);
    } catch (e) {
      throw ioError(e, 'poll kick', this.fd);
    }
    if (r > 0) this.kicksReceived += r;
    else if (r < 0) this.peerClosed();
    return r;
  }

  onKick(listener: (count: number) => void): void {
    this.kickListeners.push(listener);
    this.watch();
  }

  onClose(listener: (err?: HostError) => void): void {
    this.closeListeners.push(listener);
    this.watch();
  }

  close(): Promise<void> {
    if (!this.closed) this.shut(undefined);
    return Promise.resolve();
  }

  /** Polls (without sleeping) every millisecond while the event loop runs, for the listeners. */
  private watch(): void {
    if (this.watcher !== undefined || this.closed) return;
    this.watcher = setInterval(() => {
      if (this.closed) return;
      const n = this.waitKicks(0);
      if (n > 0) for (const l of this.kickListeners) l(n);
    }, 1);
  }

  private peerClosed(): void {
    if (this.closed) return;
    this.shut(new HostError(HostErrorCode.KICK_PEER_CLOSED, `kick socket ${this.path}: peer closed`));
  }

  private shut(err: HostError | undefined): void {
    this.closed = true;
    if (this.watcher !== undefined) clearInterval(this.watcher);
    this.watcher = undefined;
    try {
      this.k.closeFd(this.fd);
    } catch {
      // already closed
    }
    for (const l of this.closeListeners.splice(0)) l(err);
  }
}
