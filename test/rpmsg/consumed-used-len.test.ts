import { describe, expect, it } from 'vitest';
import { makePair, startPair, pump } from './helpers.js';
import { splitLegacyLayout } from '../../src/virtio/split/layout.js';
import { RpmsgErrorCode, RpmsgRemote } from '../../src/rpmsg/index.js';

/** used.ring entries { id, len } of vring1 (host TX) as the host would read them (§2.7.8). */
function usedEntries(p: ReturnType<typeof makePair>): { id: number; len: number }[] {
  const L = splitLegacyLayout(p.layout.vring1.da, p.layout.vring1.num, p.layout.vring1.align);
  const idx = p.memory.read16(L.used + 2);
  const out: { id: number; len: number }[] = [];
  for (let i = 0; i < idx; i++) {
    const e = L.used + 4 + 8 * (i % p.layout.vring1.num);
    out.push({ id: p.memory.read32(e), len: p.memory.read32(e + 4) });
  }
  return out;
}

/** Descriptor length of head `id` on vring1. */
function descLen(p: ReturnType<typeof makePair>, id: number): number {
  const L = splitLegacyLayout(p.layout.vring1.da, p.layout.vring1.num, p.layout.vring1.align);
  return p.memory.read32(L.desc + 16 * id + 8);
}

describe('used.len of a consumed host-TX buffer', () => {
  it("default 'zero': 0 bytes written, as VIRTIO 1.2 §2.7.8.2 says", () => {
    const p = makePair({ numBuffers: 8 });
    startPair(p);
    p.remote.createEndpoint({ addr: 9 });
    const h = p.host.createEndpoint({ dst: 9 });
    for (let i = 0; i < 3; i++) h.trySend(new Uint8Array(10 + i));
    p.remote.poll();
    const e = usedEntries(p);
    expect(e.length).toBe(3);
    expect(e.every((x) => x.len === 0)).toBe(true);
  });

  it("'descriptor': the descriptor length, for returned, held-then-released and dropped buffers, across wrap-around", () => {
    const p = makePair({ numBuffers: 8 }, {}, { consumedUsedLen: 'descriptor' });
    startPair(p);
    const held: { release(): void }[] = [];
    p.remote.createEndpoint({ addr: 9, onMessage: (m) => { if (m.len === 7) held.push(m.hold()); } });
    p.remote.createEndpoint({ addr: 10, onMessage: () => { throw new Error('callback fails'); } });
    const h = p.host.createEndpoint({ dst: 9 });
    const bad = p.host.createEndpoint({ dst: 10 });
    const lens: number[] = [];
    for (let round = 0; round < 5; round++) {
      // 4 ring slots: one held, one whose callback throws, one to an unknown address, one plain
      expect(h.trySend(new Uint8Array(7))).toBe(true);
      expect(bad.trySend(new Uint8Array(20))).toBe(true);
      expect(p.host.createEndpoint({ dst: 4242 }).trySend(new Uint8Array(30))).toBe(true);
      expect(h.trySend(new Uint8Array(40 + round))).toBe(true);
      const L = splitLegacyLayout(p.layout.vring1.da, p.layout.vring1.num, p.layout.vring1.align);
      const before = p.memory.read16(L.used + 2);
      p.remote.poll();
      held.splice(0).forEach((m) => m.release());
      const after = p.memory.read16(L.used + 2);
      expect(after - before).toBe(4);
      for (let i = before; i < after; i++) {
        const e = L.used + 4 + 8 * (i % p.layout.vring1.num);
        const id = p.memory.read32(e);
        const len = p.memory.read32(e + 4);
        expect(len).toBe(descLen(p, id));
        lens.push(len);
      }
      pump(p);
    }
    expect(lens).toContain(16 + 7);
    expect(lens).toContain(16 + 44);
    expect(p.remote.stats.callbackErrors).toBe(5);
  });

  it("'descriptor': a host sizing reused TX buffers from used.len (as OpenAMP does) gets a positive capacity", () => {
    const p = makePair({ numBuffers: 8 }, {}, { consumedUsedLen: 'descriptor' });
    startPair(p);
    p.remote.createEndpoint({ addr: 9 });
    const h = p.host.createEndpoint({ dst: 9 });
    h.trySend(new Uint8Array(100));
    p.remote.poll();
    const [e] = usedEntries(p);
    expect(e!.len - 16).toBe(100); // OpenAMP: *len = used.len; *len -= sizeof(struct rpmsg_hdr)
  });

  it('refuses an unknown mode', () => {
    const p = makePair();
    expect(() => new RpmsgRemote(p.memory, p.layout.rscTable, { transport: { notify: () => undefined }, consumedUsedLen: 'buffer' as 'zero' })).toThrow(RpmsgErrorCode.BAD_ARGUMENT);
  });
});
