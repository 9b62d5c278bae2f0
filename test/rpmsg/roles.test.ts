import { describe, expect, it } from 'vitest';
import { makePair, startPair, pump, makePayload, checkPayload } from './helpers.js';
import { RPMSG_ADDR_ANY, RpmsgErrorCode, type RpmsgMessage } from '../../src/rpmsg/index.js';

describe('host and remote in one thread', () => {
  it('negotiates features and lets the remote attach only after DRIVER_OK', () => {
    const p = makePair();
    expect(p.remote.poll()).toBe(0);
    expect(p.remote.ready).toBe(false);
    p.host.start();
    expect(p.host.negotiatedFeatures).toBe(p.layout.features);
    p.remote.poll();
    expect(p.remote.ready).toBe(true);
    expect(p.remote.negotiatedFeatures).toBe(p.layout.features);
    expect(p.host.nameService).toBe(true);
    expect(p.remote.nameService).toBe(true);
  });

  it('carries messages both ways with sequence numbers and checksums', () => {
    const p = makePair();
    startPair(p);
    const got: number[] = [];
    const back: number[] = [];
    const r = p.remote.createEndpoint({ addr: 2000, onMessage: (m) => got.push(checkPayload(m.data)) });
    const h = p.host.createEndpoint({ addr: 1500, dst: 2000, onMessage: (m) => back.push(checkPayload(m.data)) });
    for (let i = 0; i < 1000; i++) {
      expect(h.trySend(makePayload(i, 8 + (i % 400)))).toBe(true);
      if (i % 50 === 49) pump(p);
    }
    pump(p);
    expect(got).toEqual([...Array(1000).keys()]);
    // the remote endpoint learnt its peer from the first message
    expect(r.dst).toBe(1500);
    for (let i = 0; i < 600; i++) {
      expect(r.trySend(makePayload(i, 496))).toBe(true);
      if (i % 100 === 99) pump(p);
    }
    pump(p);
    expect(back).toEqual([...Array(600).keys()]);
    expect(p.host.stats.txMessages).toBe(1000);
    expect(p.remote.stats.rxMessages).toBe(1000);
  });

  it('drops and counts a message to an unknown address without failing', () => {
    const p = makePair();
    startPair(p);
    const h = p.host.createEndpoint({ dst: 4242 });
    expect(h.trySend(new Uint8Array([1, 2, 3]))).toBe(true);
    pump(p);
    expect(p.remote.stats.droppedUnknownDst).toBe(1);
    expect(p.remote.ready).toBe(true);
  });

  it('refuses a payload larger than a buffer with a clear error', () => {
    const p = makePair({ bufferSize: 256, numBuffers: 16 });
    startPair(p);
    const h = p.host.createEndpoint({ dst: 3000 });
    expect(() => h.trySend(new Uint8Array(241))).toThrow(RpmsgErrorCode.PAYLOAD_TOO_LARGE);
    expect(h.trySend(new Uint8Array(240))).toBe(true);
    const r = p.remote.createEndpoint({ dst: 1024 });
    expect(() => r.trySend(new Uint8Array(241))).toThrow(RpmsgErrorCode.PAYLOAD_TOO_LARGE);
    // the refused send did not lose the remote's buffer
    for (let i = 0; i < 8; i++) expect(r.trySend(new Uint8Array(10))).toBe(true);
    expect(r.trySend(new Uint8Array(10))).toBe(false);
  });

  it('an unbound endpoint cannot send without a destination', () => {
    const p = makePair();
    startPair(p);
    const h = p.host.createEndpoint({});
    expect(h.dst).toBe(RPMSG_ADDR_ANY);
    expect(() => h.trySend(new Uint8Array(1))).toThrow(RpmsgErrorCode.NO_DESTINATION);
  });

  it('holds a received buffer past the callback and returns it on release', () => {
    const p = makePair({ numBuffers: 8 });
    startPair(p);
    const held: RpmsgMessage[] = [];
    p.remote.createEndpoint({ addr: 77, onMessage: (m) => held.push(m.hold()) });
    const h = p.host.createEndpoint({ dst: 77 });
    for (let i = 0; i < 4; i++) expect(h.trySend(new Uint8Array([i, i, i]))).toBe(true);
    pump(p);
    expect(held.length).toBe(4);
    // every TX buffer is held by the remote: the host cannot send
    expect(h.trySend(new Uint8Array(1))).toBe(false);
    expect(Array.from(held[2]!.data)).toEqual([2, 2, 2]);
    held[2]!.release();
    expect(() => held[2]!.data).toThrow(RpmsgErrorCode.BAD_BUFFER);
    expect(() => held[2]!.release()).toThrow(RpmsgErrorCode.BAD_BUFFER);
    expect(h.trySend(new Uint8Array(1))).toBe(true);
    expect(h.trySend(new Uint8Array(1))).toBe(false);
  });
});

describe('host start-up notification', () => {
  it('start({ kick: true }) notifies vring0 once, after DRIVER_OK; start() does not', () => {
    const p = makePair();
    p.host.start();
    expect(p.hostNotified).toEqual([0, 0]);
    const seen: number[] = [];
    const q = makePair({}, { transport: { notify: (vq) => seen.push(vq, q.memory.read8(q.layout.statusAddr)) } });
    q.host.start({ kick: true });
    expect(seen).toEqual([0, 0x0f]);
    q.remote.poll();
    expect(q.remote.ready).toBe(true);
  });
});
