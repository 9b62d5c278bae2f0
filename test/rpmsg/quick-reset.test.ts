import { describe, expect, it, vi } from 'vitest';
import { makePair, startPair, pump } from './helpers.js';
import { DeviceStatus } from '../../src/virtio/status.js';
import { RPMSG_ADDR_ANY, RpmsgRemote } from '../../src/rpmsg/index.js';

/**
 * A host that resets and starts again before the remote polls: the status byte never shows 0 to the remote, so it
 * must find out from the rings (docs/robustness.md, finding 2).
 */
describe('a host reset the remote did not see', () => {
  it.each([
    ['NS | EVENT_IDX', undefined],
    ['NS only (flags)', 1],
  ])('the burst sent after the new start() is delivered exactly once (the documented repro), %s', (_name, features) => {
    const p = makePair(features === undefined ? {} : { features });
    startPair(p);
    const got: number[] = [];
    p.remote.createEndpoint({ addr: 9, onMessage: (m) => got.push(m.data[0]!) });
    const h = p.host.createEndpoint({ dst: 9 });
    for (let i = 0; i < 3; i++) expect(h.trySend(new Uint8Array([i]))).toBe(true);
    p.remote.poll();
    expect(got).toEqual([0, 1, 2]);
    p.host.reset();
    p.host.start();
    p.host.cork();
    for (let i = 10; i < 13; i++) expect(h.trySend(new Uint8Array([i]))).toBe(true);
    p.host.uncork();
    p.remote.poll();
    expect(got).toEqual([0, 1, 2, 10, 11, 12]);
    for (let i = 20; i < 22; i++) expect(h.trySend(new Uint8Array([i]))).toBe(true);
    pump(p);
    expect(got).toEqual([0, 1, 2, 10, 11, 12, 20, 21]);
    expect(p.remote.needsReset).toBe(false);
    expect(p.host.needsReset).toBe(false);
    expect(p.remote.stats.peerErrors).toBe(0);
  });

  it('is found when only the remote had sent (vring0) and a send comes before the next poll', () => {
    const p = makePair({ numBuffers: 8 });
    startPair(p);
    const back: number[] = [];
    p.host.createEndpoint({ addr: 1500, onMessage: (m) => back.push(m.data[0]!) });
    const r = p.remote.createEndpoint({ addr: 9, dst: 1500 });
    for (let i = 0; i < 3; i++) expect(r.trySend(new Uint8Array([i]))).toBe(true);
    pump(p);
    expect(back).toEqual([0, 1, 2]);
    p.host.reset();
    p.host.start();
    // No remote poll in between: the send itself must notice the new rings.
    for (let i = 10; i < 14; i++) expect(r.trySend(new Uint8Array([i]))).toBe(true);
    pump(p);
    expect(back).toEqual([0, 1, 2, 10, 11, 12, 13]);
    expect(p.host.needsReset).toBe(false);
    expect(p.remote.needsReset).toBe(false);
  });

  it('with traffic both ways and the ring indices wrapped, repeatedly', () => {
    const p = makePair({ numBuffers: 8 });
    startPair(p);
    const got: number[] = [];
    const back: number[] = [];
    p.remote.createEndpoint({ addr: 9, onMessage: (m, ep) => { got.push(m.data[0]!); ep.trySendTo(1500, m.copy()); } });
    const h = p.host.createEndpoint({ addr: 1500, dst: 9, onMessage: (m) => back.push(m.data[0]!) });
    let seq = 0;
    for (let round = 0; round < 40; round++) {
      const sent: number[] = [];
      const k = 1 + (round % 4);
      for (let i = 0; i < k; i++) {
        const v = seq++ & 0xff;
        expect(h.trySend(new Uint8Array([v]))).toBe(true);
        sent.push(v);
      }
      got.length = 0;
      back.length = 0;
      pump(p);
      expect(got).toEqual(sent);
      expect(back).toEqual(sent);
      if (round % 3 === 2) {
        p.host.reset();
        p.host.start();
      }
    }
    expect(p.remote.stats.peerErrors).toBe(0);
    expect(p.host.stats.peerErrors).toBe(0);
  });

  it('endpoints are announced again on the new rings', () => {
    const p = makePair();
    startPair(p);
    const svc = p.remote.createEndpoint({ name: 'tz-sign' });
    pump(p);
    expect(p.host.services.get('tz-sign')).toBe(svc.addr);
    p.host.reset();
    expect(p.host.services.size).toBe(0);
    p.host.start();
    pump(p);
    expect(p.host.services.get('tz-sign')).toBe(svc.addr);
  });
});

describe('peer addresses after a reset', () => {
  it('addresses learnt in the old session are cleared on both sides, given ones are kept', () => {
    const p = makePair();
    startPair(p);
    const learner = p.remote.createEndpoint({ addr: 9 });
    const fixed = p.remote.createEndpoint({ addr: 10, dst: 1501 });
    const hostLearner = p.host.createEndpoint({ addr: 1500, dst: 9 });
    const hostBack = p.host.createEndpoint({ addr: 1501 });
    expect(hostLearner.trySend(new Uint8Array([1]))).toBe(true);
    pump(p);
    expect(learner.dst).toBe(1500);
    expect(fixed.trySend(new Uint8Array([2]))).toBe(true);
    pump(p);
    expect(hostBack.dst).toBe(10);
    p.host.reset();
    expect(hostBack.dst).toBe(RPMSG_ADDR_ANY);
    expect(hostLearner.dst).toBe(9);
    p.host.start();
    p.remote.poll();
    expect(learner.dst).toBe(RPMSG_ADDR_ANY);
    expect(fixed.dst).toBe(1501);
    // the endpoints still work and learn again
    expect(hostLearner.trySend(new Uint8Array([3]))).toBe(true);
    pump(p);
    expect(learner.dst).toBe(1500);
  });

  it('a binding made by an announcement is cleared and made again by the new announcement', () => {
    const p = makePair();
    startPair(p);
    const local = p.host.createEndpoint({ name: 'echo', announce: false });
    const svc = p.remote.createEndpoint({ name: 'echo' });
    pump(p);
    expect(local.dst).toBe(svc.addr);
    p.host.reset();
    expect(local.dst).toBe(RPMSG_ADDR_ANY);
    p.host.start();
    pump(p);
    expect(local.dst).toBe(svc.addr);
  });

  it('an address the user set after learning one is kept', () => {
    const p = makePair();
    startPair(p);
    const r = p.remote.createEndpoint({ addr: 9 });
    p.host.createEndpoint({ addr: 1500, dst: 9 }).trySend(new Uint8Array(1));
    pump(p);
    expect(r.dst).toBe(1500);
    r.dst = 1600;
    p.host.reset();
    p.host.start();
    p.remote.poll();
    expect(r.dst).toBe(1600);
  });
});

describe('poll() after a detach', () => {
  it('never calls itself: a host flipping the status byte between our reads costs a bounded number of attaches', () => {
    const p = makePair();
    startPair(p);
    p.remote.createEndpoint({ addr: 9 });
    // Worst case, made deterministic: every detach is followed by DRIVER_OK (so the remote attaches again) and every
    // attach by a reset (so the remote detaches again), as a host racing the remote's reads could do.
    const proto = RpmsgRemote.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    const detach = proto['detach']!;
    const attach = proto['attachRings']!;
    const ok = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK;
    let attaches = 0;
    const d = vi.spyOn(proto, 'detach').mockImplementation(function (this: unknown, ...a: unknown[]) {
      detach.apply(this, a);
      p.memory.write8(p.layout.statusAddr, ok);
    });
    const at = vi.spyOn(proto, 'attachRings').mockImplementation(function (this: unknown, ...a: unknown[]) {
      attach.apply(this, a);
      attaches++;
      p.memory.write8(p.layout.statusAddr, 0);
    });
    try {
      p.memory.write8(p.layout.statusAddr, 0);
      expect(() => p.remote.poll()).not.toThrow();
      expect(attaches).toBeGreaterThan(0);
      expect(attaches).toBeLessThanOrEqual(3);
    } finally {
      d.mockRestore();
      at.mockRestore();
    }
  });
});
