/**
 * Micro benchmarks of the packed virtqueue's hot operations, each in steady state (buffers recycled so the ring
 * never fills): driver add+kick, device pop, device pushUsed+publishUsed, driver popUsed, and a 2-segment chain.
 * Driver and device share one thread and one memory; the untimed side's work is kept minimal and identical across
 * runs (the same shape as split.ts, so the two layouts compare directly).
 */
import { DescriptorChain } from '../../virtio/chain.js';
import { VirtioFeature, features } from '../../virtio/features.js';
import { PhysicalMemory } from '../../virtio/memory.js';
import { PackedVirtqueueDevice } from '../../virtio/packed/device.js';
import { PackedVirtqueueDriver } from '../../virtio/packed/driver.js';
import type { MicroBench } from './types.js';

const SIZE = 256;
const BASE = 0x1000_0000;
const BUF = BASE + 0x10_0000;

function pair() {
  const memory = new PhysicalMemory([{ name: 'ram', base: BASE, size: 0x20_0000 }]);
  const addrs = { desc: BASE, driverEvent: BASE + 16 * SIZE, deviceEvent: BASE + 16 * SIZE + 4 };
  const f = features(VirtioFeature.EVENT_IDX);
  const driver = new PackedVirtqueueDriver<number>(memory, SIZE, addrs, { features: f });
  const device = new PackedVirtqueueDevice(memory, SIZE, addrs, { features: f });
  return { driver, device, chain: new DescriptorChain(SIZE) };
}

/** Takes everything the device has, uses it and gives it back to the driver (the untimed half). */
function deviceRoundTrip(device: PackedVirtqueueDevice, chain: DescriptorChain): void {
  while (device.pop(chain)) device.pushUsed(chain.head, 0);
  device.publishUsed();
}

export const benches: MicroBench[] = [
  {
    name: 'packed/driver.addBuffer+kick',
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
    name: 'packed/driver.add(2 segments)+kick',
    prepare() {
      const { driver, device, chain } = pair();
      const outs = [{ addr: BUF, len: 64 }];
      const ins = [{ addr: BUF + 0x1000, len: 64 }];
      return (n) => {
        let i = 0;
        while (i < n) {
          const k = Math.min(n - i, SIZE / 2);
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
  {
    name: 'packed/device.pop',
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
    name: 'packed/device.pushUsed+publishUsed',
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
    name: 'packed/driver.popUsed',
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
