import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { planRpmsgRegion, writeResourceTable, layoutFromResourceTable, RpmsgHost, RpmsgErrorCode, readResourceTable } from '../../src/rpmsg/index.js';

describe('region plan', () => {
  it('lays out table, vring0, vring1 (align 4096) and 512 buffers of 512 B by default', () => {
    const p = planRpmsgRegion({ base: 0x3000_0000 });
    expect(p.rscTable).toBe(0x3000_0000);
    expect(p.vring0).toMatchObject({ da: 0x3000_1000, align: 4096, num: 256, notifyid: 0 });
    // vring_size(256, 4096) = 0x1000 (desc) + 0x206 (avail) -> 0x2000 + 6 + 8*256 = 0x2806
    expect(p.vring0.bytes).toBe(0x2806);
    expect(p.vring1).toMatchObject({ da: 0x3000_4000, num: 256, notifyid: 1 });
    expect(p.buffers).toEqual({ base: 0x3000_6840, size: 512, count: 512 });
    expect(p.size).toBe(0x6840 + 512 * 512);
    expect(p.features).toBe(1 | (1 << 29));
  });

  it('refuses impossible plans', () => {
    expect(() => planRpmsgRegion({ base: 0, numBuffers: 6 })).toThrow(RpmsgErrorCode.BAD_LAYOUT);
    expect(() => planRpmsgRegion({ base: 0, bufferSize: 100 })).toThrow(RpmsgErrorCode.BAD_LAYOUT);
    expect(() => planRpmsgRegion({ base: 0, align: 3000 })).toThrow(RpmsgErrorCode.BAD_LAYOUT);
    expect(() => planRpmsgRegion({ base: 0, size: 0x1000 })).toThrow(RpmsgErrorCode.BAD_LAYOUT);
  });

  it('reads back the same layout from the written table, and a host can adopt it', () => {
    const p = planRpmsgRegion({ base: 0x1000, numBuffers: 32, bufferSize: 256, align: 64, trace: { da: 0x9000_0000, len: 4096 } });
    const mem = new PhysicalMemory([{ name: 'ipc', base: 0x1000, size: p.size }]);
    writeResourceTable(mem, p);
    const { trace: _t, ...plain } = p;
    expect(layoutFromResourceTable(mem, p.rscTable)).toEqual(plain);
    expect(readResourceTable(mem, p.rscTable).entries.map((e) => e.type)).toEqual(['vdev', 'carveout', 'trace']);
    const host = RpmsgHost.adopt(mem, p.rscTable, { transport: { notify: () => undefined } });
    host.start();
    expect(host.maxPayload).toBe(240);
    expect(mem.read8(p.statusAddr)).toBe(0xf & ~0); // ACK|DRIVER|FEATURES_OK|DRIVER_OK
    expect(mem.read32(p.vdev + 16)).toBe(p.features);
  });

  it('refuses overlapping or out-of-memory vrings in a table', () => {
    const p = planRpmsgRegion({ base: 0x1000, numBuffers: 8, align: 64 });
    const mem = new PhysicalMemory([{ name: 'ipc', base: 0x1000, size: p.size }]);
    writeResourceTable(mem, p);
    mem.write32(p.vdev + 28 + 20, p.vring0.da); // vring1.da = vring0.da
    expect(() => layoutFromResourceTable(mem, p.rscTable)).toThrow(RpmsgErrorCode.BAD_LAYOUT);
    mem.write32(p.vdev + 28 + 20, 0x7000_0000);
    expect(() => layoutFromResourceTable(mem, p.rscTable)).toThrow(RpmsgErrorCode.BAD_LAYOUT);
    mem.write32(p.vdev + 28 + 20, p.vring1.da);
    mem.write32(p.vdev + 28 + 8, 3); // num not a power of two
    expect(() => layoutFromResourceTable(mem, p.rscTable)).toThrow(RpmsgErrorCode.BAD_LAYOUT);
  });
});
