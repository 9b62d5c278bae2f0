/**
 * Micro benchmarks of the split virtqueue's hot operations, each in steady state (buffers recycled so the ring
 * never fills): driver add+kick, device pop, device pushUsed+publishUsed, driver popUsed. Driver and device share
 * one thread and one memory; the untimed side's work is kept minimal and identical across runs.
 */
import { DescriptorChain } from '../../virtio/chain.js';
import { PhysicalMemory } from '../../virtio/memory.js';
import { SplitVirtqueueDevice } from '../../virtio/split/device.js';
import { SplitVirtqueueDriver } from '../../virtio/split/driver.js';
import { splitLegacyLayout } from '../../virtio/split/layout.js';
import { VirtioFeature, features } from '../../virtio/features.js';
import type { MicroBench } from './types.js';

const SIZE = 256;
const BASE = 0x1000_0000;
const BUF = BASE + 0x10_0000;

function pair() {
  const memory = new PhysicalMemory([{ name: 'ram', base: BASE, size: 0x20_0000 }]);
  const l = splitLegacyLayout(BASE, SIZE, 4096);
  const f = features(VirtioFeature.EVENT_IDX);
  const driver = new SplitVirtqueueDriver<number>(memory, SIZE, l, { features: f });
  const device = new SplitVirtqueueDevice(memory, SIZE, l, { features: f });
  return { driver, device, chain: new DescriptorChain(SIZE) };
}

/** Takes everything the device has, uses it and gives it back to the driver (the untimed half). */
function deviceRoundTrip(device: SplitVirtqueueDevice, chain: DescriptorChain): void {
  while (device.pop(chain)) device.pushUsed(chain.head, 0);
  device.publishUsed();
}

export const benches: MicroBench[] = [
  {
    name: 'split/driver.addBuffer+kick',
    prepare() {
      const { driver, device, chain } = pair();
      return (n) => {
        let i = 0;
        while (i < n) {
          const k = Math.min(n - i, SIZE);
          for (let j = 0; j < k; j++) {
            driver.addBuffer(BUF + 64 * j, 64, false, j);
            driver.kick();
          }
          i += k;
          deviceRoundTrip(device, chain);
          while (driver.popUsed() !== undefined);
        }
      };
    },
  },
  {
    name: 'split/device.pop',
    prepare() {
      const { driver, device, chain } = pair();
      const heads = new Uint16Array(SIZE);
      return (n) => {
        let i = 0;
        while (i < n) {
          const k = Math.min(n - i, SIZE);
          for (let j = 0; j < k; j++) driver.addBuffer(BUF + 64 * j, 64, true, j);
          driver.kick();
          for (let j = 0; j < k; j++) {
            device.pop(chain);
            heads[j] = chain.head;
          }
          i += k;
          for (let j = 0; j < k; j++) device.pushUsed(heads[j]!, 0);
          device.publishUsed();
          while (driver.popUsed() !== undefined);
        }
      };
    },
  },
  {
    name: 'split/device.pushUsed+publishUsed',
    prepare() {
      const { driver, device, chain } = pair();
      const heads = new Uint16Array(SIZE);
      return (n) => {
        let i = 0;
        while (i < n) {
          const k = Math.min(n - i, SIZE);
          for (let j = 0; j < k; j++) driver.addBuffer(BUF + 64 * j, 64, true, j);
          driver.kick();
          for (let j = 0; j < k; j++) {
            device.pop(chain);
            heads[j] = chain.head;
          }
          for (let j = 0; j < k; j++) {
            device.pushUsed(heads[j]!, 64);
            device.publishUsed();
          }
          i += k;
          while (driver.popUsed() !== undefined);
        }
      };
    },
  },
  {
    name: 'split/driver.popUsed',
    prepare() {
      const { driver, device, chain } = pair();
      return (n) => {
        let i = 0;
        while (i < n) {
          const k = Math.min(n - i, SIZE);
          for (let j = 0; j < k; j++) driver.addBuffer(BUF + 64 * j, 64, true, j);
          driver.kick();
          deviceRoundTrip(device, chain);
          for (let j = 0; j < k; j++) driver.popUsed();
          i += k;
        }
      };
    },
  },
];
