/**
 * `ctx.vsock`: virtio-vsock (§5.10) as a guest sees it, in Node's net style. The secure partition is the host side (CID
 * 2, the device), the non-secure one the guest (its CID from the device's config space, the driver):
 *   await ctx.vsock.ready()                                the device is live (driver side: after the handshake)
 *   ctx.vsock.createServer((socket) => …).listen(port)      a VsockServer ('connection' events)
 *   ctx.vsock.connect(port, cid?)                          a stream.Duplex: backpressure through the credit window,
 *                                                          end() = SHUTDOWN, destroy() = RST
 */
import type { BindingEnv } from '../virtio/device.js';
import type { VsockDevice } from './device.js';
import type { VsockDriver } from './driver.js';
import type { VsockServer } from './server.js';
import type { VsockSocket } from './socket.js';

export interface VsockApi {
  readonly role: 'driver' | 'device';
  /** Resolves once the device is live (the driver side cannot connect before: it has no CID yet). */
  ready(): Promise<void>;
  createServer(onConnection?: (s: VsockSocket) => void): VsockServer;
  connect(port: number, cid?: number): VsockSocket;
}

export function vsockApi(end: VsockDevice | VsockDriver, role: 'driver' | 'device', env: BindingEnv): VsockApi {
  return {
    role,
    ready: async () => {
      while (!end.active) await env.wait(10_000);
    },
    createServer: (cb) => end.createServer(cb),
    connect: (port, cid) => end.connect(port, cid),
  };
}
