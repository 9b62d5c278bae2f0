/**
 * The order in which a flush spends the rx buffers the peer posts: a connection's own control packets (RST, SHUTDOWN,
 * CREDIT_UPDATE, RESPONSE) go out before the bounded queue of RST replies to packets for unknown connections
 * ("orphans"). A peer that keeps sending on a connection we reset turns every packet into an orphan; were orphans
 * served first, they would take every buffer and the connection's own RST (the one the peer's socket waits for) would
 * never leave. Both the endpoint alone (its PacketOut seam, buffers counted one by one) and the device over real
 * rings (LoopbackTransport with a raw driver that re-posts each rx buffer it gets back) are checked.
 *
 * Telling the two kinds of RST apart on the wire: a connection's RST carries its credit (buf_alloc = the socket's
 * receive window, §5.10.6.3), an orphan reply carries buf_alloc 0 (there is no socket to speak for).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { RawVsockDriver } from '../../src/fuzz/vsock-driver.js';
import { VsockDevice, VsockEndpoint, VsockErrorCode, VsockOp, type PacketOut, type VsockHeader, type VsockSocket } from '../../src/vsock/index.js';
import { guestHeader } from './helpers.js';

const GUEST = 3;
const HOST = 2;
/** The port guestHeader() addresses by default. */
const LISTEN = 1000;
/** A receive window no orphan reply can carry (they carry 0): marks a connection's own packets. */
const BUF = 40_000;
const MAX_RST = 8;

/** Guest (CID 3, port 5000 by default) to host (CID 2, port LISTEN). */
const hdr = guestHeader;

const isOrphanRst = (h: VsockHeader) => h.op === VsockOp.RST && h.bufAlloc === 0;
const isConnRst = (h: VsockHeader, peerPort: number) => h.op === VsockOp.RST && h.bufAlloc === BUF && h.dstPort === peerPort;

/** The peer's rx buffers as the endpoint sees them: `give(n)` posts n, each packet sent takes one. */
class CountedBuffers implements PacketOut {
  free = 0;
  readonly sent: VsockHeader[] = [];
  give(n: number): void {
    this.free += n;
  }
  room(): number {
    return this.free > 0 ? 4096 : -1;
  }
  send(h: VsockHeader): void {
    if (this.free <= 0) throw new Error('send without a buffer');
    this.free--;
    this.sent.push({ ...h });
  }
}

/** A device-role endpoint (CID 2, peer CID 3) listening on LISTEN, with `conns` connections from peer ports 5000… open. */
function endpointRig(conns: number) {
  const ep = new VsockEndpoint(
    () => HOST,
    () => GUEST,
    { bufAlloc: BUF, maxPendingRst: MAX_RST },
  );
  const out = new CountedBuffers();
  ep.setOutput(out);
  const accepted: VsockSocket[] = [];
  ep.createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.resume();
  }).listen(LISTEN);
  for (let i = 0; i < conns; i++) ep.receive(hdr({ srcPort: 5000 + i }), undefined, true);
  out.give(conns);
  ep.flush();
  if (out.sent.length !== conns || out.sent.some((h) => h.op !== VsockOp.RESPONSE)) throw new Error('connections not open');
  out.sent.length = 0;
  return { ep, out, accepted };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('vsock flush order: connections before RST replies to unknown ones', () => {
  it('the RST of a connection we reset takes the first rx buffer while the peer floods it; the orphan replies follow, bounded', () => {
    const { ep, out, accepted } = endpointRig(1);
    accepted[0]!.destroy(); // our side resets: the RST waits for a buffer (none posted)
    const payload = Buffer.from('x');
    let orphansIn = 0;
    const firstOfRound: VsockHeader[] = [];
    // the peer keeps sending on the connection (2 packets per round) and posts one rx buffer per round
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 2; k++) {
        ep.receive(hdr({ op: VsockOp.RW, len: 1 }), payload, true);
        orphansIn++;
      }
      const before = out.sent.length;
      out.give(1);
      ep.flush();
      expect(out.sent.length).toBe(before + 1);
      firstOfRound.push(out.sent[before]!);
    }
    // the first buffer went to the connection's RST, every later one to an orphan reply
    expect(isConnRst(firstOfRound[0]!, 5000)).toBe(true);
    expect(firstOfRound.slice(1).every(isOrphanRst)).toBe(true);
    // the peer's socket is reset and it stops; its buffers drain the orphan queue, which never held more than its bound
    const duringFlood = out.sent.length - 1;
    for (let i = 0; i < 100; i++) {
      out.give(1);
      ep.flush();
      if (out.free > 0) break;
    }
    expect(out.free).toBe(1); // nothing more to send
    const drained = out.sent.length - 1 - duringFlood;
    // the queue was full (MAX_RST) when the last round's buffer took one of them
    expect(drained).toBe(MAX_RST - 1);
    const dropped = ep.stats.dropped[VsockErrorCode.TOO_MANY_CONNECTIONS] ?? 0;
    expect(dropped).toBeGreaterThan(0);
    // nothing lost: every orphan was answered or counted as dropped
    expect(duringFlood + drained + dropped).toBe(orphansIn);
    expect(out.sent.filter((h) => isConnRst(h, 5000))).toHaveLength(1);
    expect(out.sent.slice(1).every((h) => isOrphanRst(h) && h.dstPort === 5000 && h.srcPort === LISTEN)).toBe(true);
    expect(ep.connections).toBe(0);
  });

  it('over real rings: a driver that floods a connection the device reset gets the reset on its next rx buffer', () => {
    const device = new VsockDevice({ bufAlloc: BUF, maxPendingRst: MAX_RST });
    const driver = new RawVsockDriver({ rxBuffers: 0 });
    const lb = new LoopbackTransport(driver, device);
    let sock: VsockSocket | undefined;
    device
      .createServer((s) => {
        sock = s;
        s.on('error', () => {});
        s.resume();
      })
      .listen(LISTEN);
    // one rx buffer in all: the driver re-posts it each time it gets it back
    driver.postRx(driver.a.pool.base, 4140);
    driver.rxq.kick();
    driver.send(hdr());
    lb.settle();
    expect(driver.received.map((p) => p.h.op)).toEqual([VsockOp.RESPONSE]);
    // spend the buffer on a reply to an unknown port, and let the device run without the driver seeing it: the driver
    // now has no buffer posted
    driver.send(hdr({ srcPort: 7000, dstPort: 1234 }));
    device.poll();
    sock!.destroy();
    // the driver keeps sending on the connection: each round 2 packets in, 1 buffer back
    const payload = Buffer.from('x');
    for (let round = 0; round < 20; round++) {
      driver.send(hdr({ op: VsockOp.RW, len: 1 }), payload);
      driver.send(hdr({ op: VsockOp.RW, len: 1 }), payload);
      lb.pump();
    }
    const got = driver.received.map((p) => p.h);
    expect(got[1]).toMatchObject({ op: VsockOp.RST, srcPort: 1234, dstPort: 7000, bufAlloc: 0 });
    // the first buffer the driver posted after the reset carries the connection's RST
    expect(isConnRst(got[2]!, 5000)).toBe(true);
    lb.settle();
    const all = driver.received.map((p) => p.h);
    expect(all.filter((h) => isConnRst(h, 5000))).toHaveLength(1);
    const dropped = device.endpoint.stats.dropped[VsockErrorCode.TOO_MANY_CONNECTIONS] ?? 0;
    // 40 orphans: every one answered or counted, and the queue bound was reached
    expect(all.slice(3).every(isOrphanRst)).toBe(true);
    expect(all.length - 3 + dropped).toBe(40);
    expect(dropped).toBeGreaterThan(0);
  });

  /**
   * Random programs over 4 connection slots: the peer opens connections, sends packets for unknown connections or for connections already
   * reset (orphans), CREDIT_REQUESTs and RSTs; our side resets or ends connections; buffers come 0-2 at a time. The
   * model tracks which control packet each connection owes the peer. Oracle: no orphan reply is sent while a
   * connection owes one (the bound on starvation is 0 buffers: a flush serves every connection's control packet
   * before any orphan); at the end everything owed went out and every orphan was answered or counted as dropped.
   */
  it('never spends a buffer on an orphan reply while a connection owes a control packet (random programs)', async () => {
    type Action =
      | { kind: 'orphan'; conn: number; unknown: boolean }
      | { kind: 'creditRequest'; conn: number }
      | { kind: 'peerRst'; conn: number }
      | { kind: 'reset'; conn: number }
      | { kind: 'end'; conn: number }
      | { kind: 'open'; conn: number }
      | { kind: 'buffers'; n: number };
    const conn = fc.nat(3);
    const action: fc.Arbitrary<Action> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('orphan' as const), conn, unknown: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('creditRequest' as const), conn }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('peerRst' as const), conn }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('reset' as const), conn }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('end' as const), conn }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('open' as const), conn }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('buffers' as const), n: fc.nat(2) }) },
    );
    /** Flushes (over all runs) given buffers while a control packet was owed and orphan replies were queued. */
    let contended = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 20, maxLength: 80 }), async (actions) => {
        const { ep, out, accepted } = endpointRig(4);
        const live = [true, true, true, true];
        const socks = [...accepted];
        /** What each connection owes the peer: the op of a control packet, by kind. */
        const owes = accepted.map(() => new Set<number>());
        let orphansIn = 0;
        let orphansOut = 0;
        let starved = 0;
        const one = Buffer.from('x');
        const check = (from: number) => {
          for (let i = from; i < out.sent.length; i++) {
            const h = out.sent[i]!;
            if (isOrphanRst(h)) {
              orphansOut++;
              if (owes.some((o) => o.size > 0)) starved++;
              continue;
            }
            const c = h.dstPort - 5000;
            if (h.op === VsockOp.RST) owes[c]!.clear();
            else owes[c]!.delete(h.op);
          }
        };
        for (const a of actions) {
          const port = 5000 + ('conn' in a ? a.conn : 0);
          switch (a.kind) {
            case 'orphan':
              // to a connection gone (reset by either side), else to a port where nothing listens
              if (!a.unknown && !live[a.conn]) ep.receive(hdr({ op: VsockOp.RW, len: 1, srcPort: port }), one, true);
              else ep.receive(hdr({ op: VsockOp.RW, len: 1, srcPort: 6000 + a.conn, dstPort: 1234 }), one, true);
              orphansIn++;
              break;
            case 'creditRequest':
              if (!live[a.conn]) break;
              ep.receive(hdr({ op: VsockOp.CREDIT_REQUEST, srcPort: port }), undefined, true);
              owes[a.conn]!.add(VsockOp.CREDIT_UPDATE);
              break;
            case 'peerRst':
              if (!live[a.conn]) break;
              ep.receive(hdr({ op: VsockOp.RST, srcPort: port }), undefined, true);
              live[a.conn] = false;
              owes[a.conn]!.clear();
              break;
            case 'reset':
              if (!live[a.conn]) break;
              socks[a.conn]!.destroy();
              live[a.conn] = false;
              owes[a.conn]!.clear();
              owes[a.conn]!.add(VsockOp.RST);
              break;
            case 'end':
              if (!live[a.conn] || socks[a.conn]!.writableEnded) break;
              socks[a.conn]!.end();
              owes[a.conn]!.add(VsockOp.SHUTDOWN);
              break;
            case 'open':
              // the peer connects again from the port of a connection gone, once its RST went out
              if (live[a.conn] || owes[a.conn]!.size > 0) break;
              ep.receive(hdr({ srcPort: port }), undefined, true);
              socks[a.conn] = accepted.at(-1)!;
              live[a.conn] = true;
              owes[a.conn]!.add(VsockOp.RESPONSE);
              break;
            case 'buffers': {
              const queued = orphansIn - orphansOut - (ep.stats.dropped[VsockErrorCode.TOO_MANY_CONNECTIONS] ?? 0);
              if (a.n > 0 && queued > 0 && owes.some((o) => o.size > 0)) contended++;
              const from = out.sent.length;
              out.give(a.n);
              ep.flush();
              check(from);
              break;
            }
          }
          await tick(); // end() reaches the endpoint after Node's stream ticks
        }
        // the peer stops; its buffers drain everything
        for (let i = 0; i < 200; i++) {
          const from = out.sent.length;
          if (out.free === 0) out.give(1);
          ep.flush();
          check(from);
          await tick();
          if (out.free > 0 && owes.every((o) => o.size === 0)) break;
        }
        expect(starved).toBe(0);
        expect(owes.every((o) => o.size === 0)).toBe(true);
        expect(orphansOut + (ep.stats.dropped[VsockErrorCode.TOO_MANY_CONNECTIONS] ?? 0)).toBe(orphansIn);
      }),
      { numRuns: 150 },
    );
    // the programs did put control packets and orphan replies in competition for buffers
    expect(contended).toBeGreaterThan(100);
  });
});
