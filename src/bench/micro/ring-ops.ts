/**
 * The four steady-state micro benchmarks of a virtqueue's hot operations, written once against the layout-neutral
 * interfaces (VirtqueueDriver / VirtqueueDevice) so split.ts and packed.ts measure exactly the same loops: driver
 * add+kick, device pop, device pushUsed+publishUsed, driver popUsed. Buffers are recycled so the ring never fills;
 * the untimed side's work is kept minimal and identical across layouts. This module exports no `benches` itself.
 */
import { DescriptorChain } from '../../virtio/chain.js';
import type { VirtqueueDevice, VirtqueueDriver } from '../../virtio/virtqueue.js';
import type { MicroBench } from './types.js';

export const RING_SIZE = 256;
export const RING_BASE = 0x1000_0000;
/** Where the benchmarks' buffers live (the ring sits at RING_BASE). */
export const RING_BUF = RING_BASE + 0x10_0000;
/** Size of the memory the pair is built over. */
export const RING_MEMORY = 0x20_0000;

export interface RingPair {
  readonly driver: VirtqueueDriver<number>;
  readonly device: VirtqueueDevice;
  readonly chain: DescriptorChain;
}

/** Takes everything the device has, uses it and gives it back to the driver (the untimed half). */
export function deviceRoundTrip(device: VirtqueueDevice, chain: DescriptorChain): void {
  while (device.pop(chain)) device.pushUsed(chain.head, 0);
  device.publishUsed();
}

/** The four benches, named "<prefix>/...", each over a fresh pair from `pair()`. */
export function ringBenches(prefix: string, pair: () => RingPair): MicroBench[] {
  const SIZE = RING_SIZE;
  const BUF = RING_BUF;
  return [
    {
      name: `${prefix}/driver.addBuffer+kick`,
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
      name: `${prefix}/device.pop`,
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
      name: `${prefix}/device.pushUsed+publishUsed`,
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
      name: `${prefix}/driver.popUsed`,
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
}
