/**
 * Transports: what carries a VirtioDevice (src/virtio/device.ts) to a VirtioDriver.
 * - `rsc-table/`: the TZ-VirtIO shared-memory transport, a remoteproc resource table with one fw_rsc_vdev per device;
 * - `mmio/`: virtio-mmio version 2 windows, one per device;
 * - `loopback.ts`: driver and device in one thread (tests, property tests, in-thread benchmarks).
 */
export * from './errors.js';
export * from './rsc-table/index.js';
export * from './mmio/index.js';
export * from './loopback.js';
