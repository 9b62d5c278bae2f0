import { describe, expect, it } from 'vitest';
import { makePair, startPair, pump, makePayload, checkPayload } from './helpers.js';
import { RpmsgErrorCode } from '../../src/rpmsg/index.js';

describe('zero-copy', () => {
  it('the host fills a TX buffer in place and sends it without a copy', () => {
    const p = makePair();
    startPair(p);
    const got: Uint8Array[] = [];
    p.remote.createEndpoint({ addr: 9, onMessage: (m) => got.push(m.copy()) });
    const h = p.host.createEndpoint({ dst: 9 });
    const b = h.getTxBuffer()!;
    expect(b.capacity).toBe(496);
    // the view is the buffer in shared memory, right after its 16-byte header
    expect(b.data.byteOffset - p.memory.regions[0]!.u8.byteOffset).toBe(b.addr - p.layout.rscTable + 16);
    b.data.set(makePayload(7, 300));
    h.sendNoCopy(b, 300);
    pump(p);
    expect(got.length).toBe(1);
    expect(checkPayload(got[0]!)).toBe(7);
    expect(() => h.sendNoCopy(b, 10)).toThrow(RpmsgErrorCode.BAD_BUFFER);
  });

  it('the remote fills a host-posted buffer in place', () => {
    const p = makePair({ bufferSize: 128, numBuffers: 8 });
    startPair(p);
    const got: number[] = [];
    p.host.createEndpoint({ addr: 9, onMessage: (m) => got.push(checkPayload(m.data)) });
    const r = p.remote.createEndpoint({ dst: 9 });
    const b = r.getTxBuffer()!;
    expect(b.capacity).toBe(112);
    expect(() => r.sendNoCopy(b, 113)).toThrow(RpmsgErrorCode.PAYLOAD_TOO_LARGE);
    b.data.set(makePayload(3, 112));
    r.sendNoCopy(b, 112);
    pump(p);
    expect(got).toEqual([3]);
  });

  it('a TX buffer given back unsent is reused', () => {
    const p = makePair({ numBuffers: 2 });
    startPair(p);
    const r = p.remote.createEndpoint({ dst: 9 });
    const b = r.getTxBuffer()!;
    expect(r.getTxBuffer()).toBeUndefined();
    p.remote.releaseTxBuffer(b);
    expect(() => p.remote.releaseTxBuffer(b)).toThrow(RpmsgErrorCode.BAD_BUFFER);
    expect(r.getTxBuffer()).toBe(b);
    const h = p.host.createEndpoint({ dst: 9 });
    const hb = h.getTxBuffer()!;
    p.host.releaseTxBuffer(hb);
    expect(h.getTxBuffer()).toBe(hb);
  });

  it('the host holds a received buffer and re-posts it only on release', () => {
    const p = makePair({ numBuffers: 4 });
    startPair(p);
    const held: { release(): void; data: Uint8Array }[] = [];
    p.host.createEndpoint({ addr: 9, onMessage: (m) => held.push(m.hold()) });
    const r = p.remote.createEndpoint({ dst: 9 });
    expect(r.trySend(new Uint8Array([1]))).toBe(true);
    expect(r.trySend(new Uint8Array([2]))).toBe(true);
    pump(p);
    expect(r.trySend(new Uint8Array([3]))).toBe(false);
    expect(held.map((m) => m.data[0])).toEqual([1, 2]);
    held[0]!.release();
    expect(r.trySend(new Uint8Array([3]))).toBe(true);
    expect(r.trySend(new Uint8Array([4]))).toBe(false);
  });

  it('receive() and the async iterator deliver copies in order', async () => {
    const p = makePair();
    startPair(p);
    const ep = p.remote.createEndpoint({ addr: 9 });
    const h = p.host.createEndpoint({ dst: 9 });
    for (let i = 0; i < 5; i++) h.trySend(new Uint8Array([i]));
    pump(p);
    expect(ep.queued).toBe(5);
    expect((await ep.receive())!.data).toEqual(new Uint8Array([0]));
    const seen: number[] = [];
    setTimeout(() => ep.destroy(), 10);
    for await (const m of ep) seen.push(m.data[0]!);
    expect(seen).toEqual([1, 2, 3, 4]);
    await expect(p.host.createEndpoint({}).receive(5)).rejects.toThrow(RpmsgErrorCode.RX_TIMEOUT);
  });
});

describe('buffers of several sizes, many endpoints', () => {
  for (const [bufferSize, numBuffers] of [[32, 2], [64, 4], [256, 16], [512, 512], [2048, 64]] as const) {
    it(`${numBuffers} buffers of ${bufferSize} B carry full-size payloads to 32 endpoints each way`, () => {
      const p = makePair({ bufferSize, numBuffers, align: 64 });
      startPair(p);
      const max = bufferSize - 16;
      const size = Math.max(8, max);
      const N = 32;
      const atRemote = new Map<number, number[]>();
      const atHost = new Map<number, number[]>();
      const rEps = Array.from({ length: N }, (_, i) => p.remote.createEndpoint({ addr: 5000 + i, onMessage: (m) => atRemote.get(5000 + i)!.push(checkPayload(m.data)) }));
      const hEps = Array.from({ length: N }, (_, i) => p.host.createEndpoint({ addr: 6000 + i, dst: 5000 + i, onMessage: (m) => atHost.get(6000 + i)!.push(checkPayload(m.data)) }));
      for (let i = 0; i < N; i++) {
        atRemote.set(5000 + i, []);
        atHost.set(6000 + i, []);
      }
      let seq = 0;
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < N; i++) {
          while (!hEps[i]!.trySend(makePayload(seq, size))) pump(p);
          seq++;
        }
      }
      pump(p);
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < N; i++) {
          while (!rEps[i]!.trySend(makePayload(round, size))) pump(p);
        }
      }
      pump(p);
      for (let i = 0; i < N; i++) {
        expect(atRemote.get(5000 + i)).toEqual(Array.from({ length: 20 }, (_, r) => r * N + i));
        expect(atHost.get(6000 + i)).toEqual([...Array(20).keys()]);
      }
      expect(() => hEps[0]!.trySend(new Uint8Array(max + 1))).toThrow(RpmsgErrorCode.PAYLOAD_TOO_LARGE);
    });
  }
});
