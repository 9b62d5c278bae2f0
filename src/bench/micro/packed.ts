/**
 * Micro benchmarks of the packed virtqueue's hot operations: the shared loops of ring-ops.ts (the same as split.ts,
 * so the two layouts compare directly), plus a 2-segment chain.
 */
import { DescriptorChain } from '../../virtio/chain.js';
import { VirtioFeature, features } from '../../virtio/features.js';
import { PhysicalMemory } from '../../virtio/memory.js';
import { PackedVirtqueueDevice } from '../../virtio/packed/device.js';
import { PackedVirtqueueDriver } from '../../virtio/packed/driver.js';
import { RING_BASE, RING_BUF, RING_MEMORY, RING_SIZE, deviceRoundTrip, ringBenches, type RingPair } from './ring-ops.js';
import type { MicroBench } from './types.js';

function pair(): RingPair {
  const memory = new PhysicalMemory([{ name: 'ram', base: RING_BASE, size: RING_MEMORY }]);
  const addrs = { desc: RING_BASE, driverEvent: RING_BASE + 16 * RING_SIZE, deviceEvent: RING_BASE + 16 * RING_SIZE + 4 };
  const f = features(VirtioFeature.EVENT_IDX);
  const driver = new PackedVirtqueueDriver<number>(memory, RING_SIZE, addrs, { features: f });
  const device = new PackedVirtqueueDevice(memory, RING_SIZE, addrs, { features: f });
  return { driver, device, chain: new DescriptorChain(RING_SIZE) };
}

const [addKick, ...rest] = ringBenches('packed', pair);

export const benches: MicroBench[] = [
  addKick!,
  {
    name: 'packed/driver.add(2 segments)+kick',
    prepare() {
      const { driver, device, chain } = pair();
      const outs = [{ addr: RING_BUF, len: 64 }];
      const ins = [{ addr: RING_BUF + 0x1000, len: 64 }];
      return (n) => {
        let i = 0;
        while (i < n) {
          const k = Math.min(n - i, RING_SIZE / 2);
          for (let j = 0; j < k; j++) {
            driver.add(outs, ins, j);
            driver.kick();
          }
          i += k;
          deviceRoundTrip(device, chain);
          while (driver.popUsed() !== undefined);
        }
      };
    },
  },
  ...rest,
];
