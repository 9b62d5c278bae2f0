/**
 * inspect on sparse images (an image plus extra pieces, and a declared RAM range for the buffers) and the packed
 * decode's handling of chain tails the device left behind when it returned a buffer (only the first slot is rewritten).
 */
import { describe, expect, it } from 'vitest';
import {
  DescriptorChain,
  PackedVirtqueueDevice,
  PackedVirtqueueDriver,
  PhysicalMemory,
  VirtioError,
  VirtioErrorCode as C,
  imageMemory,
  packedReport,
  renderPackedText,
} from '../../../src/virtio/index.js';

const BASE = 0x8_0000;
const SIZE = 0x4000;
const N = 6;
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

function ring() {
  const mem = new PhysicalMemory([{ name: 'ram', base: BASE, size: SIZE }]);
  const drv = new PackedVirtqueueDriver<number>(mem, N, RING, {});
  const dev = new PackedVirtqueueDevice(mem, N, RING, {});
  return { mem, drv, dev };
}

describe('packed leftovers: chain tails before a used descriptor', () => {
  it('lists the tail of a returned chain as consumed and decodes only the chain after the last used slot', () => {
    const { mem, drv, dev } = ring();
    drv.add([{ addr: BASE + 0x1000, len: 16 }], [{ addr: BASE + 0x1100, len: 8 }, { addr: BASE + 0x1200, len: 8 }], 1); // slots 0..2
    drv.addBuffer(BASE + 0x1300, 4, true, 2); // slot 3
    drv.kick();
    const chain = new DescriptorChain(N);
    for (const len of [16, 4]) {
      expect(dev.pop(chain)).toBe(true);
      dev.pushUsed(chain.head, len);
    }
    dev.publishUsed(); // used descriptors at slot 0 (first chain) and slot 3 (its used position advanced by 3)
    drv.addBuffer(BASE + 0x1400, 4, true, 3); // slot 4: really outstanding
    drv.kick();
    const r = packedReport(mem.bytes(BASE, SIZE).slice(), { queueSize: N, base: BASE, ...RING });
    expect(r.decoded.states.map((s) => `${s.state}${s.wrap}`)).toEqual(['used1', 'available1', 'available1', 'used1', 'available1', 'used0']);
    expect(r.decoded.consumed).toEqual([{ index: 1, wrap: 1, count: 2, usedAt: 3 }]);
    expect(r.decoded.chains).toEqual([expect.objectContaining({ index: 4, wrap: 1, segments: [{ addr: '0x81400', len: 4, write: true }] })]);
    expect(r.errors).toEqual([]);
    expect(renderPackedText(r)).toContain('at 1 (wrap 1): 2 slots, used descriptor at 3');
  });

  it('keeps a run followed by a slot of the other lap (the driver position) as outstanding chains', () => {
    const { mem, drv } = ring();
    drv.addBuffer(BASE + 0x1000, 4, true, 1);
    drv.addBuffer(BASE + 0x1100, 4, true, 2);
    drv.kick();
    const r = packedReport(mem.bytes(BASE, SIZE).slice(), { queueSize: N, base: BASE, ...RING });
    expect(r.decoded.consumed).toEqual([]);
    expect(r.decoded.chains.map((c) => c.index)).toEqual([0, 1]);
  });
});

describe('sparse images: pieces and a RAM range', () => {
  function parts() {
    const { mem, drv } = ring();
    drv.addBuffer(BASE + 0x1000, 16, false, 1);
    drv.kick();
    const all = mem.bytes(BASE, SIZE).slice();
    return { descRing: all.slice(0, 16 * 8), events: all.slice(0x100, 0x108), all };
  }

  it('a ring spread over an image and a piece decodes like the whole image, given the RAM its buffers lie in', () => {
    const { descRing, events, all } = parts();
    const whole = packedReport(all, { queueSize: N, base: BASE, ...RING });
    const sparse = packedReport(descRing, { queueSize: N, base: BASE, pieces: [{ base: BASE + 0x100, bytes: events }], ram: { base: BASE, size: SIZE }, ...RING });
    expect({ ...sparse, ram: undefined }).toEqual({ ...whole, ram: undefined });
    expect(sparse.ram).toEqual({ base: '0x80000', size: SIZE });
    expect(whole).not.toHaveProperty('ram');
  });

  it('without the RAM range a buffer outside every piece is a chain error, not a crash', () => {
    const { descRing, events } = parts();
    const r = packedReport(descRing, { queueSize: N, base: BASE, pieces: [{ base: BASE + 0x100, bytes: events }], ...RING });
    expect(r.decoded.chains).toEqual([expect.objectContaining({ index: 0, error: C.BUFFER_OUT_OF_RANGE })]);
  });

  it('an area in no piece throws IMAGE_TRUNCATED; the RAM range does not make unmapped rings readable', () => {
    const { descRing } = parts();
    expect(codeOf(() => packedReport(descRing, { queueSize: N, base: BASE, ...RING }))).toBe(C.IMAGE_TRUNCATED);
    expect(codeOf(() => packedReport(descRing, { queueSize: N, base: BASE, ram: { base: 0, size: 1 << 24 }, ...RING }))).toBe(C.IMAGE_TRUNCATED);
  });

  it('rejects overlapping, misaligned and empty pieces and a bad RAM range', () => {
    const b = new Uint8Array(16);
    expect(codeOf(() => imageMemory(b, 0x1000, [{ base: 0x1008, bytes: b }]))).toBe(C.MEM_REGION_OVERLAP);
    expect(codeOf(() => imageMemory(b, 0x1000, [{ base: 0x2004, bytes: b }]))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => imageMemory(b, 0x1000, [{ base: 0x2000, bytes: new Uint8Array(0) }]))).toBe(C.IMAGE_TRUNCATED);
    expect(codeOf(() => imageMemory(b, 0x1000, [], { base: -8, size: 16 }))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => imageMemory(b, 0x1000, [], { base: 0, size: 0 }))).toBe(C.BAD_ARGUMENT);
    const img = imageMemory(b, 0x1000, [{ base: 0x2000, bytes: b }], { base: 0x10_0000, size: 0x1000 });
    expect(img.memory.contains(0x2000, 16)).toBe(true);
    expect(img.memory.contains(0x10_0800, 0x800)).toBe(true);
    expect(img.memory.contains(0x10_0800, 0x801)).toBe(false);
    expect(codeOf(() => img.memory.read8(0x10_0000))).toBe(C.MEM_OUT_OF_RANGE);
  });
});
