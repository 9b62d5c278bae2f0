import { describe, expect, it } from 'vitest';
import {
  DescriptorChain,
  PhysicalMemory,
  SplitVirtqueueDevice,
  SplitVirtqueueDriver,
  VirtioError,
  VirtioErrorCode as C,
  VirtioFeature as F,
  features,
  splitLegacyLayout,
  splitReport,
  renderSplitText,
} from '../../../src/virtio/index.js';

const BASE = 0x4_0000; // physical address of the image's first byte
const SIZE = 0x4000;
const N = 8;
const RING = { desc: BASE, avail: BASE + 0x80, used: BASE + 0x100 };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof VirtioError) return e.code;
    throw e;
  }
  return undefined;
}

/** A ring written by our split driver (and partly consumed by our device), returned as image bytes. */
function buildImage(): { mem: PhysicalMemory; image: () => Uint8Array } {
  const mem = new PhysicalMemory([{ name: 'ram', base: BASE, size: SIZE }]);
  const feats = features(F.INDIRECT_DESC, F.VERSION_1);
  const drv = new SplitVirtqueueDriver<string>(mem, N, RING, { features: feats, indirect: { base: BASE + 0x2000, tableEntries: 4 }, indirectPolicy: 'never' });
  drv.add([{ addr: BASE + 0x1000, len: 16 }], [{ addr: BASE + 0x1100, len: 32 }], 'a');
  drv.add([{ addr: BASE + 0x1200, len: 8 }], [], 'b');
  drv.add([], [{ addr: BASE + 0x1300, len: 64 }, { addr: BASE + 0x1400, len: 64 }], 'c');
  drv.kick();
  // the device uses the first chain
  const dev = new SplitVirtqueueDevice(mem, N, RING, { features: feats });
  const chain = new DescriptorChain(N);
  expect(dev.pop(chain)).toBe(true);
  dev.pushUsed(chain.head, 5);
  dev.publishUsed();
  return { mem, image: () => mem.bytes(BASE, SIZE).slice() };
}

describe('splitReport on a ring written by our driver', () => {
  it('decodes every descriptor, the avail and used rings, field by field', () => {
    const { mem, image } = buildImage();
    const r = splitReport(image(), { queueSize: N, base: BASE, ...RING });
    expect(r.layout).toBe('split');
    expect(r.queueSize).toBe(N);
    expect(r.desc).toHaveLength(N);
    for (let i = 0; i < N; i++) {
      const d = RING.desc + 16 * i;
      expect(r.desc[i]).toEqual({ addr: '0x' + mem.read64(d).toString(16), len: mem.read32(d + 8), flags: mem.read16(d + 12), next: mem.read16(d + 14) });
      expect(typeof r.desc[i]!.addr).toBe('string');
    }
    expect(r.avail.idx).toBe(3);
    expect(r.avail.ring).toHaveLength(N);
    expect(r.avail.ring).toEqual(Array.from({ length: N }, (_, i) => mem.read16(RING.avail + 4 + 2 * i)));
    expect(r.avail.flags).toBe(mem.read16(RING.avail));
    expect(r.avail.usedEvent).toBe(mem.read16(RING.avail + 4 + 2 * N));
    expect(r.used.idx).toBe(1);
    expect(r.used.ring).toHaveLength(N);
    expect(r.used.ring[0]).toEqual({ id: r.avail.ring[0], len: 5 });
    expect(r.used.availEvent).toBe(mem.read16(RING.used + 4 + 8 * N));
    expect(r.errors).toEqual([]);
  });

  it('lists the outstanding chains (used.idx .. avail.idx) with their segments', () => {
    const { image } = buildImage();
    const r = splitReport(image(), { queueSize: N, base: BASE, ...RING });
    expect(r.outstanding).toHaveLength(2);
    expect(r.outstanding[0]).toMatchObject({ head: r.avail.ring[1], segments: [{ addr: '0x41200', len: 8, write: false }] });
    expect(r.outstanding[1]).toMatchObject({
      head: r.avail.ring[2],
      segments: [
        { addr: '0x41300', len: 64, write: true },
        { addr: '0x41400', len: 64, write: true },
      ],
    });
  });

  it('expands indirect tables (the table descriptor itself is not a segment)', () => {
    const mem = new PhysicalMemory([{ name: 'ram', base: BASE, size: SIZE }]);
    const drv = new SplitVirtqueueDriver<string>(mem, N, RING, { features: features(F.INDIRECT_DESC), indirect: { base: BASE + 0x2000, tableEntries: 4 }, indirectPolicy: 'always' });
    drv.add([{ addr: BASE + 0x1000, len: 10 }], [{ addr: BASE + 0x1100, len: 20 }, { addr: BASE + 0x1200, len: 30 }], 'x');
    drv.kick();
    const r = splitReport(mem.bytes(BASE, SIZE), { queueSize: N, base: BASE, ...RING });
    const head = r.avail.ring[0]!;
    expect(r.desc[head]!.flags).toBe(4);
    expect(r.outstanding).toEqual([
      {
        head,
        indirect: true,
        segments: [
          { addr: '0x41000', len: 10, write: false },
          { addr: '0x41100', len: 20, write: true },
          { addr: '0x41200', len: 30, write: true },
        ],
      },
    ]);
  });

  it('reports each broken chain by code without throwing', () => {
    const { mem, image } = buildImage();
    const r0 = splitReport(image(), { queueSize: N, base: BASE, ...RING });
    const [h1, h2] = [r0.avail.ring[1]!, r0.avail.ring[2]!];
    // chain 2's first descriptor: next out of range; chain 1: loop onto itself
    mem.write16(RING.desc + 16 * h2 + 14, 99);
    mem.write16(RING.desc + 16 * h1 + 12, 1);
    mem.write16(RING.desc + 16 * h1 + 14, h1);
    const r = splitReport(image(), { queueSize: N, base: BASE, ...RING });
    expect(r.outstanding).toEqual([
      expect.objectContaining({ head: h1, error: C.DESC_LOOP }),
      expect.objectContaining({ head: h2, error: C.DESC_INDEX_OUT_OF_RANGE }),
    ]);
    // a head outside the table, and a buffer outside the image
    mem.write16(RING.avail + 4 + 2 * 1, 200);
    mem.write64(RING.desc + 16 * h2, 0x9000_0000);
    mem.write16(RING.desc + 16 * h2 + 12, 0);
    const r2 = splitReport(image(), { queueSize: N, base: BASE, ...RING });
    expect(r2.outstanding.map((c) => ('error' in c ? c.error : 'ok'))).toEqual([C.DESC_INDEX_OUT_OF_RANGE, C.BUFFER_OUT_OF_RANGE]);
  });

  it('reports avail.idx more than N ahead of used.idx in errors[] and lists at most N', () => {
    const { mem, image } = buildImage();
    mem.write16(RING.avail + 2, 1 + N + 3);
    const r = splitReport(image(), { queueSize: N, base: BASE, ...RING });
    expect(r.errors.map((e) => e.code)).toEqual([C.AVAIL_IDX_TOO_FAR]);
    expect(r.outstanding).toHaveLength(N);
  });

  it('handles free-running indices across the u16 wrap', () => {
    const { mem, image } = buildImage();
    mem.write16(RING.used + 2, 0xffff);
    mem.write16(RING.avail + 2, 1); // two entries: slots 7 and 0
    const r = splitReport(image(), { queueSize: N, base: BASE, ...RING });
    expect(r.outstanding.map((c) => c.head)).toEqual([r.avail.ring[7], r.avail.ring[0]]);
  });

  it('decodes the legacy contiguous layout from --align', () => {
    const mem = new PhysicalMemory([{ name: 'ram', base: BASE, size: SIZE }]);
    const l = splitLegacyLayout(BASE, N, 256);
    const drv = new SplitVirtqueueDriver<string>(mem, N, l);
    drv.addBuffer(BASE + 0x1000, 4, false, 'x');
    drv.kick();
    const r = splitReport(mem.bytes(BASE, SIZE), { queueSize: N, base: BASE, desc: BASE, align: 256 });
    expect(r.areas).toEqual({ desc: '0x40000', avail: '0x40080', used: '0x40100', legacyAlign: 256 });
    expect(r.outstanding).toEqual([{ head: 0, indirect: false, segments: [{ addr: '0x41000', len: 4, write: false }] }]);
    expect(renderSplitText(r)).toContain('head 0: R 0x41000+4');
  });

  it('throws IMAGE_TRUNCATED when a ring area is outside the image, and refuses bad arguments', () => {
    const { image } = buildImage();
    const img = image();
    expect(codeOf(() => splitReport(img.subarray(0, 0x140), { queueSize: N, base: BASE, ...RING }))).toBe(C.IMAGE_TRUNCATED);
    expect(codeOf(() => splitReport(img, { queueSize: N, base: BASE + 0x10, ...RING }))).toBe(C.IMAGE_TRUNCATED);
    expect(codeOf(() => splitReport(img, { queueSize: N, base: BASE, ...RING, used: BASE + SIZE }))).toBe(C.IMAGE_TRUNCATED);
    expect(codeOf(() => splitReport(new Uint8Array(0), { queueSize: N, base: BASE, ...RING }))).toBe(C.IMAGE_TRUNCATED);
    expect(codeOf(() => splitReport(img, { queueSize: 6, base: BASE, ...RING }))).toBe(C.BAD_QUEUE_SIZE);
    expect(codeOf(() => splitReport(img, { queueSize: N, base: BASE + 4, ...RING }))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => splitReport(img, { queueSize: N, base: BASE, ...RING, desc: BASE + 8 }))).toBe(C.BAD_ALIGNMENT);
    expect(codeOf(() => splitReport(img, { queueSize: N, base: BASE, desc: BASE }))).toBe(C.BAD_ARGUMENT);
  });
});
