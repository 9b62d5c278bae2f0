/**
 * Fuzz target: the vsock device (the secure side) against a hostile driver (RawVsockDriver over the loopback
 * transport). Each step sends a packet built from a small set of ports with a random mutation (bad op, bad type,
 * len larger than the buffer, len above 64 KiB, a payload on a control op, junk credit, a foreign CID, a header cut
 * at random bytes, a chain shorter than a header), posts rx buffers of random sizes, resets the transport, or
 * scribbles on ring memory; then lets the device run.
 *
 * Oracles: only VirtioError or VsockError escape the device; the device never writes into the driver's tx buffers
 * (device-readable memory) unless a scribbled descriptor pointed it there; and, while the driver's buffers are its
 * own (no scribbles, no overlapping odd rx buffers), every packet the device writes names CID 2 → the guest CID and
 * fits the buffer, and on connections whose credit the fuzzer kept honest (buf_alloc 4096, fwd_cnt 0: nothing
 * consumed) the device never sends more than 4096 payload bytes. The device and driver must settle (no livelock).
 */
import { LoopbackTransport } from '../transport/loopback.js';
import { isVirtioError } from '../virtio/index.js';
import { VsockDevice } from '../vsock/device.js';
import { isVsockError } from '../vsock/errors.js';
import { VsockOp } from '../vsock/constants.js';
import type { VsockHeader } from '../vsock/header.js';
import type { VsockSocket } from '../vsock/socket.js';
import { RawVsockDriver } from './vsock-driver.js';
import type { Prng } from './prng.js';
import { bump } from './report.js';
import { finding, type FuzzContext, type FuzzTarget } from './target.js';

export const VSOCK_MUTATIONS = ['none', 'bad-op', 'bad-type', 'len-beyond-buffer', 'len-huge', 'control-payload', 'credit-junk', 'foreign-cid', 'cut-header', 'short-chain', 'rx-odd-size', 'transport-reset', 'ring-scribble'] as const;

const HONEST_BUF_ALLOC = 4096;
const GUEST_CID = 3;
const LISTEN_PORTS = [100, 101];

function runCase(rng: Prng, ctx: FuzzContext, steps: number): void {
  const device = new VsockDevice({ guestCid: GUEST_CID, bufAlloc: rng.pick([1024, 4096, 65536]), maxConnections: rng.range(1, 8), maxPendingRst: rng.range(1, 16), schedule: () => {} });
  const driver = new RawVsockDriver({ packed: rng.chance(0.5), queueSize: rng.pick([8, 16, 64]), rxBuffers: rng.range(0, 8), rxBufferBytes: rng.pick([44, 100, 4140]) });
  let lb: LoopbackTransport;
  try {
    lb = new LoopbackTransport(driver, device);
  } catch (e) {
    finding(ctx, 'crash', `setting up the loopback threw ${(e as Error).message}`);
    return;
  }
  // echo servers, read synchronously (the run has no event loop turns): make the device send data back within the credit
  const accepted: VsockSocket[] = [];
  const echo = (): void => {
    for (const s of accepted) {
      if (s.destroyed) continue;
      for (let d = s.read() as Buffer | null; d !== null; d = s.read() as Buffer | null) s.write(d);
    }
  };
  for (const port of LISTEN_PORTS) {
    device
      .createServer((s) => {
        s.on('error', () => {});
        accepted.push(s);
      })
      .listen(port);
  }
  const tainted = new Set<string>();
  const rwBytes = new Map<string, number>();
  const mem = lb.memory;
  const tx = driver.txRange;
  let seen = 0;
  let broken = false;
  // a scribbled descriptor may legitimately point a writable buffer anywhere in memory, the tx area included
  let scribbled = false;
  // rx buffers of odd sizes may overlap each other, so a later packet can overwrite an earlier one before it is read
  let oddRx = false;

  const deviceCall = (what: string, op: () => void): void => {
    const before = Buffer.from(mem.bytes(tx.base, tx.size));
    ctx.report.states++;
    try {
      op();
    } catch (e) {
      if (isVirtioError(e) && e.message.includes('did not settle')) finding(ctx, 'hang', `${what}: the device and driver kept exchanging packets`);
      if (isVirtioError(e) || isVsockError(e)) {
        bump(ctx.report.errorsByCode, e.code);
        broken = true;
      } else finding(ctx, 'crash', `${what} threw ${(e as Error).name}: ${(e as Error).message}`);
    }
    ctx.tick();
    try {
      echo();
      device.poll();
    } catch (e) {
      if (isVirtioError(e) || isVsockError(e)) {
        bump(ctx.report.errorsByCode, e.code);
        broken = true;
      } else finding(ctx, 'crash', `echo after ${what} threw ${(e as Error).name}: ${(e as Error).message}`);
    }
    if (!scribbled && !before.equals(mem.bytes(tx.base, tx.size))) finding(ctx, 'violation', `${what}: the device wrote into the driver's tx buffers`);
    for (; seen < driver.received.length; seen++) {
      const p = driver.received[seen]!;
      if (scribbled || oddRx) continue;
      if (p.h.srcCid !== 2 || p.h.dstCid !== device.guestCid) finding(ctx, 'violation', `device sent a packet from CID ${p.h.srcCid} to CID ${p.h.dstCid}`);
      if (p.h.len > p.usedLen - 44) finding(ctx, 'violation', `device packet len ${p.h.len} exceeds its used.len ${p.usedLen}`);
      if (p.h.op === VsockOp.RW) {
        const key = `${p.h.dstPort}:${p.h.srcPort}`;
        const n = (rwBytes.get(key) ?? 0) + p.h.len;
        rwBytes.set(key, n);
        if (!tainted.has(key) && n > HONEST_BUF_ALLOC) finding(ctx, 'violation', `device sent ${n} bytes on ${key}, beyond the ${HONEST_BUF_ALLOC}-byte credit`);
      }
    }
  };

  for (let step = 0; step < steps && !broken; step++) {
    ctx.step = step;
    const mutation = rng.pick(VSOCK_MUTATIONS);
    bump(ctx.report.mutations, `vsock:${mutation}`);
    const srcPort = rng.range(2000, 2003);
    const dstPort = rng.pick([...LISTEN_PORTS, 102]);
    const key = `${srcPort}:${dstPort}`;
    const op = rng.chance(0.3) ? VsockOp.REQUEST : rng.pick([VsockOp.RW, VsockOp.RW, VsockOp.RW, VsockOp.SHUTDOWN, VsockOp.RST, VsockOp.CREDIT_UPDATE, VsockOp.CREDIT_REQUEST, VsockOp.RESPONSE]);
    const payloadLen = op === VsockOp.RW ? rng.range(0, 2048) : 0;
    const h: VsockHeader = { srcCid: GUEST_CID, dstCid: 2, srcPort, dstPort, len: payloadLen, type: 1, op, flags: op === VsockOp.SHUTDOWN ? rng.range(0, 3) : 0, bufAlloc: HONEST_BUF_ALLOC, fwdCnt: 0 };
    let payload = new Uint8Array(payloadLen);
    for (let i = 0; i < payloadLen; i += 64) payload[i] = rng.u32() & 0xff;
    let cuts: number[] = [];
    try {
      switch (mutation) {
        case 'bad-op':
          h.op = rng.pick([0, 8, 9, 0xffff]);
          break;
        case 'bad-type':
          h.type = rng.pick([0, 2, 3, 0xffff]);
          break;
        case 'len-beyond-buffer':
          h.len = payloadLen + rng.range(1, 5000);
          break;
        case 'len-huge':
          h.len = rng.pick([65537, 0x7fffffff, 0xffffffff]);
          break;
        case 'control-payload':
          h.op = VsockOp.SHUTDOWN;
          h.len = 8;
          payload = new Uint8Array(8);
          break;
        case 'credit-junk':
          h.bufAlloc = rng.u32() >>> 0;
          h.fwdCnt = rng.u32() >>> 0;
          tainted.add(key);
          break;
        case 'foreign-cid':
          if (rng.chance(0.5)) h.srcCid = rng.range(4, 1000);
          else h.dstCid = rng.range(3, 1000);
          break;
        case 'cut-header':
          cuts = [rng.range(1, 43), rng.range(1, 60), rng.range(1, 200)];
          break;
        case 'short-chain':
          driver.sendRaw(new Uint8Array(rng.range(1, 43)));
          deviceCall('poll after a short chain', () => lb.settle(200));
          continue;
        case 'rx-odd-size':
          oddRx = true;
          driver.postRx(mem.regions[0]!.base + mem.regions[0]!.size - 4096 + rng.range(0, 1000), rng.range(1, 2000));
          driver.rxq.kick();
          deviceCall('poll after an odd rx buffer', () => lb.settle(200));
          continue;
        case 'transport-reset':
          deviceCall('transportReset', () => device.transportReset());
          deviceCall('poll after transport reset', () => lb.settle(200));
          continue;
        case 'ring-scribble': {
          // any word of the first rings' area: descriptors, indices, flags
          const r0 = mem.regions[0]!;
          const at = r0.base + (rng.int(Math.min(r0.size, 3 * 4096)) & ~3);
          mem.write32(at, rng.u32());
          scribbled = true;
          deviceCall('poll after a ring scribble', () => device.poll());
          continue;
        }
        default:
          break;
      }
      driver.send(h, payload, cuts);
    } catch (e) {
      // the raw driver itself ran out of ring slots: not the device's business
      if (isVirtioError(e)) continue;
      throw e;
    }
    deviceCall(`poll after ${mutation}`, () => lb.settle(200));
  }
  try {
    lb.settle(200);
  } catch {
    // a ring broken in the last step
  }
}

export const vsockTarget: FuzzTarget = {
  name: 'vsock',
  run(rng, ctx, steps) {
    runCase(rng, ctx, steps);
  },
};
