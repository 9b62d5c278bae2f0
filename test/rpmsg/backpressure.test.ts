import { describe, expect, it } from 'vitest';
import { makePair, startPair, pump, makePayload, checkPayload } from './helpers.js';
import { RpmsgErrorCode } from '../../src/rpmsg/index.js';

describe('backpressure', () => {
  it('trySend reports a full ring; send waits for the buffer a later poll frees', async () => {
    const p = makePair({ numBuffers: 8 });
    startPair(p);
    const got: number[] = [];
    p.remote.createEndpoint({ addr: 100, onMessage: (m) => got.push(checkPayload(m.data)) });
    const h = p.host.createEndpoint({ dst: 100 });
    for (let i = 0; i < 4; i++) expect(h.trySend(makePayload(i, 64))).toBe(true);
    expect(h.trySend(makePayload(99, 64))).toBe(false);
    expect(p.host.stats.txNoBuffer).toBe(1);
    let done = false;
    const pending = h.send(makePayload(4, 64), { timeoutMs: 5000 }).then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    // the remote consumes (returning buffers), then the host's poll hands one to the waiting sender
    p.remote.poll();
    p.host.poll();
    await pending;
    pump(p);
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it('asks for a TX-complete notification only while a sender waits', async () => {
    const p = makePair({ numBuffers: 4 });
    startPair(p);
    p.remote.createEndpoint({ addr: 100 });
    const h = p.host.createEndpoint({ dst: 100 });
    h.trySend(new Uint8Array(1));
    h.trySend(new Uint8Array(1));
    p.remote.poll();
    expect(p.remoteNotified[1]).toBe(0); // host does not want TX-complete interrupts
    h.trySend(new Uint8Array(1));
    h.trySend(new Uint8Array(1));
    const w = h.send(new Uint8Array(1), { timeoutMs: 5000 });
    w.catch(() => undefined);
    // host has reclaimed nothing yet, so it waits and arms the TX-complete interrupt
    p.remote.poll();
    expect(p.remoteNotified[1]).toBe(1);
    p.host.onInterrupt(1);
    await w;
  });

  it('a refused trySend on the remote asks the host to notify when it re-posts RX buffers; poll reports the buffer once', () => {
    const p = makePair({ numBuffers: 8 }); // 4 buffers per direction
    startPair(p);
    const got: number[] = [];
    p.host.createEndpoint({ addr: 200, onMessage: (m) => got.push(m.data[0]!) });
    const ep = p.remote.createEndpoint({ addr: 100, dst: 200 });
    // without a refusal the host re-posts silently (EVENT_IDX: the remote said it does not want to know)
    expect(ep.trySend(Uint8Array.of(0))).toBe(true);
    let before = p.hostNotified[0]!;
    p.host.poll();
    expect(p.hostNotified[0]).toBe(before);
    for (let i = 1; i <= 4; i++) expect(ep.trySend(Uint8Array.of(i))).toBe(true);
    expect(ep.trySend(Uint8Array.of(5))).toBe(false); // every host RX buffer is in flight
    expect(p.remote.takeTxFreed()).toBe(false);
    p.remote.poll();
    expect(p.remote.takeTxFreed()).toBe(false); // still none free: stays armed
    // the host reads the four messages and re-posts their buffers: now it must notify the remote
    before = p.hostNotified[0]!;
    p.host.poll();
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(p.hostNotified[0]).toBe(before + 1);
    p.remote.poll();
    expect(p.remote.takeTxFreed()).toBe(true);
    expect(p.remote.takeTxFreed()).toBe(false); // once per refusal
    expect(ep.trySend(Uint8Array.of(5))).toBe(true);
    // and back to silence: the next re-post notifies nobody
    before = p.hostNotified[0]!;
    p.host.poll();
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
    expect(p.hostNotified[0]).toBe(before);
  });

  it('send rejects with TX_TIMEOUT when no buffer comes back', async () => {
    const p = makePair({ numBuffers: 2 });
    startPair(p);
    const h = p.host.createEndpoint({ dst: 100 });
    expect(h.trySend(new Uint8Array(1))).toBe(true);
    await expect(h.send(new Uint8Array(1), { timeoutMs: 20 })).rejects.toThrow(RpmsgErrorCode.TX_TIMEOUT);
  });

  it('a blocking send waits through waitForNotification and a slow receiver', () => {
    let waits = 0;
    const got: number[] = [];
    // the "other side" runs inside the hook: a slow receiver that takes one message per wake-up
    const p = makePair({ numBuffers: 4 }, { waitForNotification: () => {
      waits++;
      p.remote.poll();
      return true;
    } });
    startPair(p);
    p.remote.createEndpoint({ addr: 100, onMessage: (m) => got.push(checkPayload(m.data)) });
    const h = p.host.createEndpoint({ dst: 100 });
    for (let i = 0; i < 50; i++) h.sendBlocking(makePayload(i, 32), 1000);
    pump(p);
    expect(got).toEqual([...Array(50).keys()]);
    expect(waits).toBeGreaterThan(0);
  });

  it('a blocking send without a wait hook, or past its deadline, fails with a typed error', () => {
    const p = makePair({ numBuffers: 2 });
    startPair(p);
    const h = p.host.createEndpoint({ dst: 100 });
    h.trySend(new Uint8Array(1));
    expect(() => h.sendBlocking(new Uint8Array(1), 10)).toThrow(RpmsgErrorCode.NO_WAIT_HOOK);
    let t = 0;
    const q = makePair({ numBuffers: 2 }, { waitForNotification: () => false, now: () => (t += 5) });
    startPair(q);
    const e = q.host.createEndpoint({ dst: 100 });
    e.trySend(new Uint8Array(1));
    expect(() => e.sendBlocking(new Uint8Array(1), 50)).toThrow(RpmsgErrorCode.TX_TIMEOUT);
  });

  it('the remote also waits for host-posted buffers', async () => {
    const p = makePair({ numBuffers: 4 });
    startPair(p);
    const got: number[] = [];
    p.host.createEndpoint({ addr: 100, onMessage: (m) => got.push(checkPayload(m.data)) });
    const r = p.remote.createEndpoint({ dst: 100 });
    expect(r.trySend(makePayload(0, 100))).toBe(true);
    expect(r.trySend(makePayload(1, 100))).toBe(true);
    expect(r.trySend(makePayload(2, 100))).toBe(false);
    const w = r.send(makePayload(2, 100), { timeoutMs: 5000 });
    p.host.poll(); // host receives and re-posts; the remote asked to be told
    expect(p.hostNotified[0]).toBeGreaterThan(0);
    p.remote.onInterrupt(0);
    await w;
    pump(p);
    expect(got).toEqual([0, 1, 2]);
  });
});

describe('notifications', () => {
  it('with EVENT_IDX a burst costs one notification until the remote catches up', () => {
    const p = makePair();
    startPair(p);
    p.remote.createEndpoint({ addr: 100 });
    const h = p.host.createEndpoint({ dst: 100 });
    for (let i = 0; i < 100; i++) h.trySend(new Uint8Array(8));
    expect(p.hostNotified[1]).toBe(1);
    p.remote.poll();
    for (let i = 0; i < 100; i++) h.trySend(new Uint8Array(8));
    expect(p.hostNotified[1]).toBe(2);
  });

  it('without EVENT_IDX cork/uncork publishes a burst with one notification', () => {
    const p = makePair({ features: 1 });
    startPair(p);
    p.remote.createEndpoint({ addr: 100 });
    const h = p.host.createEndpoint({ dst: 100 });
    for (let i = 0; i < 10; i++) h.trySend(new Uint8Array(8));
    expect(p.hostNotified[1]).toBe(10);
    p.host.cork();
    for (let i = 0; i < 100; i++) h.trySend(new Uint8Array(8));
    expect(p.hostNotified[1]).toBe(10);
    p.host.uncork();
    expect(p.hostNotified[1]).toBe(11);
    expect(p.remote.poll()).toBe(110);
  });

  it('the remote notifies the host once for a burst of replies', () => {
    const p = makePair();
    startPair(p);
    p.host.createEndpoint({ addr: 100 });
    const r = p.remote.createEndpoint({ dst: 100 });
    for (let i = 0; i < 50; i++) r.trySend(new Uint8Array(8));
    expect(p.remoteNotified[0]).toBe(1);
    expect(p.host.poll()).toBe(50);
  });
});
