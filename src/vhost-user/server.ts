/**
 * A listening vhost-user socket: front-ends (Linux UML's virtio_uml, QEMU's vhost-user-*-device) connect to PATH and
 * are served by one VhostUserBackend, one at a time. While a front-end is attached the listening fd is not watched,
 * so a second front-end waits in the backlog until the first disconnects (a rebooted UML reconnects that way).
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { loadVhostNative, type VhostNative } from '../host/native-vhost.js';
import type { VirtioDevice } from '../virtio/device.js';
import { VhostUserBackend, type VhostUserBackendOptions } from './backend.js';
import { VhostUserError, VhostUserErrorCode } from './errors.js';

export class VhostUserServer {
  readonly backend: VhostUserBackend;
  private readonly native: VhostNative;
  private listenFd = -1;
  private watch = 0;
  private closed = false;

  constructor(
    readonly path: string,
    device: VirtioDevice,
    opts: VhostUserBackendOptions = {},
  ) {
    this.native = opts.native ?? loadVhostNative();
    this.backend = new VhostUserBackend(device, { ...opts, native: this.native });
    this.backend.onDisconnect(() => {
      if (!this.closed) this.watchListen();
    });
  }

  /** Binds and listens (a stale socket file left by a dead server is replaced; any other file is refused). */
  listen(): this {
    if (existsSync(this.path)) {
      if (!lstatSync(this.path).isSocket()) throw new VhostUserError(VhostUserErrorCode.LISTEN_FAILED, `${this.path} exists and is not a socket`, { path: this.path });
      unlinkSync(this.path);
    }
    try {
      this.listenFd = this.native.kickListen(this.path);
    } catch (e) {
      throw new VhostUserError(VhostUserErrorCode.LISTEN_FAILED, `cannot listen on ${this.path}: ${(e as Error).message}`, { path: this.path });
    }
    this.watchListen();
    return this;
  }

  private watchListen(): void {
    if (this.watch !== 0 || this.listenFd < 0) return;
    this.watch = this.native.watchFd(this.listenFd, () => this.onAcceptable());
  }

  private onAcceptable(): void {
    const fd = this.native.kickAccept(this.listenFd);
    if (fd < 0) return;
    this.native.unwatchFd(this.watch);
    this.watch = 0;
    this.backend.attach(fd);
  }

  /** Detaches the front-end (device reset), stops listening and removes the socket file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.backend.detach('the server is closing');
    if (this.watch !== 0) this.native.unwatchFd(this.watch);
    this.watch = 0;
    if (this.listenFd >= 0) this.native.closeFd(this.listenFd);
    this.listenFd = -1;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
