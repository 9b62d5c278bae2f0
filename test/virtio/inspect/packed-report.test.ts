import { describe, expect, it } from 'vitest';
import {
  DescriptorChain,
  PackedVirtqueueDevice,
  PackedVirtqueueDriver,
  PhysicalMemory,
  VirtioError,
  VirtioErrorCode as C,
  VirtioFeature as F,
  features,
  packedReport,
  renderPackedText,
} from '../../../src/virtio/index.js';

const BASE = 0x8_0000;
const SIZE = 0x4000;
const N = 6; // packed sizes need not be powers of two
const RING = { desc: BASE, driverEvent: BASE + 0x100, deviceEvent: BASE + 0x104 };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof VirtioError) return e.code;
    throw e;
  }
  return undefined;
}

function setup(feats = 0n) {
  const mem = new PhysicalMemory([{ name: 'ram', base: BASE, size: SIZE }]);
  const drv = new PackedVirtqueueDriver<number>(mem, N, RING, { features: feats, indirect: { base: BASE + 0x2000, tableEntries: 4 } });
  const dev = new PackedVirtqueueDevice(mem, N, RING, { features: feats });
  const report = () => packedReport(mem.bytes(BASE, SIZE).slice(), { queueSize: N, base: BASE, ...RING });
  return { mem, drv, dev, report };
}

describe('packedReport on a ring written by our driver', () => {
  it('decodes every descriptor field by field, the event areas, and the available chains', () => {
    const { mem, drv, dev, report } = setup();
    drv.addBuffer(BASE + 0x1000, 16, false, 1);
    drv.add([{ addr: BASE + 0x1100, len: 8 }], [{ addr: BASE + 0x1200, len: 32 }], 2);
    drv.kick();
    // the device uses the first chain: it overwrites slot 0 with a used descriptor (AVAIL = USED = 1)
    const chain = new DescriptorChain(N);
    expect(dev.pop(chain)).toBe(true);
    dev.pushUsed(chain.head, 0);
    dev.publishUsed();
    const r = report();
    expect(r.layout).toBe('packed');
    expect(r.queueSize).toBe(N);
    expect(r.desc).toHaveLength(N);
    for (let i = 0; i < N; i++) {
      const d = RING.desc + 16 * i;
      expect(r.desc[i]).toEqual({ addr: '0x' + mem.read64(d).toString(16), len: mem.read32(d + 8), id: mem.read16(d + 12), flags: mem.read16(d + 14) });
    }
    expect(r.desc[1]!.flags & 0x8081).toBe(0x81); // AVAIL | NEXT, wrap 1
    expect(r.driverEvent).toMatchObject({ offWrap: mem.read16(RING.driverEvent), flags: mem.read16(RING.driverEvent + 2) });
    expect(r.deviceEvent).toMatchObject({ offWrap: mem.read16(RING.deviceEvent), flags: mem.read16(RING.deviceEvent + 2) });
    expect(r.decoded.states.map((s) => `${s.state}${s.wrap}`)).toEqual(['used1', 'available1', 'available1', 'used0', 'used0', 'used0']);
    expect(r.decoded.chains).toEqual([
      {
        index: 1,
        wrap: 1,
        id: r.desc[2]!.id,
        indirect: false,
        ringDescs: 2,
        segments: [
          { addr: '0x81100', len: 8, write: false },
          { addr: '0x81200', len: 32, write: true },
        ],
      },
    ]);
    expect(r.errors).toEqual([]);
    expect(renderPackedText(r)).toContain('at 1 (wrap 1)');
  });

  it('follows a chain across the end of the ring into the next lap', () => {
    const { drv, dev, report } = setup();
    const chain = new DescriptorChain(N);
    for (let k = 0; k < 4; k++) drv.addBuffer(BASE + 0x1000 + 0x100 * k, 4, false, k);
    drv.kick();
    for (let k = 0; k < 4; k++) {
      dev.pop(chain);
      dev.pushUsed(chain.head, 0);
    }
    dev.publishUsed();
    while (drv.popUsed() !== undefined);
    drv.add([{ addr: BASE + 0x1800, len: 1 }, { addr: BASE + 0x1900, len: 2 }], [{ addr: BASE + 0x1a00, len: 3 }], 9);
    drv.kick();
    const r = report();
    expect(r.decoded.states.map((s) => `${s.state}${s.wrap}`)).toEqual(['available0', 'used1', 'used1', 'used1', 'available1', 'available1']);
    expect(r.decoded.chains).toEqual([
      expect.objectContaining({
        index: 4,
        wrap: 1,
        ringDescs: 3,
        segments: [
          { addr: '0x81800', len: 1, write: false },
          { addr: '0x81900', len: 2, write: false },
          { addr: '0x81a00', len: 3, write: true },
        ],
      }),
    ]);
  });

  it('expands an indirect table', () => {
    const { drv, report } = setup(features(F.INDIRECT_DESC));
    drv.add([{ addr: BASE + 0x1000, len: 1 }, { addr: BASE + 0x1100, len: 2 }], [{ addr: BASE + 0x1200, len: 3 }], 1);
    drv.kick();
    const r = report();
    expect(r.decoded.chains).toEqual([
      expect.objectContaining({
        index: 0,
        indirect: true,
        segments: [
          { addr: '0x81000', len: 1, write: false },
          { addr: '0x81100', len: 2, write: false },
          { addr: '0x81200', len: 3, write: true },
        ],
      }),
    ]);
  });

  it('reports a broken chain and a reserved event mode without throwing', () => {
    const { mem, drv, report } = setup();
    drv.addBuffer(BASE + 0x1000, 16, false, 1);
    drv.addBuffer(BASE + 0x1100, 16, false, 2);
    drv.kick();
    mem.write16(RING.desc + 12, 77); // id >= N
    mem.write16(RING.driverEvent + 2, 3);
    const r = report();
    expect(r.decoded.chains[0]).toMatchObject({ index: 0, wrap: 1, error: C.PACKED_BAD_ID });
    expect(r.decoded.chains[1]).toMatchObject({ index: 1, wrap: 1, segments: [{ addr: '0x81100', len: 16, write: false }] });
    expect(r.driverEvent.mode).toBe('RESERVED');
    expect(r.errors.map((e) => e.code)).toContain(C.BAD_ARGUMENT);
  });

  it('a fresh (zeroed) ring has nothing available', () => {
    const { report } = setup();
    const r = report();
    expect(r.decoded.chains).toEqual([]);
    expect(r.decoded.states.every((s) => s.state === 'used' && s.wrap === 0)).toBe(true);
    expect(r.driverEvent).toEqual({ offWrap: 0, flags: 0, off: 0, wrap: 0, mode: 'ENABLE' });
  });

  it('stays bounded when every descriptor claims to be available', () => {
    const { mem, report } = setup();
    for (let i = 0; i < N; i++) {
      mem.write64(RING.desc + 16 * i, BASE + 0x1000);
      mem.write32(RING.desc + 16 * i + 8, 1);
      mem.write16(RING.desc + 16 * i + 14, 0x80 | 1); // AVAIL|NEXT everywhere: a cycle with no end
    }
    const r = report();
    // the run starts at slot 0 (lap 1); its chain runs into slot 0 of lap 0, which is not available
    expect(r.decoded.chains.length).toBeGreaterThan(0);
    expect(r.decoded.chains.length).toBeLessThanOrEqual(N);
    expect(r.decoded.chains[0]).toMatchObject({ index: 0, wrap: 1 });
    expect(['error' in r.decoded.chains[0]! ? r.decoded.chains[0].error : 'none']).toEqual([expect.stringMatching(/PACKED_BAD_FLAGS|CHAIN_TOO_LONG/)]);
  });

  it('reports available descriptors in separate runs', () => {
    const { mem, report } = setup();
    for (const i of [0, 3]) {
      mem.write64(RING.desc + 16 * i, BASE + 0x1000);
      mem.write32(RING.desc + 16 * i + 8, 1);
      mem.write16(RING.desc + 16 * i + 12, i);
      mem.write16(RING.desc + 16 * i + 14, 0x80);
    }
    const r = report();
    expect(r.errors.map((e) => e.code)).toEqual([C.PACKED_BAD_FLAGS]);
    expect(r.decoded.chains.map((c) => c.index)).toEqual([0, 3]);
  });

  it('throws IMAGE_TRUNCATED for areas outside the image', () => {
    const img = new Uint8Array(0x100);
    expect(codeOf(() => packedReport(img, { queueSize: N, base: BASE, ...RING }))).toBe(C.IMAGE_TRUNCATED);
    expect(codeOf(() => packedReport(new Uint8Array(0x200), { queueSize: N, base: BASE, desc: BASE, driverEvent: BASE + 0x100, deviceEvent: BASE + 0x200 }))).toBe(
      C.IMAGE_TRUNCATED,
    );
    expect(codeOf(() => packedReport(new Uint8Array(0x200), { queueSize: 0, base: BASE, ...RING }))).toBe(C.BAD_QUEUE_SIZE);
  });
});
