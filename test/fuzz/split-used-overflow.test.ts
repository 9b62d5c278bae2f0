/**
 * Regression (found by the split fuzzer, seed 1 iteration 212): a driver that re-offers a head after the device's
 * pushUsed but before publishUsed made the device queue more than N unpublished used entries, the last one
 * overwriting the first (a buffer returned twice, another lost). The device must refuse the (N+1)th buffer.
 */
import { describe, expect, it } from 'vitest';
import { DescriptorChain, PhysicalMemory, SplitVirtqueueDevice, VirtioErrorCode, splitRingSizes } from '../../src/virtio/index.js';

const BASE = 0x1000_0000;

function setup(size: number) {
  const memory = new PhysicalMemory([{ name: 'ipc', base: BASE, size: 0x4000 }]);
  const { descBytes, availBytes } = splitRingSizes(size);
  const desc = BASE;
  const avail = desc + descBytes;
  const used = Math.ceil((avail + availBytes) / 4) * 4;
  const device = new SplitVirtqueueDevice(memory, size, { desc, avail, used });
  // Descriptor i: one writable 16-byte buffer.
  for (let i = 0; i < size; i++) {
    memory.write64(desc + 16 * i, BASE + 0x2000 + 16 * i);
    memory.write32(desc + 16 * i + 8, 16);
    memory.write16(desc + 16 * i + 12, 2);
  }
  let idx = 0;
  const offer = (head: number) => {
    memory.write16(avail + 4 + 2 * (idx % size), head);
    idx = (idx + 1) & 0xffff;
    memory.atomicStore16(avail + 2, idx);
  };
  return { memory, device, offer, used, chain: new DescriptorChain(size) };
}

describe('split device: unpublished used entries never exceed the queue size', () => {
  it('refuses a head re-offered between pushUsed and publishUsed once N buffers are outstanding', () => {
    const { device, offer, chain } = setup(2);
    offer(0);
    offer(1);
    expect(device.pop(chain)).toBe(true);
    expect(device.pop(chain)).toBe(true);
    device.pushUsed(0, 0);
    device.pushUsed(1, 0);
    // The driver cannot know 0 is free (used.idx was not published), yet offers it again.
    offer(0);
    expect(() => device.pop(chain)).toThrow(expect.objectContaining({ code: VirtioErrorCode.AVAIL_IDX_TOO_FAR }));
    expect(device.broken?.code).toBe(VirtioErrorCode.AVAIL_IDX_TOO_FAR);
  });

  it('accepts the same head again once its used entry was published', () => {
    const { memory, device, offer, chain, used } = setup(2);
    offer(0);
    offer(1);
    device.pop(chain);
    device.pop(chain);
    device.pushUsed(0, 4);
    device.publishUsed();
    expect([memory.read32(used + 4), memory.read32(used + 8)]).toEqual([0, 4]);
    offer(0);
    expect(device.pop(chain)).toBe(true);
    expect(chain.head).toBe(0);
    device.pushUsed(1, 0);
    device.pushUsed(0, 8);
    device.publishUsed();
    // Entries 1 and 2 of a 2-entry ring: slot 1 = (1, 0), slot 0 reused for (0, 8) after entry 0 was published.
    expect(memory.read16(used + 2)).toBe(3);
    expect([memory.read32(used + 12), memory.read32(used + 16)]).toEqual([1, 0]);
    expect([memory.read32(used + 4), memory.read32(used + 8)]).toEqual([0, 8]);
  });
});
