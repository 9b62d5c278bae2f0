/**
 * The default secure services of `tz-virtio vhost-user` when no partition file is given: the devices of src/vsock
 * and src/console, with a service on top, ready to be carried by a VhostUserServer.
 *
 *   vsock:   an echo on port 1234 (every byte sent back on the same connection; the guest's SHUTDOWN ends our side
 *            once everything was echoed; an RST from the guest ends it at once).
 *   console: port 0 without MULTIPORT (Linux's /dev/hvc0): every line written is sent back.
 */
import { ConsoleDevice } from '../console/index.js';
import type { VirtioDevice } from '../virtio/device.js';
import { VsockDevice, type VsockSocket } from '../vsock/index.js';

export const DEFAULT_ECHO_PORT = 1234;

export interface ServiceStats {
  /** Connections (vsock) or lines (console) served. */
  sessions: number;
  bytesFromGuest: number;
  bytesToGuest: number;
  /** Connections that ended with an error (RST, device reset). */
  errors: number;
}

export interface VhostUserService {
  readonly device: VirtioDevice;
  readonly stats: ServiceStats;
  /** Closes listeners and connections. */
  close(): void;
}

/** Echoes every byte of a vsock connection back on it (with backpressure: pipe pauses reading while writes queue). */
export function echoVsock(s: VsockSocket, stats: ServiceStats): void {
  stats.sessions++;
  s.on('data', (d: Buffer) => {
    stats.bytesFromGuest += d.length;
    stats.bytesToGuest += d.length;
  });
  s.on('error', () => stats.errors++);
  s.pipe(s);
}

export function vsockEchoService(opts: { guestCid?: number; port?: number } = {}): VhostUserService & { readonly device: VsockDevice } {
  // half-open connections stay open: the echo ends our side itself once everything was sent back, and hybrid vsock
  // passes a guest's SHUTDOWN on to its UNIX socket and waits for that side's answer
  const device = new VsockDevice({ guestCid: opts.guestCid ?? 3, allowHalfOpen: true });
  const stats: ServiceStats = { sessions: 0, bytesFromGuest: 0, bytesToGuest: 0, errors: 0 };
  const server = device.createServer((s) => echoVsock(s, stats)).listen(opts.port ?? DEFAULT_ECHO_PORT);
  return { device, stats, close: () => void server.close() };
}

/** Largest line kept; a longer one is sent back in pieces of this size. */
const MAX_LINE = 64 * 1024;

export function consoleLineEchoService(): VhostUserService & { readonly device: ConsoleDevice } {
  const device = new ConsoleDevice({ multiport: false, emergWrite: false });
  const stats: ServiceStats = { sessions: 0, bytesFromGuest: 0, bytesToGuest: 0, errors: 0 };
  const port = device.port();
  let line: Buffer[] = [];
  let lineBytes = 0;
  const flush = () => {
    const out = Buffer.concat(line);
    line = [];
    lineBytes = 0;
    stats.bytesToGuest += out.length;
    stats.sessions++;
    port.write(out);
  };
  port.on('data', (d: Buffer) => {
    stats.bytesFromGuest += d.length;
    let start = 0;
    for (let nl = d.indexOf(10); nl >= 0; nl = d.indexOf(10, start)) {
      line.push(d.subarray(start, nl + 1));
      start = nl + 1;
      flush();
    }
    if (start < d.length) {
      line.push(Buffer.from(d.subarray(start)));
      lineBytes += d.length - start;
      if (lineBytes >= MAX_LINE) flush();
    }
  });
  port.on('error', () => stats.errors++);
  return { device, stats, close: () => port.destroy() };
}
