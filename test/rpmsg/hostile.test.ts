import { describe, expect, it } from 'vitest';
import { makePair, startPair, pump, BASE } from './helpers.js';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { DeviceStatus } from '../../src/virtio/status.js';
import { splitLegacyLayout } from '../../src/virtio/split/layout.js';
import { RpmsgHost, RpmsgRemote, planRpmsgRegion, writeResourceTable, RpmsgErrorCode } from '../../src/rpmsg/index.js';

/** Address of the buffer the host last made available on vring1 (read back from the ring, as a device would). */
function lastTxDesc(p: ReturnType<typeof makePair>): { descAddr: number; bufAddr: number } {
  const L = splitLegacyLayout(p.layout.vring1.da, p.layout.vring1.num, p.layout.vring1.align);
  const idx = p.memory.read16(L.avail + 2);
  const head = p.memory.read16(L.avail + 4 + 2 * ((idx - 1) % p.layout.vring1.num));
  const descAddr = L.desc + 16 * head;
  return { descAddr, bufAddr: p.memory.read64(descAddr) };
}

describe('the remote treats shared memory as hostile', () => {
  it('drops and counts a header whose len exceeds the buffer, and keeps running', () => {
    const p = makePair();
    startPair(p);
    const got: number[] = [];
    p.remote.createEndpoint({ addr: 9, onMessage: (m) => got.push(m.len) });
    const h = p.host.createEndpoint({ dst: 9 });
    h.trySend(new Uint8Array(10));
    const { bufAddr } = lastTxDesc(p);
    p.memory.write16(bufAddr + 12, 500); // len > 16 + 10 descriptor bytes
    h.trySend(new Uint8Array(12));
    pump(p);
    expect(got).toEqual([12]);
    expect(p.remote.stats.droppedMalformed).toBe(1);
    expect(p.remote.ready).toBe(true);
  });

  it('refuses buffers outside the shared window (no read or write of other memory)', () => {
    const layout = planRpmsgRegion({ base: BASE, numBuffers: 8 });
    const memory = new PhysicalMemory([
      { name: 'ipc', base: BASE, size: layout.size },
      { name: 'secure', base: 0x3c00_0000, size: 0x1000 },
    ]);
    writeResourceTable(memory, layout);
    const host = new RpmsgHost(memory, layout, { transport: { notify: () => undefined } });
    const remote = new RpmsgRemote(memory, layout.rscTable, { transport: { notify: () => undefined } });
    host.start();
    remote.poll();
    const got: number[] = [];
    remote.createEndpoint({ addr: 9, onMessage: (m) => got.push(m.len) });
    const p = { memory, layout } as ReturnType<typeof makePair>;
    // host -> remote: a TX descriptor re-pointed at secure memory is not read
    memory.fill(0x3c00_0000, 0x1000, 0xee);
    host.createEndpoint({ dst: 9 }).trySend(new Uint8Array(4));
    memory.write64(lastTxDesc(p).descAddr, 0x3c00_0000);
    remote.poll();
    expect(got).toEqual([]);
    expect(remote.stats.droppedMalformed).toBe(1);
    // remote -> host: an RX descriptor pointing at secure memory is never written
    const r0 = splitLegacyLayout(layout.vring0.da, layout.vring0.num, layout.vring0.align);
    for (let i = 0; i < 4; i++) memory.write64(r0.desc + 16 * i, 0x3c00_0000);
    const r = remote.createEndpoint({ dst: 1000 });
    expect(r.trySend(new Uint8Array(4))).toBe(false);
    expect(memory.bytes(0x3c00_0000, 0x1000).every((b) => b === 0xee)).toBe(true);
    expect(remote.stats.droppedMalformed).toBe(5);
    expect(remote.ready).toBe(true);
  });

  it('a broken ring puts the remote in needs-reset; the host resets and both recover', () => {
    const p = makePair();
    startPair(p);
    const got: number[] = [];
    p.remote.createEndpoint({ addr: 9, onMessage: (m) => got.push(m.data[0]!) });
    const h = p.host.createEndpoint({ dst: 9 });
    h.trySend(new Uint8Array([1]));
    // the host "publishes" far more buffers than the ring holds
    const L = splitLegacyLayout(p.layout.vring1.da, p.layout.vring1.num, p.layout.vring1.align);
    p.memory.atomicStore16(L.avail + 2, 5000);
    expect(() => p.remote.poll()).not.toThrow();
    expect(p.remote.needsReset).toBe(true);
    expect(p.remote.stats.peerErrors).toBe(1);
    expect(p.memory.read8(p.layout.statusAddr) & DeviceStatus.DEVICE_NEEDS_RESET).toBeTruthy();
    expect(p.remoteNotified[0]).toBeGreaterThan(0);
    expect(() => p.remote.createEndpoint({ dst: 1 }).trySend(new Uint8Array(1))).toThrow(RpmsgErrorCode.NEEDS_RESET);
    p.host.poll();
    expect(p.host.needsReset).toBe(true);
    expect(() => h.trySend(new Uint8Array(1))).toThrow(RpmsgErrorCode.NEEDS_RESET);
    // still waiting while the host has not reset
    p.remote.poll();
    expect(p.remote.needsReset).toBe(true);
    p.host.reset();
    p.host.start();
    p.remote.poll();
    expect(p.remote.ready).toBe(true);
    h.trySend(new Uint8Array([2]));
    pump(p);
    expect(got).toEqual([2]);
  });

  it('a host reset the remote did not see is detected from the rings and recovered', () => {
    const p = makePair({ numBuffers: 8 });
    startPair(p);
    const got: number[] = [];
    p.remote.createEndpoint({ addr: 9, onMessage: (m) => got.push(m.data[0]!) });
    const h = p.host.createEndpoint({ dst: 9 });
    for (let i = 0; i < 3; i++) h.trySend(new Uint8Array([i]));
    pump(p);
    p.host.reset();
    p.host.start();
    h.trySend(new Uint8Array([7]));
    for (let i = 0; i < 4 && got.length < 4; i++) {
      pump(p);
      if (p.host.needsReset) {
        p.host.reset();
        p.host.start();
        h.trySend(new Uint8Array([7]));
      }
    }
    expect(got).toEqual([0, 1, 2, 7]);
  });

  it('a remote refuses features the host was not offered', () => {
    const p = makePair({ features: 1 });
    p.host.start();
    p.memory.write32(p.layout.vdev + 16, 0x3);
    p.remote.poll();
    expect(p.remote.needsReset).toBe(true);
    expect(String(p.remote.lastError)).toContain(RpmsgErrorCode.FEATURES);
  });

  it('a malformed resource table is a typed error at construction', () => {
    const p = makePair();
    p.memory.write32(p.layout.rscTable, 2);
    expect(() => new RpmsgRemote(p.memory, p.layout.rscTable, { transport: { notify: () => undefined } })).toThrow(RpmsgErrorCode.BAD_VERSION);
    p.memory.write32(p.layout.rscTable, 1);
    p.memory.write32(p.layout.vdev + 4, 3); // not an rpmsg vdev
    expect(() => RpmsgHost.adopt(p.memory, p.layout.rscTable, { transport: { notify: () => undefined } })).toThrow(RpmsgErrorCode.NO_VDEV);
  });
});
