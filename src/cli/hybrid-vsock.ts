/**
 * Hybrid vsock over UNIX sockets, the convention of Firecracker and rust-vmm's vhost-device-vsock (`--uds-path P`):
 *
 *   host program ──connect(P)── "CONNECT <port>\n" ──►  we connect to the guest's <port>  ──► "OK <our port>\n", then bytes
 *   guest ──connect(CID 2, port N)──►  we connect to the UNIX socket P_N (refused or absent: RST to the guest)
 *
 * Guest-initiated connections need a vsock listener per port; the endpoint listens on port N exactly while a socket
 * file P_N exists (the directory is scanned at start and watched), so a guest connecting to a port nobody serves
 * gets the RST it would get from Firecracker. The first line of a host connection is bounded (64 bytes, 10 s);
 * anything other than `CONNECT <u32>\n` closes it.
 */
import { readdirSync, rmSync, watch, type FSWatcher, existsSync, lstatSync } from 'node:fs';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { VsockDevice, VsockServer, VsockSocket } from '../vsock/index.js';

export interface HybridVsockStats {
  /** Host programs that connected to P and were joined to a guest port. */
  hostConnections: number;
  /** Guest connections joined to a P_N socket. */
  guestConnections: number;
  /** Connections refused: bad CONNECT line, guest port refused, P_N not accepting. */
  refused: number;
  bytesToGuest: number;
  bytesFromGuest: number;
}

const MAX_LINE = 64;
const LINE_TIMEOUT_MS = 10_000;

export class HybridVsock {
  readonly stats: HybridVsockStats = { hostConnections: 0, guestConnections: 0, refused: 0, bytesToGuest: 0, bytesFromGuest: 0 };
  private server: Server | undefined;
  private watcher: FSWatcher | undefined;
  private readonly listeners = new Map<number, VsockServer>();
  private readonly open = new Set<Socket>();
  private readonly prefix: string;
  private readonly dir: string;

  constructor(
    private readonly device: VsockDevice,
    readonly path: string,
  ) {
    this.dir = dirname(path);
    this.prefix = `${basename(path)}_`;
  }

  /** Listens on the UNIX socket P (a stale socket file is replaced) and starts watching for P_N sockets. */
  listen(): this {
    if (existsSync(this.path)) {
      if (!lstatSync(this.path).isSocket()) throw new Error(`--uds-path: ${this.path} exists and is not a socket`);
      rmSync(this.path, { force: true });
    }
    this.server = createServer({ allowHalfOpen: true }, (c) => this.onHostConnection(c));
    this.server.listen(this.path);
    this.scan();
    this.watcher = watch(this.dir, () => this.scan());
    return this;
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.server?.close();
    this.server = undefined;
    for (const c of this.open) c.destroy();
    for (const l of this.listeners.values()) l.close();
    this.listeners.clear();
    rmSync(this.path, { force: true });
  }

  /** Guest-facing listeners follow the P_N socket files. */
  private scan(): void {
    if (this.server === undefined) return;
    const ports = new Set<number>();
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.startsWith(this.prefix)) continue;
      const t = n.slice(this.prefix.length);
      if (!/^[0-9]{1,10}$/.test(t)) continue;
      const port = Number(t);
      if (port < 0xffffffff) ports.add(port);
    }
    for (const [port, l] of this.listeners) {
      if (!ports.has(port)) {
        l.close();
        this.listeners.delete(port);
      }
    }
    for (const port of ports) {
      if (this.listeners.has(port)) continue;
      try {
        this.listeners.set(port, this.device.createServer((s) => this.onGuestConnection(s, port)).listen(port));
      } catch {
        // the port is taken by a service of our own: that one wins
      }
    }
  }

  private onGuestConnection(v: VsockSocket, port: number): void {
    const u = netConnect({ path: join(this.dir, `${this.prefix}${port}`), allowHalfOpen: true });
    this.track(u);
    u.once('connect', () => {
      this.stats.guestConnections++;
      this.join(u, v);
    });
    u.once('error', () => {
      if (!u.connecting) return;
      this.stats.refused++;
      v.destroy(); // RST to the guest
    });
    v.once('error', () => u.destroy());
  }

  private onHostConnection(u: Socket): void {
    this.track(u);
    let line = '';
    const timer = setTimeout(() => this.refuse(u), LINE_TIMEOUT_MS);
    const onData = (d: Buffer) => {
      const nl = d.indexOf(10);
      line += d.subarray(0, nl < 0 ? d.length : nl).toString('latin1');
      if (line.length > MAX_LINE) return void (clearTimeout(timer), this.refuse(u));
      if (nl < 0) return;
      clearTimeout(timer);
      u.off('data', onData);
      u.pause();
      const rest = d.subarray(nl + 1);
      const m = /^CONNECT ([0-9]{1,10})\r?$/.exec(line);
      const port = m === null ? -1 : Number(m[1]);
      if (port < 0 || port >= 0xffffffff) return this.refuse(u);
      let v: VsockSocket;
      try {
        v = this.device.connect(port);
      } catch {
        return this.refuse(u);
      }
      v.once('connect', () => {
        this.stats.hostConnections++;
        u.write(`OK ${v.localPort}\n`);
        if (rest.length > 0) {
          this.stats.bytesToGuest += rest.length;
          v.write(rest);
        }
        this.join(u, v);
        u.resume();
      });
      v.once('error', () => {
        if (v.connected) return;
        this.refuse(u);
      });
    };
    u.on('data', onData);
    u.on('error', () => undefined);
  }

  /**
   * Bytes both ways with backpressure. An end is passed on as a half-close (pipe ends the other side's writable:
   * SHUTDOWN SEND to the guest, shutdown(SHUT_WR) to the UNIX peer); an error or reset destroys the other side.
   */
  private join(u: Socket, v: VsockSocket): void {
    u.on('data', (d: Buffer) => (this.stats.bytesToGuest += d.length));
    v.on('data', (d: Buffer) => (this.stats.bytesFromGuest += d.length));
    u.pipe(v);
    v.pipe(u);
    u.on('error', () => v.destroy());
    v.on('error', () => u.destroy());
    u.on('close', (hadError) => {
      if (hadError) v.destroy();
    });
    v.on('close', () => {
      if (!v.writableFinished || !v.readableEnded) u.destroy(); // reset, not a clean end both ways
    });
  }

  private refuse(u: Socket): void {
    this.stats.refused++;
    u.destroy();
  }

  private track(u: Socket): void {
    this.open.add(u);
    u.once('close', () => this.open.delete(u));
  }
}
