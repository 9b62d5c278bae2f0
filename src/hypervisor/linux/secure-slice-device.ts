/**
 * A device of the secure world as the monitor sees it: every call the transport makes into it (a kick from Linux,
 * the activation, a reset) is one secure slice, so on one core Linux is stopped while the device runs
 * (one-core-monitor.ts). The device itself (vsock, console) knows nothing of this; the wrapper only delegates.
 */
import type { DeviceActivation, VirtioDevice } from '../../virtio/device.js';
import { hasFeature, VirtioFeature } from '../../virtio/features.js';
import type { LinuxMonitor } from './one-core-monitor.js';

export class SecureSliceDevice implements VirtioDevice {
  readonly deviceType: number;
  readonly deviceFeatures: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize: number;
  /** The features of the latest activation (what the driver negotiated), kept after a reset for reports. */
  negotiated: bigint | undefined;
  /** The memory the driver shares (the non-secure world's RAM) while the device is active. */
  memory: DeviceActivation['memory'] | undefined;

  constructor(
    readonly inner: VirtioDevice,
    private readonly monitor: LinuxMonitor,
  ) {
    this.deviceType = inner.deviceType;
    this.deviceFeatures = inner.deviceFeatures;
    this.queueMaxSizes = inner.queueMaxSizes;
    this.configSize = inner.configSize;
  }

  readConfig(offset: number, dest: Uint8Array): void {
    this.inner.readConfig(offset, dest);
  }

  writeConfig(offset: number, data: Uint8Array): void {
    this.inner.writeConfig(offset, data);
  }

  checkFeatures(features: bigint): string | undefined {
    return this.inner.checkFeatures?.(features);
  }

  activate(a: DeviceActivation): void {
    this.negotiated = a.features;
    this.memory = a.memory;
    this.monitor.run('activate', () => this.inner.activate(a));
  }

  queueNotify(index: number): void {
    this.monitor.run('kick', () => this.inner.queueNotify(index));
  }

  poll(): number {
    return this.monitor.run('tick', () => this.inner.poll());
  }

  reset(): void {
    this.memory = undefined;
    this.monitor.run('reset', () => this.inner.reset());
  }

  /** The ring layout the driver chose at the latest activation. */
  get ringNegotiated(): 'split' | 'packed' | undefined {
    return this.negotiated === undefined ? undefined : hasFeature(this.negotiated, VirtioFeature.RING_PACKED) ? 'packed' : 'split';
  }
}
