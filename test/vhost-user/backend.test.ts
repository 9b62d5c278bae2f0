import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { vhostNativeAvailable } from '../../src/host/native-vhost.js';
import {
  decodeU64,
  decodeVringState,
  encodeConfig,
  encodeMemTable,
  encodeMessage,
  encodeU64,
  encodeVringAddr,
  encodeVringState,
  FLAG_NEED_REPLY,
  ProtocolFeature,
  protocolBit,
  Req,
  VhostUserBackend,
  VhostUserErrorCode,
  type VhostUserError,
  VRING_NOFD_MASK,
  BackendReq,
  MessageReader,
} from '../../src/vhost-user/index.js';
import { SplitVirtqueueDriver } from '../../src/virtio/split/driver.js';
import { splitLegacyLayout } from '../../src/virtio/split/layout.js';
import { bit, VirtioFeature } from '../../src/virtio/features.js';
import { EchoConsoleDevice } from './echo-console-device.js';
import { FakeFrontEnd, GuestMemoryFile } from './front-end.js';

const skip = vhostNativeAvailable() ? undefined : 'the native addon (ABI 3) is not built';
if (skip !== undefined) console.log(`skipping vhost-user back-end tests: ${skip}`);

const GPA = 0x4000_0000;
const UADDR = 0x7f00_0000_0000; // the front-end's user address of the same memory
const MEM = 0x10_0000;
const N = 8;
const ACK = 1 | FLAG_NEED_REPLY;

describe.skipIf(skip !== undefined)('vhost-user back-end against a scripted front-end', () => {
  let device: EchoConsoleDevice;
  let backend: VhostUserBackend;
  let fe: FakeFrontEnd;
  let errors: VhostUserError[];
  let guest: GuestMemoryFile | undefined;
  const extraFds: number[] = [];

  beforeEach(() => {
    device = new EchoConsoleDevice();
    backend = new VhostUserBackend(device, { withheldFeatures: bit(VirtioFeature.RING_PACKED) });
    errors = [];
    backend.onError((e) => errors.push(e));
    fe = new FakeFrontEnd();
    backend.attach(fe.backendEnd);
  });
  afterEach(() => {
    backend.detach();
    fe.close();
    guest?.close();
    guest = undefined;
    for (const f of extraFds.splice(0)) fe.native.closeFd(f);
  });

  async function ask(request: number, payload?: Uint8Array, fds: number[] = [], flags = 1) {
    fe.send(request, payload, fds, flags);
    const r = await fe.next();
    if (r === 'eof') throw new Error('back-end closed the connection');
    expect(r.flags).toBe(0x5); // version 1 + REPLY, as Linux UML insists
    expect(r.request).toBe(request);
    return r;
  }

  it('negotiates: features with PROTOCOL_FEATURES, protocol features, queue count, config', async () => {
    const f = decodeU64((await ask(Req.GET_FEATURES)).payload);
    expect(f).toBe(device.deviceFeatures & ~bit(VirtioFeature.RING_PACKED) | (1n << 30n));
    const p = decodeU64((await ask(Req.GET_PROTOCOL_FEATURES)).payload);
    for (const b of [ProtocolFeature.MQ, ProtocolFeature.REPLY_ACK, ProtocolFeature.BACKEND_REQ, ProtocolFeature.CONFIG]) expect(p & protocolBit(b)).not.toBe(0n);
    expect(p & protocolBit(ProtocolFeature.INBAND_NOTIFICATIONS)).toBe(0n);
    expect(decodeU64((await ask(Req.GET_QUEUE_NUM)).payload)).toBe(2n);
    const c = await ask(Req.GET_CONFIG, encodeConfig(0, new Uint8Array(12)));
    expect(c.payload.length).toBe(24);
    // REPLY_ACK: a request with NEED_REPLY gets u64 0 once negotiated
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolBit(ProtocolFeature.REPLY_ACK)));
    expect(decodeU64((await ask(Req.SET_OWNER, undefined, [], ACK)).payload)).toBe(0n);
    expect(errors).toEqual([]);
  });

  async function setUp(opts: { kick: boolean } = { kick: true }) {
    guest = new GuestMemoryFile(fe.native, GPA, MEM);
    fe.send(Req.SET_FEATURES, encodeU64(bit(VirtioFeature.VERSION_1) | (1n << 30n)));
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolBit(ProtocolFeature.REPLY_ACK)));
    fe.send(Req.SET_MEM_TABLE, encodeMemTable([{ guestAddr: BigInt(GPA), size: BigInt(MEM), userAddr: BigInt(UADDR), mmapOffset: 0n }], 8), [guest.fd]);
    const queues = [0, 1].map((i) => {
      const l = splitLegacyLayout(GPA + i * 0x4000, N, 4096);
      const drv = new SplitVirtqueueDriver<number>(guest!.memory, N, l);
      const kick = fe.native.eventFd();
      const call = fe.native.eventFd();
      extraFds.push(kick, call);
      fe.send(Req.SET_VRING_NUM, encodeVringState(i, N));
      fe.send(Req.SET_VRING_BASE, encodeVringState(i, 0));
      const u = (g: number) => BigInt(g - GPA + UADDR);
      fe.send(Req.SET_VRING_ADDR, encodeVringAddr({ index: i, desc: u(l.desc), used: u(l.used), avail: u(l.avail) }));
      fe.send(Req.SET_VRING_CALL, encodeU64(BigInt(i)), [call]);
      return { drv, kick, call };
    });
    if (opts.kick) {
      for (const i of [0, 1]) {
        fe.send(Req.SET_VRING_KICK, encodeU64(BigInt(i)), [queues[i]!.kick]);
        expect(decodeU64((await ask(Req.SET_VRING_ENABLE, encodeVringState(i, 1), [], ACK)).payload)).toBe(0n);
      }
    }
    return queues;
  }

  async function waitFor(cond: () => boolean, what: string) {
    for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(cond(), what).toBe(true);
  }

  it('serves the device: the translated split rings carry bytes both ways, kicks and calls through eventfds', async () => {
    const q = await setUp();
    expect(backend.deviceActive).toBe(true);
    expect(device.activations).toBe(1);
    const mem = guest!.memory;
    const rxBuf = GPA + 0x10000;
    const txBuf = GPA + 0x11000;
    q[0]!.drv.addBuffer(rxBuf, 256, true, 1);
    q[0]!.drv.kick();
    fe.native.writeU64(q[0]!.kick, 1);
    mem.write(txBuf, new TextEncoder().encode('ping over vhost-user'));
    q[1]!.drv.addBuffer(txBuf, 20, false, 2);
    q[1]!.drv.kick();
    fe.native.writeU64(q[1]!.kick, 1);
    await waitFor(() => q[0]!.drv.hasUsed(), 'rx buffer used');
    expect(q[0]!.drv.popUsed()).toBe(1);
    const n = q[0]!.drv.lastUsedLen;
    expect(new TextDecoder().decode(mem.bytes(rxBuf, n))).toBe('ping over vhost-user');
    expect(fe.native.drainFd(q[0]!.call)).toBe(8); // the call eventfd was signalled
    expect(q[1]!.drv.popUsed()).toBe(2);
    // GET_VRING_BASE stops the ring and returns the next avail index (1 chain consumed)
    const st = decodeVringState((await ask(Req.GET_VRING_BASE, encodeVringState(1, 0))).payload);
    expect(st).toEqual({ index: 1, num: 1 });
    expect(backend.deviceActive).toBe(false);
    expect(device.resets).toBe(1);
    expect(errors).toEqual([]);
  });

  it('refuses a vring outside every region with a typed error and a non-zero ack, and keeps serving', async () => {
    await setUp({ kick: false });
    const r = await ask(Req.SET_VRING_ADDR, encodeVringAddr({ index: 0, desc: BigInt(UADDR + MEM - 64), used: BigInt(UADDR), avail: BigInt(UADDR) }), [], ACK);
    expect(decodeU64(r.payload)).toBe(1n);
    expect(errors.map((e) => e.code)).toEqual([VhostUserErrorCode.VRING_ADDR_UNMAPPED]);
    expect(decodeU64((await ask(Req.GET_QUEUE_NUM)).payload)).toBe(2n);
  });

  it('refuses queue sizes that are not powers of two or above the device maximum', async () => {
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolBit(ProtocolFeature.REPLY_ACK)));
    for (const num of [0, 3, 512, 65536]) {
      expect(decodeU64((await ask(Req.SET_VRING_NUM, encodeVringState(0, num), [], ACK)).payload)).toBe(1n);
    }
    expect(decodeU64((await ask(Req.SET_VRING_NUM, encodeVringState(5, 8), [], ACK)).payload)).toBe(1n);
    expect(errors.map((e) => e.code)).toEqual([...Array(4).fill(VhostUserErrorCode.BAD_QUEUE_SIZE), VhostUserErrorCode.BAD_QUEUE_INDEX]);
  });

  it('refuses a memory region that runs past the end of its file', async () => {
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolBit(ProtocolFeature.REPLY_ACK)));
    guest = new GuestMemoryFile(fe.native, GPA, MEM);
    const r = await ask(Req.SET_MEM_TABLE, encodeMemTable([{ guestAddr: BigInt(GPA), size: BigInt(MEM), userAddr: 0n, mmapOffset: 4096n }]), [guest.fd], ACK);
    expect(decodeU64(r.payload)).toBe(1n);
    expect(errors[0]?.code).toBe(VhostUserErrorCode.REGION_MAP_FAILED);
  });

  it('refuses overlapping regions before mapping anything', async () => {
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolBit(ProtocolFeature.REPLY_ACK)));
    guest = new GuestMemoryFile(fe.native, GPA, MEM);
    const regs = [0, 1].map(() => ({ guestAddr: BigInt(GPA), size: 4096n, userAddr: 0n, mmapOffset: 0n }));
    const r = await ask(Req.SET_MEM_TABLE, encodeMemTable(regs), [guest.fd, guest.fd], ACK);
    expect(decodeU64(r.payload)).toBe(1n);
    expect(errors[0]?.code).toBe(VhostUserErrorCode.BAD_MEM_TABLE);
  });

  const closing: [string, () => Uint8Array, number[] | (() => number[]), string][] = [
    ['a header with version 2', () => encodeMessage(Req.GET_FEATURES, 2), [], VhostUserErrorCode.BAD_HEADER],
    ['a header with the REPLY flag', () => encodeMessage(Req.GET_FEATURES, 5), [], VhostUserErrorCode.BAD_HEADER],
    ['an oversized payload', () => encodeMessage(Req.SET_FEATURES, 1, new Uint8Array(8192)), [], VhostUserErrorCode.PAYLOAD_TOO_LARGE],
    ['a truncated SET_FEATURES', () => encodeMessage(Req.SET_FEATURES, 1, new Uint8Array(4)), [], VhostUserErrorCode.BAD_PAYLOAD_SIZE],
    ['an unknown request', () => encodeMessage(99, 1), [], VhostUserErrorCode.UNSUPPORTED_REQUEST],
    ['SET_VRING_KICK without its fd', () => encodeMessage(Req.SET_VRING_KICK, 1, encodeU64(0n)), [], VhostUserErrorCode.MISSING_FD],
    ['SET_VRING_CALL "no fd" with an fd', () => encodeMessage(Req.SET_VRING_CALL, 1, encodeU64(BigInt(VRING_NOFD_MASK))), () => [fe.native.eventFd()], VhostUserErrorCode.UNEXPECTED_FD],
  ];
  for (const [what, bytes, fds, code] of closing) {
    it(`closes the connection on ${what} (${code}) and serves the next front-end`, async () => {
      const list = typeof fds === 'function' ? fds() : fds;
      extraFds.push(...list);
      fe.sendRaw(bytes(), list);
      expect(await fe.next()).toBe('eof');
      expect(errors.map((e) => e.code)).toEqual([code]);
      expect(backend.connected).toBe(false);
      const fe2 = new FakeFrontEnd();
      try {
        backend.attach(fe2.backendEnd);
        fe2.send(Req.GET_QUEUE_NUM);
        const r = await fe2.next();
        expect(r !== 'eof' && decodeU64(r.payload)).toBe(2n);
      } finally {
        backend.detach();
        fe2.close();
      }
    });
  }

  it('acks the SET_PROTOCOL_FEATURES that turns REPLY_ACK on (Linux virtio_uml asks for and waits for that ack)', async () => {
    const r = await ask(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolBit(ProtocolFeature.REPLY_ACK) | protocolBit(ProtocolFeature.BACKEND_REQ)), [], ACK);
    expect(decodeU64(r.payload)).toBe(0n);
    expect(backend.lastSession.protocolFeatures).toBe(protocolBit(ProtocolFeature.REPLY_ACK) | protocolBit(ProtocolFeature.BACKEND_REQ));
    expect(errors).toEqual([]);
  });

  it('in-band notifications: rings start on SET_VRING_ENABLE without SET_VRING_KICK (as virtio_uml sets them up), VRING_KICK in, BACKEND VRING_CALL out', async () => {
    backend.detach();
    fe.close();
    backend = new VhostUserBackend(device, { withheldFeatures: bit(VirtioFeature.RING_PACKED), inband: true });
    backend.onError((e) => errors.push(e));
    fe = new FakeFrontEnd();
    backend.attach(fe.backendEnd);
    const p = decodeU64((await ask(Req.GET_PROTOCOL_FEATURES)).payload);
    expect(p & protocolBit(ProtocolFeature.INBAND_NOTIFICATIONS)).not.toBe(0n);
    const [ours, theirs] = fe.native.socketPair();
    extraFds.push(ours);
    fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(protocolBit(ProtocolFeature.REPLY_ACK) | protocolBit(ProtocolFeature.BACKEND_REQ) | protocolBit(ProtocolFeature.INBAND_NOTIFICATIONS)));
    fe.send(Req.SET_BACKEND_REQ_FD, undefined, [theirs]);
    fe.native.closeFd(theirs);
    guest = new GuestMemoryFile(fe.native, GPA, MEM);
    fe.send(Req.SET_FEATURES, encodeU64(bit(VirtioFeature.VERSION_1) | (1n << 30n)));
    fe.send(Req.SET_MEM_TABLE, encodeMemTable([{ guestAddr: BigInt(GPA), size: BigInt(MEM), userAddr: BigInt(UADDR), mmapOffset: 0n }], 8), [guest.fd]);
    const drv = [0, 1].map((i) => {
      const l = splitLegacyLayout(GPA + i * 0x4000, N, 4096);
      fe.send(Req.SET_VRING_NUM, encodeVringState(i, N));
      fe.send(Req.SET_VRING_BASE, encodeVringState(i, 0));
      const u = (g: number) => BigInt(g - GPA + UADDR);
      fe.send(Req.SET_VRING_ADDR, encodeVringAddr({ index: i, desc: u(l.desc), used: u(l.used), avail: u(l.avail) }));
      return new SplitVirtqueueDriver<number>(guest!.memory, N, l);
    });
    for (const i of [0, 1]) expect(decodeU64((await ask(Req.SET_VRING_ENABLE, encodeVringState(i, 1), [], ACK)).payload)).toBe(0n);
    expect(backend.deviceActive).toBe(true);
    const mem = guest.memory;
    drv[0]!.addBuffer(GPA + 0x10000, 64, true, 1);
    drv[0]!.kick();
    mem.write(GPA + 0x11000, new TextEncoder().encode('in-band'));
    drv[1]!.addBuffer(GPA + 0x11000, 7, false, 2);
    drv[1]!.kick();
    fe.send(Req.VRING_KICK, encodeVringState(0, 0));
    expect(decodeU64((await ask(Req.VRING_KICK, encodeVringState(1, 0), [], ACK)).payload)).toBe(0n);
    await waitFor(() => drv[0]!.hasUsed(), 'rx buffer used');
    expect(drv[0]!.popUsed()).toBe(1);
    expect(new TextDecoder().decode(mem.bytes(GPA + 0x10000, drv[0]!.lastUsedLen))).toBe('in-band');
    // the used-buffer notifications arrived as BACKEND VRING_CALL messages (request 4) on the back-end channel
    const calls: number[] = [];
    const reader = new MessageReader(fe.native, ours);
    await waitFor(() => {
      reader.read((m) => (calls.push(m.request * 256 + decodeVringState(m.payload).index), true));
      return calls.length >= 1;
    }, 'a call message');
    expect(calls.every((c) => c >> 8 === BackendReq.VRING_CALL)).toBe(true);
    expect(calls.map((c) => c & 0xff)).toContain(0);
    expect(errors).toEqual([]);
  });

  it('a front-end that disconnects leaves a clean device for the next one', async () => {
    await setUp();
    expect(backend.deviceActive).toBe(true);
    fe.close();
    await waitFor(() => !backend.connected, 'disconnect seen');
    expect(backend.deviceActive).toBe(false);
    expect(device.resets).toBe(1);
    const fe2 = new FakeFrontEnd();
    try {
      backend.attach(fe2.backendEnd);
      fe2.send(Req.GET_FEATURES);
      const r = await fe2.next();
      expect(r).not.toBe('eof');
      expect(backend.negotiatedFeatures).toBeUndefined();
    } finally {
      backend.detach();
      fe2.close();
    }
  });
});
