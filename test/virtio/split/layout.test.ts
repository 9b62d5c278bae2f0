import { describe, expect, it } from 'vitest';
import { PhysicalMemory, SplitVirtqueueDevice, SplitVirtqueueDriver, VirtioErrorCode, checkQueueSize, splitLegacyLayout, splitRingSizes } from '../../../src/virtio/index.js';

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('split ring layout helpers', () => {
  it('area sizes 16N, 6+2N, 6+8N', () => {
    expect(splitRingSizes(256)).toEqual({ descBytes: 4096, availBytes: 518, usedBytes: 2054 });
    expect(splitRingSizes(1)).toEqual({ descBytes: 16, availBytes: 8, usedBytes: 14 });
  });

  it('queue sizes: powers of two 1..32768', () => {
    for (const ok of [1, 2, 256, 32768]) expect(code(() => checkQueueSize(ok))).toBeUndefined();
    for (const bad of [0, 3, 100, 65536, -4, 1.5, NaN]) expect(code(() => checkQueueSize(bad))).toBe(VirtioErrorCode.BAD_QUEUE_SIZE);
  });

  it('legacy layout of vring_init: N=256, align 4096 (the RPMsg vring)', () => {
    expect(splitLegacyLayout(0x3000_0000, 256, 4096)).toEqual({ desc: 0x3000_0000, avail: 0x3000_1000, used: 0x3000_2000, totalBytes: 10246 });
    expect(splitLegacyLayout(0, 4, 4)).toEqual({ desc: 0, avail: 64, used: 80, totalBytes: 118 });
    expect(code(() => splitLegacyLayout(0, 256, 3000))).toBe(VirtioErrorCode.BAD_ALIGNMENT);
  });

  it('queues refuse misaligned or out-of-memory ring areas', () => {
    const memory = new PhysicalMemory([{ name: 'ram', base: 0x1000, size: 0x1000 }]);
    const good = { desc: 0x1000, avail: 0x1100, used: 0x1200 };
    expect(code(() => new SplitVirtqueueDriver(memory, 8, good))).toBeUndefined();
    expect(code(() => new SplitVirtqueueDevice(memory, 8, good))).toBeUndefined();
    expect(code(() => new SplitVirtqueueDriver(memory, 8, { ...good, desc: 0x1008 }))).toBe(VirtioErrorCode.BAD_ALIGNMENT);
    expect(code(() => new SplitVirtqueueDevice(memory, 8, { ...good, avail: 0x1101 }))).toBe(VirtioErrorCode.BAD_ALIGNMENT);
    expect(code(() => new SplitVirtqueueDevice(memory, 8, { ...good, used: 0x1202 }))).toBe(VirtioErrorCode.BAD_ALIGNMENT);
    expect(code(() => new SplitVirtqueueDevice(memory, 8, { ...good, used: 0x1fc0 }))).toBe(VirtioErrorCode.BAD_RING_ADDRESS);
    expect(code(() => new SplitVirtqueueDevice(memory, 6, good))).toBe(VirtioErrorCode.BAD_QUEUE_SIZE);
  });
});
