/**
 * The driver side of device initialisation (VIRTIO 1.2 §3.1.1) as both driver transports (rsc-table/, mmio/) carry
 * it out; they differ in how a register or field reaches the device, not in these rules:
 *
 * - step 4: the driver accepts a subset of the features offered;
 * - step 7: each queue's size is a power of two no larger than the device's maximum (§2.6 / §2.7);
 * - the DriverQueue handed to the driver notifies the device only when the ring asks for it (§2.7.10 / §2.8.10);
 * - a config space access stays inside the config space.
 */
import type { DriverQueue } from '../virtio/device.js';
import type { VirtqueueDriver } from '../virtio/virtqueue.js';
import { TransportError, TransportErrorCode } from './errors.js';

/** §3.1.1 step 4: why the driver's choice is not a subset of the offer, or undefined when it is. */
export function unofferedFeatures(accepted: bigint, offered: bigint): string | undefined {
  const extra = accepted & ~offered;
  return extra === 0n ? undefined : `driver accepted features not offered: 0x${extra.toString(16)}`;
}

/** §3.1.1 step 7: why `num` cannot be queue `index`'s size (a power of two in 1..max), or undefined when it can. */
export function badQueueSize(index: number, num: number, max: number): string | undefined {
  return num < 1 || num > max || (num & (num - 1)) !== 0 ? `queue ${index}: size ${num} is not a power of two in 1..${max}` : undefined;
}

/**
 * The DriverQueue of ring `vq`: kick() publishes what was added and calls `notify` (the transport's available-buffer
 * notification) only when the device asked for one.
 */
export function driverQueue(index: number, vq: VirtqueueDriver<number>, notify: () => void): DriverQueue {
  return {
    index,
    vq,
    kick: () => {
      if (!vq.kick()) return false;
      notify();
      return true;
    },
  };
}

/** Throws BAD_ARGUMENT unless [offset, offset + len) lies inside a config space of `size` bytes. */
export function checkConfigAccess(offset: number, len: number, size: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + len > size) {
    throw new TransportError(TransportErrorCode.BAD_ARGUMENT, `config access [${offset}, ${offset + len}) outside the ${size}-byte config space`);
  }
}
