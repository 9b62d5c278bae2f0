/**
 * The device/transport seam (VIRTIO 1.2 §2 "basic facilities", §4 "transport options").
 *
 * A *device* (vsock, console, RPMsg, …) knows its protocol and nothing of how it is carried; a *transport*
 * (the TZ-VirtIO resource table in shared memory, virtio-mmio, vhost-user) carries status, features, config space
 * and queue setup between a driver and a device, builds the virtqueues over the memory it was given, and turns
 * notifications into calls on the device (or driver) and back. The models are OpenAMP's `struct virtio_dispatch`
 * and rust-vmm's `VirtioDevice` trait; unlike both, each role is an interface of its own, so a device never sees a
 * driver's API and the reverse.
 *
 *   driver role (non-secure side)                         device role (secure side)
 *   VirtioDriver ──► DriverTransport ══ shared memory ══ DeviceTransport ──► VirtioDevice
 *        negotiate / activate / interrupt                     activate / queueNotify / config
 *
 * Life cycle, as the transport drives it (§3.1.1):
 *   device: reset() …  [driver: ACKNOWLEDGE, DRIVER, features, FEATURES_OK re-read, queues, DRIVER_OK]
 *           → activate(features, queues)  → queueNotify(i) / poll() …  → reset() when the driver writes status 0.
 *   driver: negotiate(offered) → activate(features, queues, pool) → interrupt() / poll() … → reset().
 *
 * Layering: this file knows no device protocol, platform or OS; devices import it, transports implement the calls.
 */
import type { PhysicalMemory } from './memory.js';
import type { VirtqueueDevice, VirtqueueDriver } from './virtqueue.js';

/** One queue as a device sees it once the driver has set it up and DRIVER_OK has been seen. */
export interface DeviceQueue {
  /** Queue index (0-based, as in the device type's section of the spec: vsock 0 = rx, 1 = tx, 2 = event). */
  readonly index: number;
  /** The device side of the ring, built by the transport over the driver's ring addresses (split or packed). */
  readonly vq: VirtqueueDevice;
  /**
   * Signals used buffers to the driver (the "used buffer notification", §2.7.10 / §2.8.21): the transport raises
   * its interrupt, writes its call eventfd or sends its in-band message. The device calls it when `vq.publishUsed()`
   * returned true; the transport may coalesce.
   */
  notify(): void;
}

/** What a device receives when the driver sets DRIVER_OK. */
export interface DeviceActivation {
  /** The negotiated features (device-specific bits and transport bits alike). */
  readonly features: bigint;
  /** One entry per queue the device declared; `undefined` for a queue the driver did not enable. */
  readonly queues: readonly (DeviceQueue | undefined)[];
  /** The memory the driver's buffers live in; every address a descriptor carries is checked against it. */
  readonly memory: PhysicalMemory;
  /** Tells the driver that the config space changed (§2.5: configuration change notification). */
  configChanged(): void;
  /**
   * The device cannot go on (§2.1.2: DEVICE_NEEDS_RESET): the transport sets the status bit and notifies the
   * driver; the device is reset() when the driver resets it.
   */
  needsReset(reason: string): void;
}

/** The device role: what a transport needs to present a device to a driver. */
export interface VirtioDevice {
  /** VIRTIO device id (§5: console 3, rpmsg 7, vsock 19). */
  readonly deviceType: number;
  /** Device features offered (bit map); the transport adds no bits of its own unless the device offers them. */
  readonly deviceFeatures: bigint;
  /** Largest size of each queue; the length is the number of queues (§4.2.2.2 QueueNumMax, vhost-user GET_QUEUE_NUM). */
  readonly queueMaxSizes: readonly number[];
  /** Length of the device-specific configuration space in bytes (0 for none). */
  readonly configSize: number;
  /** Reads `dest.length` bytes of the config space from `offset` (little-endian fields, §2.5). Out of range → typed error. */
  readConfig(offset: number, dest: Uint8Array): void;
  /** The driver writes config space (e.g. console emerg_wr). Read-only fields: ignored or a typed error, per device. */
  writeConfig(offset: number, data: Uint8Array): void;
  /**
   * FEATURES_OK check (§3.1.1 step 5): returns a reason string to refuse the driver's feature set, or undefined to
   * accept it. Optional; by default any subset of the offered features is accepted.
   */
  checkFeatures?(features: bigint): string | undefined;
  /** DRIVER_OK: the queues are live. */
  activate(a: DeviceActivation): void;
  /** The driver notified queue `index` (available buffer notification, §2.7.13.3). */
  queueNotify(index: number): void;
  /**
   * Processes whatever is pending on every queue without waiting for a notification (for polling transports and
   * after enableNotifications() races); returns the number of buffers handled.
   */
  poll(): number;
  /** Device reset (status 0 written, front-end gone): forget the queues and every connection; stay usable. */
  reset(): void;
}

/** One queue as a driver sees it after activation. */
export interface DriverQueue {
  readonly index: number;
  /** The driver side of the ring; tokens are numbers (a buffer slot index of the driver's own choosing). */
  readonly vq: VirtqueueDriver<number>;
  /**
   * Publishes what was added (vq.kick()) and, when the device asked for it, sends the available buffer
   * notification through the transport. Returns whether a notification was sent.
   */
  kick(): boolean;
}

/** A range of driver-owned memory (non-secure, shared) the driver may place its buffers in. */
export interface BufferPool {
  readonly base: number;
  readonly size: number;
}

/** What a driver receives once the transport has negotiated features and set up its queues (before DRIVER_OK is set). */
export interface DriverActivation {
  readonly features: bigint;
  readonly queues: readonly DriverQueue[];
  readonly memory: PhysicalMemory;
  /** Memory reserved for this device's buffers (the transport's plan; disjoint from rings and other devices). */
  readonly pool: BufferPool;
  readConfig(offset: number, dest: Uint8Array): void;
  writeConfig(offset: number, data: Uint8Array): void;
}

/** The driver role: what a transport needs to bring a device up from the driver's side. */
export interface VirtioDriver {
  readonly deviceType: number;
  /** Picks the features to accept from the device's offer (§3.1.1 step 4). Must return a subset of `offered`. */
  negotiate(offered: bigint): bigint;
  /** Queues to set up and their sizes (each ≤ the device's max); called with the device's max sizes. */
  queueSizes(maxSizes: readonly number[]): readonly number[];
  /** Buffer pool the driver needs (bytes), so the transport can plan its memory. */
  readonly poolBytes: number;
  /** Queues are set up; post initial buffers here. The transport sets DRIVER_OK after this returns. */
  activate(a: DriverActivation): void;
  /** A used buffer or configuration change notification arrived (or the caller polls): returns buffers handled. */
  interrupt(): number;
  /** The device was reset (by us or DEVICE_NEEDS_RESET seen): forget buffers, fail pending operations. */
  reset(): void;
}

/**
 * What a device's guest-facing API may use of the partition that runs it (added for the per-device APIs built by the
 * device registry, e.g. `ctx.vsock`): a bounded wait that lets the transport and the device make progress, and time.
 */
export interface BindingEnv {
  /** Waits for an interrupt or timer (the partition's idle hook, at most `us`); true when something was handled. */
  wait(us: number): Promise<boolean>;
  /** Machine time in µs. */
  now(): number;
}
