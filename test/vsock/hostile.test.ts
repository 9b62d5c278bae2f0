/**
 * The device (secure side) against a driver that breaks the rules: every violation is counted under its code and
 * answered with RST where a connection is concerned; nothing throws out of the device except the transport's
 * DEVICE_NEEDS_RESET for a broken ring.
 */
import { describe, expect, it } from 'vitest';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { isVirtioError, VirtioErrorCode } from '../../src/virtio/index.js';
import { RawVsockDriver } from '../../src/fuzz/vsock-driver.js';
import { VsockDevice, VsockErrorCode, VsockOp, type VsockDeviceOptions, type VsockSocket } from '../../src/vsock/index.js';
import { guestHeader } from './helpers.js';

function rig(opts: VsockDeviceOptions = {}, raw: ConstructorParameters<typeof RawVsockDriver>[0] = {}) {
  const device = new VsockDevice(opts);
  const driver = new RawVsockDriver(raw);
  const lb = new LoopbackTransport(driver, device);
  const accepted: VsockSocket[] = [];
  const errors: string[] = [];
  device
    .createServer((s) => {
      accepted.push(s);
      s.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
      s.resume();
    })
    .listen(1000);
  return { device, driver, lb, accepted, errors };
}

const hdr = guestHeader;

const ops = (d: RawVsockDriver) => d.received.map((p) => p.h.op);
const flush = () => new Promise<void>((r) => setImmediate(r));

describe('vsock device against a hostile driver', () => {
  it('answers a REQUEST with RESPONSE carrying its credit, then takes data', async () => {
    const r = rig();
    r.driver.send(hdr());
    r.lb.settle();
    expect(r.driver.received[0]!.h).toMatchObject({ op: VsockOp.RESPONSE, srcCid: 2, dstCid: 3, srcPort: 1000, dstPort: 5000, bufAlloc: 256 * 1024 });
    r.driver.send(hdr({ op: VsockOp.RW, len: 5 }), Buffer.from('hello'));
    r.lb.settle();
    let got = '';
    r.accepted[0]!.on('data', (d: Buffer) => (got += d.toString()));
    await flush();
    expect(got).toBe('hello');
  });

  it('bad op: counted as BAD_OP and answered with RST', () => {
    const r = rig();
    r.driver.send(hdr({ op: 99 }));
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_OP]).toBe(1);
    expect(ops(r.driver)).toEqual([VsockOp.RST]);
  });

  it('bad type: counted as BAD_TYPE and answered with RST of the same type; an RST of a bad type is not answered', () => {
    const r = rig();
    r.driver.send(hdr({ type: 7 }));
    r.driver.send(hdr({ type: 7, op: VsockOp.RST }));
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_TYPE]).toBe(2);
    expect(r.driver.received.map((p) => [p.h.op, p.h.type])).toEqual([[VsockOp.RST, 7]]);
  });

  it('len larger than the buffer, or above 64 KiB: BAD_LEN, the connection is reset', () => {
    const r = rig();
    r.driver.send(hdr());
    r.lb.settle();
    r.driver.send(hdr({ op: VsockOp.RW, len: 100 }), Buffer.alloc(10));
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_LEN]).toBe(1);
    expect(ops(r.driver)).toEqual([VsockOp.RESPONSE, VsockOp.RST]);
    expect(r.device.endpoint.connections).toBe(0);
    r.driver.send(hdr({ op: VsockOp.RW, len: 70_000 }), Buffer.alloc(70_000));
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_LEN]).toBe(2);
  });

  it('a control op with a payload: BAD_LEN', () => {
    const r = rig();
    r.driver.send(hdr({ len: 4 }), Buffer.alloc(4));
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_LEN]).toBe(1);
    expect(r.device.endpoint.connections).toBe(0);
  });

  it('credit overflow: data beyond the advertised buf_alloc resets the connection and errors the socket', async () => {
    const r = rig({ bufAlloc: 8192 });
    r.driver.send(hdr());
    r.lb.settle();
    r.accepted[0]!.pause();
    r.driver.send(hdr({ op: VsockOp.RW, len: 8000 }), Buffer.alloc(8000));
    r.driver.send(hdr({ op: VsockOp.RW, len: 1000 }), Buffer.alloc(1000));
    r.lb.settle();
    await flush();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.CREDIT_OVERFLOW]).toBe(1);
    expect(ops(r.driver)).toEqual([VsockOp.RESPONSE, VsockOp.RST]);
    expect(r.errors).toEqual([VsockErrorCode.CREDIT_OVERFLOW]);
  });

  it('fwd_cnt acknowledging bytes never sent: BAD_CREDIT and RST', () => {
    const r = rig();
    r.driver.send(hdr());
    r.lb.settle();
    r.driver.send(hdr({ op: VsockOp.CREDIT_UPDATE, fwdCnt: 10 }));
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_CREDIT]).toBe(1);
    expect(ops(r.driver)).toEqual([VsockOp.RESPONSE, VsockOp.RST]);
  });

  it('packets for unknown ports or closed connections get RST; an RST for nothing gets nothing', () => {
    const r = rig();
    r.driver.send(hdr({ dstPort: 1001 }));
    r.driver.send(hdr({ op: VsockOp.RW, len: 1 }), Buffer.alloc(1));
    r.driver.send(hdr({ op: VsockOp.RST }));
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.NO_SOCKET]).toBe(2);
    expect(ops(r.driver)).toEqual([VsockOp.RST, VsockOp.RST]);
  });

  it('a packet from another CID is dropped without an answer', () => {
    const r = rig();
    r.driver.send(hdr({ srcCid: 4 }));
    r.driver.send(hdr({ dstCid: 5 }));
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_CID]).toBe(2);
    expect(r.driver.received).toEqual([]);
  });

  it('accepts a packet cut at any byte across descriptors (§5.10.6: no framing assumptions)', async () => {
    const r = rig();
    r.driver.send(hdr(), undefined, [1, 17, 43]);
    r.lb.settle();
    r.driver.send(hdr({ op: VsockOp.RW, len: 6 }), Buffer.from('abcdef'), [20, 44, 46]);
    r.lb.settle();
    let got = '';
    r.accepted[0]!.on('data', (d: Buffer) => (got += d.toString()));
    await flush();
    expect(got).toBe('abcdef');
    expect(r.device.endpoint.stats.dropped).toEqual({});
  });

  it('a tx chain shorter than a header and an rx buffer too small are counted as BAD_BUFFER', () => {
    const r = rig({}, { rxBuffers: 0 });
    r.driver.sendRaw(new Uint8Array(30));
    r.driver.postRx(r.driver.a.pool.base, 20);
    r.driver.rxq.kick();
    r.driver.postRx(r.driver.a.pool.base + 64, 4140);
    r.driver.rxq.kick();
    r.driver.send(hdr({ dstPort: 1234 }));
    r.lb.settle();
    expect(r.device.stats.badBuffers).toBe(2);
    expect(r.driver.shortRx).toEqual([0]);
    expect(ops(r.driver)).toEqual([VsockOp.RST]);
  });

  it('the connection table is bounded: REQUESTs beyond maxConnections get RST', () => {
    const r = rig({ maxConnections: 2 });
    for (let p = 0; p < 3; p++) r.driver.send(hdr({ srcPort: 6000 + p }));
    r.lb.settle();
    expect(ops(r.driver).sort()).toEqual([VsockOp.RESPONSE, VsockOp.RESPONSE, VsockOp.RST]);
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.TOO_MANY_CONNECTIONS]).toBe(1);
    expect(r.device.endpoint.connections).toBe(2);
  });

  it('RST replies waiting for rx buffers are bounded', () => {
    const r = rig({ maxPendingRst: 8 }, { rxBuffers: 0, queueSize: 256 });
    for (let i = 0; i < 40; i++) r.driver.send(hdr({ op: 42 }));
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_OP]).toBe(40);
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.TOO_MANY_CONNECTIONS]).toBe(32);
    for (let i = 0; i < 16; i++) r.driver.postRx(r.driver.a.pool.base + i * 64, 64);
    r.driver.rxq.kick();
    r.lb.settle();
    expect(ops(r.driver)).toEqual(Array(8).fill(VsockOp.RST));
  });

  it('a descriptor pointing outside memory breaks the ring: DEVICE_NEEDS_RESET, nothing else', () => {
    const r = rig();
    // a valid buffer, whose descriptor the driver then rewrites to point far outside memory
    const head = r.driver.txq.vq.addBuffer(r.driver.place(new Uint8Array(44)), 44, false, 0);
    const desc = (r.driver.txq.vq as unknown as { addrs: { desc: number } }).addrs.desc;
    r.driver.a.memory.write64(desc + head * 16, 0x7000_0000);
    r.driver.txq.kick();
    let err: unknown;
    try {
      r.lb.settle();
    } catch (e) {
      err = e;
    }
    expect(isVirtioError(err, VirtioErrorCode.DEVICE_NEEDS_RESET)).toBe(true);
    expect(r.device.stats.ringErrors).toBe(1);
    expect(r.device.active).toBe(false);
    expect(r.device.poll()).toBe(0);
  });

  it('transportReset() resets every socket and posts TRANSPORT_RESET on the event queue', async () => {
    const r = rig();
    r.driver.send(hdr());
    r.lb.settle();
    r.device.transportReset();
    r.lb.settle();
    await flush();
    expect(r.driver.events).toEqual([0]);
    expect(r.errors).toEqual([VsockErrorCode.TRANSPORT_RESET]);
    expect(r.device.endpoint.connections).toBe(0);
  });
});
