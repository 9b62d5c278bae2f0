import { describe, expect, it } from 'vitest';
import { makePair, startPair, pump, BASE } from './helpers.js';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { splitLegacyLayout } from '../../src/virtio/split/layout.js';
import {
  RpmsgHost,
  RpmsgRemote,
  encodeResourceTable,
  planResourceTable,
  planRpmsgRegion,
  effectiveBufferWindow,
} from '../../src/rpmsg/index.js';

/** Re-aims the first `k` RX buffers the host posted on vring0 at `addr` (the host is hostile). */
function aimRxBuffers(p: ReturnType<typeof makePair>, k: number, addr: number): void {
  const r0 = splitLegacyLayout(p.layout.vring0.da, p.layout.vring0.num, p.layout.vring0.align);
  for (let i = 0; i < k; i++) p.memory.write64(r0.desc + 16 * i, addr);
}

function snapshot(p: ReturnType<typeof makePair>, addr: number, len: number): Uint8Array {
  return p.memory.bytes(addr, len).slice();
}

describe("the remote's buffer window", () => {
  it('defaults to the buffer pool of the carveout', () => {
    const p = makePair({ numBuffers: 8 });
    const b = p.layout.buffers;
    expect(p.remote.bufferWindow).toEqual({ base: b.base, size: b.count * b.size });
    startPair(p);
    expect(p.remote.bufferWindow).toEqual({ base: b.base, size: b.count * b.size });
  });

  for (const target of ['table', 'vring0', 'vring1'] as const) {
    it(`by default the host cannot aim the remote's writes at the ${target}`, () => {
      const p = makePair({ numBuffers: 8 });
      startPair(p);
      const at = target === 'table' ? p.layout.rscTable : target === 'vring0' ? p.layout.vring0.da : p.layout.vring1.da;
      aimRxBuffers(p, 4, at);
      const before = snapshot(p, p.layout.base, p.layout.buffers.base - p.layout.base);
      const r = p.remote.createEndpoint({ addr: 9, dst: 1024 });
      expect(r.trySend(new Uint8Array(8).fill(0xee))).toBe(false);
      expect(p.remote.stats.droppedMalformed).toBe(4);
      // everything below the pool (table, vrings) is as it was except what the device owns: the used rings
      const after = snapshot(p, p.layout.base, p.layout.buffers.base - p.layout.base);
      const u0 = splitLegacyLayout(p.layout.vring0.da, p.layout.vring0.num, p.layout.vring0.align).used;
      const u1 = splitLegacyLayout(p.layout.vring1.da, p.layout.vring1.num, p.layout.vring1.align).used;
      for (let i = 0; i < before.length; i++) {
        const a = p.layout.base + i;
        const inUsed = (a >= u0 && a < u0 + 6 + 8 * p.layout.vring0.num) || (a >= u1 && a < u1 + 6 + 8 * p.layout.vring1.num);
        if (!inUsed && after[i] !== before[i]) throw new Error(`byte at 0x${a.toString(16)} changed`);
      }
      expect(p.remote.ready).toBe(true);
    });
  }

  it('nor read messages from the rings or the table', () => {
    const p = makePair({ numBuffers: 8 });
    startPair(p);
    const got: number[] = [];
    p.remote.createEndpoint({ addr: 9, onMessage: (m) => got.push(m.len) });
    const h = p.host.createEndpoint({ dst: 9 });
    h.trySend(new Uint8Array(4));
    const r1 = splitLegacyLayout(p.layout.vring1.da, p.layout.vring1.num, p.layout.vring1.align);
    const idx = p.memory.read16(r1.avail + 2);
    const head = p.memory.read16(r1.avail + 4 + 2 * ((idx - 1) % p.layout.vring1.num));
    p.memory.write64(r1.desc + 16 * head, p.layout.rscTable);
    p.memory.write32(r1.desc + 16 * head + 8, 16);
    p.remote.poll();
    expect(got).toEqual([]);
    expect(p.remote.stats.droppedMalformed).toBe(1);
  });

  it('a window given as the whole region (as the guest does) is cut down to the part holding the pool', () => {
    const L0 = planRpmsgRegion({ base: BASE, numBuffers: 8 });
    const p = makePair({ numBuffers: 8 }, {}, { bufferWindow: { base: L0.base, size: L0.size } });
    const end1 = p.layout.vring1.da + p.layout.vring1.bytes;
    expect(p.remote.bufferWindow).toEqual({ base: end1, size: p.layout.base + p.layout.size - end1 });
    startPair(p);
    const before = snapshot(p, p.layout.rscTable, p.layout.rscTableSize);
    aimRxBuffers(p, 4, p.layout.rscTable);
    expect(p.remote.createEndpoint({ dst: 1024 }).trySend(new Uint8Array(8).fill(0xee))).toBe(false);
    expect(snapshot(p, p.layout.rscTable, p.layout.rscTableSize)).toEqual(before);
  });

  it('without a carveout: the region holding the table, minus the table and the vrings', () => {
    const layout = planRpmsgRegion({ base: BASE, numBuffers: 8, size: 0x10000 });
    const memory = new PhysicalMemory([
      { name: 'ipc', base: BASE, size: layout.size },
      { name: 'other', base: 0x3c00_0000, size: 0x1000 },
    ]);
    const table = planResourceTable(layout);
    memory.write(layout.rscTable, encodeResourceTable({ ...table, entries: table.entries.filter((e) => e.type !== 'carveout') }));
    const remote = new RpmsgRemote(memory, layout.rscTable, { transport: { notify: () => undefined } });
    const end1 = layout.vring1.da + layout.vring1.bytes;
    expect(remote.bufferWindow).toEqual({ base: end1, size: BASE + layout.size - end1 });
    // messages flow over the host's pool, which lies in that window
    const host = RpmsgHost.adopt(memory, layout.rscTable, { transport: { notify: () => undefined }, buffers: layout.buffers });
    host.start();
    const got: number[] = [];
    remote.createEndpoint({ addr: 9, onMessage: (m) => got.push(m.data[0]!) });
    host.createEndpoint({ dst: 9 }).trySend(new Uint8Array([5]));
    remote.poll();
    expect(got).toEqual([5]);
  });

  it('a window lying wholly in the table or a vring refuses every buffer', () => {
    const L0 = planRpmsgRegion({ base: BASE, numBuffers: 8 });
    const p = makePair({ numBuffers: 8 }, {}, { bufferWindow: { base: L0.vring0.da, size: L0.vring0.bytes } });
    expect(p.remote.bufferWindow.size).toBe(0);
    startPair(p);
    p.remote.createEndpoint({ addr: 9 });
    p.host.createEndpoint({ dst: 9 }).trySend(new Uint8Array(4));
    pump(p);
    expect(p.remote.stats.rxMessages).toBe(0);
    expect(p.remote.stats.droppedMalformed).toBe(1);
  });
});

describe('effectiveBufferWindow', () => {
  const L = planRpmsgRegion({ base: 0x1000, numBuffers: 8, align: 16, size: 0x4000 });
  const poolEnd = L.buffers.base + L.buffers.count * L.buffers.size;
  it('keeps a requested window that avoids the table and vrings', () => {
    expect(effectiveBufferWindow(L, { base: L.buffers.base, size: 64 }, undefined)).toEqual({ base: L.buffers.base, size: 64 });
  });
  it('keeps the gap holding the pool, even when another gap is larger', () => {
    const big = { ...L, buffers: { ...L.buffers }, rscTable: 0x3000, rscTableSize: 0x100 };
    // gaps: [vring1 end, 0x3000) holds the pool; [0x3100, 0x5000) is larger
    const w = effectiveBufferWindow(big, { base: L.base, size: 0x4000 }, undefined);
    expect(w.base).toBe(L.vring1.da + L.vring1.bytes);
    expect(w.base + w.size).toBe(0x3000);
    expect(poolEnd).toBeLessThanOrEqual(0x3000);
  });
  it('without a pool, keeps the largest gap', () => {
    const noPool = { ...L, buffers: { base: 0, size: 0, count: 0 } };
    expect(effectiveBufferWindow(noPool, undefined, { base: 0x1000, end: 0x5000 })).toEqual({ base: L.vring1.da + L.vring1.bytes, size: 0x5000 - (L.vring1.da + L.vring1.bytes) });
    expect(effectiveBufferWindow(noPool, undefined, undefined)).toEqual({ base: 0, size: 0 });
  });
});
