/**
 * SEQPACKET (VIRTIO_VSOCK_F_SEQPACKET, type 2): negotiation, wire bytes, message boundaries over the loopback
 * transport in both directions, the SEQ_EOM / SEQ_EOR flags on the wire, byte credit, and a hostile driver's
 * messages (never ended, of the wrong type, beyond the credit).
 */
import { describe, expect, it } from 'vitest';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { features } from '../../src/virtio/index.js';
import { RawVsockDriver } from '../../src/fuzz/vsock-driver.js';
import {
  encodeVsockHeader,
  VIRTIO_VSOCK_F_SEQPACKET,
  VsockDevice,
  VsockErrorCode,
  VsockOp,
  VsockType,
  VSOCK_SEQ_EOM,
  VSOCK_SEQ_EOR,
  type VsockHeader,
  type VsockSocket,
} from '../../src/vsock/index.js';
import { makePair, pattern, run } from './helpers.js';

const SEQ = features(VIRTIO_VSOCK_F_SEQPACKET);

/** Connects a SEQPACKET socket from the driver to a device server on port 7; returns both ends once open. */
async function seqPair(opts: Parameters<typeof makePair>[0] = {}) {
  const p = makePair(opts);
  let server: VsockSocket | undefined;
  p.device.createServer((s) => (server = s), { seqpacket: true }).listen(7);
  const client = p.driver.connect(7, undefined, { seqpacket: true });
  await run(p, () => server !== undefined && client.connected);
  return { ...p, client, server: server! };
}

function collect(s: VsockSocket): Buffer[] {
  const got: Buffer[] = [];
  s.on('data', (m: Buffer) => got.push(m));
  return got;
}

describe('vsock SEQPACKET', () => {
  it('header byte vector: an RW of type SEQPACKET that ends a message and a record', () => {
    const h: VsockHeader = { srcCid: 3, dstCid: 2, srcPort: 1024, dstPort: 7, len: 5, type: VsockType.SEQPACKET, op: VsockOp.RW, flags: VSOCK_SEQ_EOM | VSOCK_SEQ_EOR, bufAlloc: 0x40000, fwdCnt: 9 };
    expect(Buffer.from(encodeVsockHeader(h)).toString('hex')).toBe(
      '0300000000000000' + '0200000000000000' + '00040000' + '07000000' + '05000000' + '0200' + '0500' + '03000000' + '00000400' + '09000000',
    );
  });

  it('the device offers VIRTIO_VSOCK_F_SEQPACKET and the driver accepts it; either side can refuse it', () => {
    expect(new VsockDevice().deviceFeatures & SEQ).toBe(SEQ);
    expect(new VsockDevice({ seqpacket: false }).deviceFeatures & SEQ).toBe(0n);
    const on = makePair();
    expect(on.lb.features & SEQ).toBe(SEQ);
    expect(on.driver.endpoint.seqpacket && on.device.endpoint.seqpacket).toBe(true);
    for (const off of [makePair({ driver: { seqpacket: false } }), makePair({ device: { seqpacket: false } })]) {
      expect(off.lb.features & SEQ).toBe(0n);
      expect(() => off.driver.connect(7, undefined, { seqpacket: true })).toThrow(expect.objectContaining({ code: VsockErrorCode.NOT_NEGOTIATED }));
      expect(() => off.device.createServer(undefined, { seqpacket: true })).toThrow(expect.objectContaining({ code: VsockErrorCode.NOT_NEGOTIATED }));
    }
  });

  it('messages arrive whole and in order both ways, from 1 byte to several packets and several credit windows', async () => {
    const p = await seqPair({ device: { bufAlloc: 64 * 1024 }, driver: { bufAlloc: 64 * 1024 } });
    const sizes = [1, 44, 4095, 4096, 4097, 12_345, 65_536, 3, 40_000];
    const toDevice = collect(p.server);
    const toDriver = collect(p.client);
    sizes.forEach((n, i) => p.client.write(pattern(i, 0, n)));
    sizes.forEach((n, i) => p.server.write(pattern(100 + i, 0, n)));
    await run(p, () => toDevice.length === sizes.length && toDriver.length === sizes.length);
    expect(toDevice.map((m) => m.length)).toEqual(sizes);
    expect(toDriver.map((m) => m.length)).toEqual(sizes);
    sizes.forEach((n, i) => {
      expect(toDevice[i]!.equals(pattern(i, 0, n))).toBe(true);
      expect(toDriver[i]!.equals(pattern(100 + i, 0, n))).toBe(true);
    });
    // device → driver messages above 4096 bytes were split over the driver's 4 KiB rx buffers, and still whole
    expect(p.device.endpoint.stats.packetsOut).toBeGreaterThan(sizes.length + 10);
    expect(p.device.endpoint.stats.messagesOut).toBe(sizes.length);
    expect(p.driver.endpoint.stats.messagesIn).toBe(sizes.length);
    expect(p.device.endpoint.stats.dropped).toEqual({});
    expect(p.driver.endpoint.stats.dropped).toEqual({});
  });

  it('read() in paused mode returns one message at a time, and taking them opens the window (credit in bytes)', async () => {
    const p = await seqPair({ device: { bufAlloc: 16 * 1024 } });
    const n = 12;
    for (let i = 0; i < n; i++) p.client.write(pattern(i, 0, 6000));
    // 16 KiB of window holds two 6000-byte messages and part of a third: the writer stalls until the reader takes some
    await run(p);
    expect(p.server.readableLength).toBe(2);
    expect(p.driver.endpoint.stats.bytesOut).toBeLessThanOrEqual(16 * 1024);
    const got: Buffer[] = [];
    await run(p, () => {
      for (let m = p.server.read() as Buffer | null; m !== null; m = p.server.read() as Buffer | null) got.push(m);
      return got.length === n;
    });
    got.forEach((m, i) => expect(m.equals(pattern(i, 0, 6000))).toBe(true));
    expect(p.device.endpoint.stats.dropped).toEqual({});
  });

  it('the end flags go on the last packet of a message only; { data, eor } adds SEQ_EOR', async () => {
    const r = rawSeq();
    r.open();
    r.sock().write({ data: pattern(1, 0, 9000), eor: true });
    r.sock().write(Buffer.from('x'));
    r.lb.settle();
    await tick();
    r.lb.settle();
    const rw = r.driver.received.filter((q) => q.h.op === VsockOp.RW);
    expect(rw.map((q) => [q.h.type, q.h.len, q.h.flags])).toEqual([
      [2, 4096, 0],
      [2, 4096, 0],
      [2, 808, VSOCK_SEQ_EOM | VSOCK_SEQ_EOR],
      [2, 1, VSOCK_SEQ_EOM],
    ]);
  });

  it('zero-copy receive marks the packet that ends each message (the driver sends packets of 4 KiB at most)', async () => {
    const p = await seqPair();
    const ends: [number, boolean][] = [];
    p.server.setZeroCopyReceive((v, end) => ends.push([v.length, end]));
    p.client.write(pattern(0, 0, 100));
    p.client.write(pattern(1, 0, 5000));
    await run(p, () => ends.length >= 3);
    expect(ends).toEqual([
      [100, true],
      [4096, false],
      [904, true],
    ]);
  });

  it('a message larger than the peer buf_alloc fails with VSOCK_ERR_MSG_SIZE and resets the connection', async () => {
    const p = await seqPair({ device: { bufAlloc: 8192 } });
    expect(p.client.maxMessageSize).toBe(8192);
    const errors: string[] = [];
    p.client.on('error', (e: Error & { code?: string }) => errors.push(e.code!));
    let serverClosed = false;
    p.server.on('error', () => {});
    p.server.on('close', () => (serverClosed = true));
    p.server.resume();
    p.client.write(Buffer.alloc(8193));
    await run(p, () => serverClosed);
    expect(errors).toEqual([VsockErrorCode.MSG_SIZE]);
    expect(p.device.endpoint.connections + p.driver.endpoint.connections).toBe(0);
  });

  it('a STREAM REQUEST to a SEQPACKET port is refused (RST), and the other way round', async () => {
    const p = makePair();
    p.device.createServer(() => {}, { seqpacket: true }).listen(7);
    p.device.createServer(() => {}).listen(8);
    const errs: string[] = [];
    const a = p.driver.connect(7);
    const b = p.driver.connect(8, undefined, { seqpacket: true });
    for (const s of [a, b]) s.on('error', (e: Error & { code?: string }) => errs.push(e.code!));
    await run(p, () => errs.length === 2);
    expect(errs).toEqual([VsockErrorCode.CONNECTION_REFUSED, VsockErrorCode.CONNECTION_REFUSED]);
    expect(p.device.endpoint.stats.dropped[VsockErrorCode.BAD_TYPE]).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------------- hostile driver

/** RawVsockDriver that negotiates SEQPACKET too. */
class RawSeqDriver extends RawVsockDriver {
  override negotiate(offered: bigint): bigint {
    return super.negotiate(offered) | (offered & SEQ);
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

function rawSeq(seqpacket = true, bufAlloc?: number) {
  const device = new VsockDevice(bufAlloc ? { bufAlloc } : {});
  const driver = seqpacket ? new RawSeqDriver() : new RawVsockDriver();
  const lb = new LoopbackTransport(driver, device);
  const accepted: VsockSocket[] = [];
  const messages: Buffer[] = [];
  const errors: string[] = [];
  if (seqpacket) {
    device
      .createServer(
        (s) => {
          accepted.push(s);
          s.on('data', (m: Buffer) => messages.push(m));
          s.on('error', (e: Error & { code?: string }) => errors.push(e.code!));
        },
        { seqpacket: true },
      )
      .listen(1000);
  }
  const hdr = (o: Partial<VsockHeader> = {}): VsockHeader => ({ srcCid: 3, dstCid: 2, srcPort: 5000, dstPort: 1000, len: 0, type: VsockType.SEQPACKET, op: VsockOp.REQUEST, flags: 0, bufAlloc: 1 << 20, fwdCnt: 0, ...o });
  return {
    device,
    driver,
    lb,
    accepted,
    messages,
    errors,
    hdr,
    sock: () => accepted[0]!,
    open(): void {
      driver.send(hdr());
      lb.settle();
    },
    rw(data: Uint8Array, flags: number): void {
      driver.send(hdr({ op: VsockOp.RW, len: data.length, flags }), data);
      lb.settle();
    },
  };
}

describe('vsock SEQPACKET against a hostile driver', () => {
  it('type 2 without the feature negotiated: BAD_TYPE and RST', () => {
    const r = rawSeq(false);
    r.driver.send(r.hdr());
    r.lb.settle();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_TYPE]).toBe(1);
    expect(r.driver.received.map((q) => [q.h.op, q.h.type])).toEqual([[VsockOp.RST, 2]]);
  });

  it('a message is delivered only at SEQ_EOM; an empty message is not one; a message never ended is dropped at SHUTDOWN', async () => {
    const r = rawSeq();
    r.open();
    r.rw(Buffer.from('ab'), 0);
    r.rw(Buffer.from('cd'), VSOCK_SEQ_EOM | VSOCK_SEQ_EOR);
    r.rw(new Uint8Array(0), VSOCK_SEQ_EOM);
    r.rw(Buffer.from('ef'), 0);
    await tick();
    expect(r.messages.map((m) => m.toString())).toEqual(['abcd']);
    let ended = false;
    r.sock().on('end', () => (ended = true));
    r.driver.send(r.hdr({ op: VsockOp.SHUTDOWN, flags: 2 }));
    r.lb.settle();
    await tick();
    expect(ended).toBe(true);
    expect(r.messages.map((m) => m.toString())).toEqual(['abcd']);
  });

  it('a packet of the other type for an open connection gets RST and leaves the connection alone', async () => {
    const r = rawSeq();
    r.open();
    r.driver.send(r.hdr({ op: VsockOp.RW, type: VsockType.STREAM, len: 2 }), Buffer.from('zz'));
    r.rw(Buffer.from('ok'), VSOCK_SEQ_EOM);
    await tick();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.BAD_TYPE]).toBe(1);
    expect(r.driver.received.map((q) => [q.h.op, q.h.type])).toEqual([
      [VsockOp.RESPONSE, 2],
      [VsockOp.RST, 1],
    ]);
    expect(r.messages.map((m) => m.toString())).toEqual(['ok']);
    expect(r.device.endpoint.connections).toBe(1);
  });

  it('a message that grows beyond the credit is a credit overflow: RST, the partial message is gone', async () => {
    const r = rawSeq(true, 8192);
    r.open();
    r.sock().pause();
    r.rw(Buffer.alloc(8000), 0);
    r.rw(Buffer.alloc(1000), VSOCK_SEQ_EOM);
    await tick();
    expect(r.device.endpoint.stats.dropped[VsockErrorCode.CREDIT_OVERFLOW]).toBe(1);
    expect(r.errors).toEqual([VsockErrorCode.CREDIT_OVERFLOW]);
    expect(r.messages).toEqual([]);
    expect(r.device.endpoint.connections).toBe(0);
  });
});
