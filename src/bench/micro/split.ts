/**
 * Micro benchmarks of the split virtqueue's hot operations (the shared loops of ring-ops.ts, over a legacy
 * vring_init layout with EVENT_IDX).
 */
import { DescriptorChain } from '../../virtio/chain.js';
import { PhysicalMemory } from '../../virtio/memory.js';
import { SplitVirtqueueDevice } from '../../virtio/split/device.js';
import { SplitVirtqueueDriver } from '../../virtio/split/driver.js';
import { splitLegacyLayout } from '../../virtio/split/layout.js';
import { VirtioFeature, features } from '../../virtio/features.js';
import { RING_BASE, RING_MEMORY, RING_SIZE, ringBenches, type RingPair } from './ring-ops.js';
import type { MicroBench } from './types.js';

function pair(): RingPair {
  const memory = new PhysicalMemory([{ name: 'ram', base: RING_BASE, size: RING_MEMORY }]);
  const l = splitLegacyLayout(RING_BASE, RING_SIZE, 4096);
  const f = features(VirtioFeature.EVENT_IDX);
  const driver = new SplitVirtqueueDriver<number>(memory, RING_SIZE, l, { features: f });
  const device = new SplitVirtqueueDevice(memory, RING_SIZE, l, { features: f });
  return { driver, device, chain: new DescriptorChain(RING_SIZE) };
}

export const benches: MicroBench[] = ringBenches('split', pair);
