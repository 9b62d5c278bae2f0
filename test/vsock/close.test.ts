/**
 * The bounded close (§5.10.6.6; Linux VSOCK_CLOSE_TIMEOUT): a connection closed in order waits in CLOSING for the
 * peer's RST, and is reset when the endpoint's clock passes its deadline at a poll; no timer is involved (the clock is
 * a variable here).
 */
import { describe, expect, it } from 'vitest';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { RawVsockDriver } from '../../src/fuzz/vsock-driver.js';
import { SocketState, VsockDevice, VsockOp, VSOCK_SHUTDOWN_BOTH, VSOCK_SHUTDOWN_SEND, type VsockSocket } from '../../src/vsock/index.js';
import { guestHeader, makePair, run } from './helpers.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

/** The device's socket closed in order against a raw driver that shuts down its sending side but never sends RST. */
async function closingRig(closeTimeoutMs?: number) {
  let now = 1000;
  const device = new VsockDevice({ now: () => now, ...(closeTimeoutMs !== undefined ? { closeTimeoutMs } : {}) });
  const driver = new RawVsockDriver();
  const lb = new LoopbackTransport(driver, device);
  let sock: VsockSocket | undefined;
  device.createServer((s) => (sock = s)).listen(1000);
  const hdr = guestHeader;
  driver.send(hdr());
  lb.settle();
  let closed = false;
  sock!.on('close', () => (closed = true));
  sock!.resume();
  // the peer will send no more; we end our side: both directions are done and the socket closes in order
  driver.send(hdr({ op: VsockOp.SHUTDOWN, flags: VSOCK_SHUTDOWN_SEND }));
  lb.settle();
  sock!.end();
  for (let i = 0; i < 5 && !closed; i++) {
    await tick();
    lb.settle();
  }
  return { device, driver, lb, sock: sock!, hdr, closed: () => closed, setNow: (t: number) => (now = t), ops: () => driver.received.map((p) => [p.h.op, p.h.flags]) };
}

describe('vsock close timeout', () => {
  it('a connection closed in order stays until the peer RST, at most 8 s by default, then is reset with an RST', async () => {
    const r = await closingRig();
    expect(r.closed()).toBe(true);
    expect(r.sock.state).toBe(SocketState.CLOSING);
    expect(r.ops()).toEqual([
      [VsockOp.RESPONSE, 0],
      [VsockOp.SHUTDOWN, VSOCK_SHUTDOWN_SEND],
      [VsockOp.SHUTDOWN, VSOCK_SHUTDOWN_BOTH],
    ]);
    expect(r.device.endpoint.closingDeadline()).toBe(1000 + 8000);
    r.setNow(8999);
    r.device.poll();
    expect(r.device.endpoint.connections).toBe(1);
    r.setNow(9000);
    r.device.poll();
    r.lb.settle();
    expect(r.device.endpoint.connections).toBe(0);
    expect(r.sock.state).toBe(SocketState.CLOSED);
    expect(r.ops().at(-1)).toEqual([VsockOp.RST, 0]);
    expect(r.device.endpoint.stats.closeTimeouts).toBe(1);
    expect(r.device.endpoint.closingDeadline()).toBeUndefined();
    // later polls send nothing more
    r.setNow(1e9);
    r.device.poll();
    r.lb.settle();
    expect(r.ops()).toHaveLength(4);
  });

  it('the peer RST before the deadline ends the record without a timeout or an answer', async () => {
    const r = await closingRig(50);
    r.driver.send(r.hdr({ op: VsockOp.RST }));
    r.lb.settle();
    expect(r.device.endpoint.connections).toBe(0);
    r.setNow(1e9);
    r.device.poll();
    r.lb.settle();
    expect(r.device.endpoint.stats.closeTimeouts).toBe(0);
    expect(r.ops()).toHaveLength(3);
    expect(r.device.endpoint.closingDeadline()).toBeUndefined();
  });

  it('between two real endpoints the close completes by RST long before any deadline', async () => {
    const p = makePair({ device: { now: () => 0 }, driver: { now: () => 0 } });
    let server: VsockSocket | undefined;
    p.device.createServer((s) => {
      server = s;
      s.resume();
      s.on('end', () => s.end());
    }).listen(7);
    const c = p.driver.connect(7);
    c.resume();
    let closed = 0;
    c.on('close', () => closed++);
    await run(p, () => server !== undefined && c.connected);
    server!.on('close', () => closed++);
    c.end();
    await run(p, () => closed === 2 && p.device.endpoint.connections + p.driver.endpoint.connections === 0);
    expect(p.device.endpoint.stats.closeTimeouts + p.driver.endpoint.stats.closeTimeouts).toBe(0);
  });
});
