/**
 * The driver side of the resource-table transport (the non-secure partition): brings a VirtioDriver up over one vdev
 * of the table, in the order of VIRTIO 1.2 §3.1.1, without ever blocking (the device may run on another core, or only
 * when this core yields to it), so the handshake is a state machine that poll() advances:
 *
 *   start ─► reset: write 0, wait for ack 0
 *         ─► write ACKNOWLEDGE|DRIVER, read dfeatures, write gfeatures, write +FEATURES_OK, kick
 *         ─► wait for the device's ack; re-read status: FEATURES_OK gone → FAILED (refused, §3.1.1 step 6)
 *         ─► zero the rings, build the queues, driver.activate() (posts buffers), write +DRIVER_OK, kick ─► live
 *   live  ─► poll() = driver.interrupt(); DEVICE_NEEDS_RESET seen → driver.reset(), state 'needs-reset'
 *
 * With `awaitAck: false` (firmware that does not write the ack byte) the driver does not wait at FEATURES_OK.
 */
import type { PhysicalMemory } from '../../virtio/memory.js';
import { DeviceStatus } from '../../virtio/status.js';
import { VirtioFeature, bit } from '../../virtio/features.js';
import { SplitVirtqueueDriver } from '../../virtio/split/driver.js';
import { splitLegacyLayout } from '../../virtio/split/layout.js';
import type { DriverQueue, VirtioDriver } from '../../virtio/device.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { badQueueSize, checkConfigAccess, driverQueue, unofferedFeatures } from '../driver-setup.js';
import { DriverTransportState } from '../driver-state.js';
import { RSC_VRING_SIZE, RSC_VDEV_SIZE } from './codec.js';
import { RSC_VDEV_ACK_OFFSET, SharedByte } from './status-byte.js';
import { RSC_VDEV_GFEATURES_OFFSET, readDeviceFeatures } from './handshake.js';
import type { VdevPlacement } from './plan.js';
import { traceDriverQueue } from '../../trace/queues.js';

export type RscDriverState = 'idle' | 'resetting' | 'features' | 'live' | 'failed' | 'needs-reset';

export interface RscDriverTransportOptions {
  /** Memory holding the IPC window (table, rings, this device's pool). */
  readonly memory: PhysicalMemory;
  readonly vdev: VdevPlacement;
  readonly driver: VirtioDriver;
  /** Sends an available-buffer notification for the vring with this rproc-wide notify id. */
  readonly kick: (notifyid: number) => void;
  /** Wait for the device's ack byte at reset and FEATURES_OK (default true). */
  readonly awaitAck?: boolean;
}

export interface RscDriverStats {
  starts: number;
  kicks: number;
  interrupts: number;
}

const ACK_DRIVER = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER;
const VERSION_1 = bit(VirtioFeature.VERSION_1);

export class RscTableDriverTransport extends DriverTransportState<RscDriverState> {
  readonly stats: RscDriverStats = { starts: 0, kicks: 0, interrupts: 0 };
  private readonly memory: PhysicalMemory;
  private readonly vdev: VdevPlacement;
  private readonly status: SharedByte;
  private readonly ack: SharedByte;
  private readonly kickFn: (notifyid: number) => void;
  private readonly awaitAck: boolean;
  private queues: DriverQueue[] = [];

  constructor(o: RscDriverTransportOptions) {
    super(o.driver, o.vdev.deviceType, 'vdev', 'idle');
    if (o.driver.poolBytes > o.vdev.pool.size) {
      throw new TransportError(TransportErrorCode.BAD_LAYOUT, `driver needs a pool of ${o.driver.poolBytes} bytes, the plan has ${o.vdev.pool.size}`);
    }
    this.memory = o.memory;
    this.vdev = o.vdev;
    this.kickFn = o.kick;
    this.awaitAck = o.awaitAck ?? true;
    this.status = new SharedByte(o.memory, o.vdev.statusAddr, 'vdev status byte');
    this.ack = new SharedByte(o.memory, o.vdev.entry + RSC_VDEV_ACK_OFFSET, 'vdev ack byte');
  }

  /** (Re)starts the handshake from a device reset. */
  start(): void {
    this.stopDriver();
    this.stats.starts++;
    this.lastError = undefined;
    this.queues = [];
    this.status.store(0);
    this.st = 'resetting';
    this.kick();
  }

  /** Resets the device and stays down (status 0). */
  stop(): void {
    this.stopDriver();
    this.status.store(0);
    this.st = 'idle';
    this.kick();
  }

  /** Advances the handshake, or (live) lets the driver handle used buffers. Returns the work done. */
  poll(): number {
    switch (this.st) {
      case 'idle':
      case 'failed':
        return 0;
      case 'resetting':
        if (this.awaitAck && this.ack.load() !== 0) return 0;
        this.negotiate();
        return 1;
      case 'features':
        return this.afterFeaturesOk();
      case 'needs-reset':
        return 0;
      case 'live':
        if (this.deviceNeedsReset(this.status.load(), `vdev ${this.vdev.index}: the device set DEVICE_NEEDS_RESET`)) return 1;
        return this.interruptDriver();
    }
  }

  private kick(): void {
    this.stats.kicks++;
    this.kickFn(this.vdev.vrings[0]!.notifyid);
  }

  private negotiate(): void {
    this.status.store(DeviceStatus.ACKNOWLEDGE);
    this.status.store(ACK_DRIVER);
    // VERSION_1 is the transport's (see plan.ts): offered, and in force whatever the driver picks
    const offered = BigInt(readDeviceFeatures(this.memory, this.vdev.entry)) | VERSION_1;
    const accepted = this.driver.negotiate(offered) | VERSION_1;
    const unoffered = unofferedFeatures(accepted, offered);
    if (unoffered !== undefined) {
      this.failWith(TransportErrorCode.FEATURES_REFUSED, unoffered);
      return;
    }
    this.features = accepted;
    this.memory.write32(this.vdev.entry + RSC_VDEV_GFEATURES_OFFSET, Number(accepted & 0xffff_ffffn) >>> 0);
    this.status.store(ACK_DRIVER | DeviceStatus.FEATURES_OK);
    this.st = 'features';
    this.kick();
  }

  private afterFeaturesOk(): number {
    const s = this.status.load();
    if ((s & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) {
      this.st = 'needs-reset';
      this.lastError = new TransportError(TransportErrorCode.NEEDS_RESET, `vdev ${this.vdev.index}: DEVICE_NEEDS_RESET during initialisation`);
      return 1;
    }
    if (this.awaitAck && this.ack.load() !== s) return 0;
    // §3.1.1 step 6: re-read; FEATURES_OK cleared means the device refused the feature set
    if ((s & DeviceStatus.FEATURES_OK) === 0) {
      this.failWith(TransportErrorCode.FEATURES_REFUSED, `vdev ${this.vdev.index}: the device refused features 0x${this.features.toString(16)}`);
      return 1;
    }
    this.setUpQueues();
    return 1;
  }

  private setUpQueues(): void {
    const v = this.vdev;
    const sizes = this.driver.queueSizes(v.vrings.map((r) => r.num));
    if (sizes.length !== v.vrings.length) {
      this.failWith(TransportErrorCode.BAD_ARGUMENT, `driver set up ${sizes.length} queues, the vdev has ${v.vrings.length}`);
      return;
    }
    const opts = { features: this.features };
    this.queues = v.vrings.map((r, index) => {
      const n = sizes[index]!;
      const badSize = badQueueSize(index, n, r.num);
      if (badSize !== undefined) throw new TransportError(TransportErrorCode.BAD_ARGUMENT, badSize);
      // the vring's num in the table is the driver's to lower (the device checks it at DRIVER_OK)
      this.memory.write32(v.entry + RSC_VDEV_SIZE + RSC_VRING_SIZE * index + 8, n);
      const l = splitLegacyLayout(r.da, n, r.align);
      this.memory.fill(r.da, l.totalBytes);
      const notifyid = r.notifyid;
      // trace track = the vring's notify id (unique in the table)
      const vq = traceDriverQueue(new SplitVirtqueueDriver<number>(this.memory, n, { desc: l.desc, avail: l.avail, used: l.used }, opts), notifyid);
      return driverQueue(index, vq, () => {
        this.stats.kicks++;
        this.kickFn(notifyid);
      });
    });
    const cfgAddr = v.configAddr;
    const cfgSize = v.configSize;
    this.driver.activate({
      features: this.features,
      queues: this.queues,
      memory: this.memory,
      pool: { base: v.pool.base, size: v.pool.size },
      readConfig: (offset, dest) => {
        checkConfigAccess(offset, dest.length, cfgSize);
        this.memory.read(cfgAddr + offset, dest);
      },
      writeConfig: (offset, data) => {
        checkConfigAccess(offset, data.length, cfgSize);
        this.memory.write(cfgAddr + offset, data);
        this.kick();
      },
    });
    this.status.store(ACK_DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
    this.st = 'live';
    this.kick();
  }

  private failWith(code: TransportErrorCode, msg: string): void {
    this.lastError = new TransportError(code, msg);
    this.status.or(DeviceStatus.FAILED);
    this.st = 'failed';
  }
}
