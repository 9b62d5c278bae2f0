/**
 * The loopback transport: one driver and one device in the same thread over one PhysicalMemory, with no status
 * register and no interrupt controller in between. It plays §3.1.1 in order (features, FEATURES_OK check, queues,
 * DRIVER_OK) and turns notifications into direct calls, deferred to `pump()` so neither side re-enters the other.
 * For tests, property tests and in-thread benchmarks of devices; the machine uses the rsc-table and mmio transports.
 *
 *   memory at `base`:  [queue 0 rings][queue 1 rings]…  [driver buffer pool of driver.poolBytes]
 */
import { PhysicalMemory } from '../virtio/memory.js';
import { VirtioFeature, bit, hasFeature } from '../virtio/features.js';
import { VirtioError, VirtioErrorCode } from '../virtio/errors.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import { SplitVirtqueueDriver } from '../virtio/split/driver.js';
import { SplitVirtqueueDevice } from '../virtio/split/device.js';
import { PackedVirtqueueDriver } from '../virtio/packed/driver.js';
import { PackedVirtqueueDevice } from '../virtio/packed/device.js';
import { packedRingSizes } from '../virtio/packed/layout.js';
import type { DeviceQueue, DriverQueue, VirtioDevice, VirtioDriver } from '../virtio/device.js';
import type { VirtqueueDevice, VirtqueueDriver } from '../virtio/virtqueue.js';

export interface LoopbackOptions {
  /** Base address of the shared region. Default 0x1000_0000. */
  readonly base?: number;
  /** Bytes of shared memory; default: just enough for the rings and the pool. */
  readonly size?: number;
  /** Features the transport itself allows (AND-ed with the offer). Default: all of the device's offer. */
  readonly transportFeatures?: bigint;
}

export interface LoopbackStats {
  driverKicks: number;
  deviceNotifies: number;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** A wired driver/device pair. Call pump() until it returns 0 to let notifications flow. */
export class LoopbackTransport {
  readonly memory: PhysicalMemory;
  readonly features: bigint;
  readonly stats: LoopbackStats = { driverKicks: 0, deviceNotifies: 0 };
  private readonly kicked = new Set<number>();
  private interruptPending = false;

  constructor(
    readonly driver: VirtioDriver,
    readonly device: VirtioDevice,
    opts: LoopbackOptions = {},
  ) {
    if (driver.deviceType !== device.deviceType) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `driver for type ${driver.deviceType} cannot drive a device of type ${device.deviceType}`);
    }
    const offered = device.deviceFeatures & (opts.transportFeatures ?? device.deviceFeatures);
    const accepted = driver.negotiate(offered);
    if ((accepted & ~offered) !== 0n) {
      throw new VirtioError(VirtioErrorCode.FEATURE_NOT_OFFERED, `driver accepted features not offered: 0x${(accepted & ~offered).toString(16)}`);
    }
    const refused = device.checkFeatures?.(accepted);
    if (refused !== undefined) throw new VirtioError(VirtioErrorCode.FEATURES_REFUSED, `device refused FEATURES_OK: ${refused}`);
    this.features = accepted;
    const packed = hasFeature(accepted, VirtioFeature.RING_PACKED);
    const sizes = driver.queueSizes(device.queueMaxSizes);
    const base = opts.base ?? 0x1000_0000;
    // plan: rings one after the other (4 KiB aligned, as vring_init with align 4096), then the pool
    let at = base;
    const plans = sizes.map((n, i) => {
      const max = device.queueMaxSizes[i];
      if (max === undefined || n < 1 || n > max) throw new VirtioError(VirtioErrorCode.BAD_QUEUE_SIZE, `queue ${i}: size ${n} outside 1..${String(max)}`);
      const start = at;
      if (packed) {
        const s = packedRingSizes(n);
        const addrs = { desc: start, driverEvent: start + s.descBytes, deviceEvent: start + s.descBytes + 4 };
        at = align(start + s.descBytes + 8, 4096);
        return { n, packed: addrs, split: undefined };
      }
      const l = splitLegacyLayout(start, n, 4096);
      at = align(start + l.totalBytes, 4096);
      return { n, packed: undefined, split: { desc: l.desc, avail: l.avail, used: l.used } };
    });
    const pool = { base: at, size: driver.poolBytes };
    const size = opts.size ?? align(at + pool.size - base, 4096) + 4096;
    this.memory = new PhysicalMemory([{ name: 'loopback', base, size }]);
    const memory = this.memory;
    const queueOpts = { features: accepted };
    const dq: DriverQueue[] = plans.map((p, index) => {
      const vq: VirtqueueDriver<number> = p.packed
        ? new PackedVirtqueueDriver<number>(memory, p.n, p.packed, queueOpts)
        : new SplitVirtqueueDriver<number>(memory, p.n, p.split!, queueOpts);
      return {
        index,
        vq,
        kick: () => {
          const want = vq.kick();
          if (want) {
            this.stats.driverKicks++;
            this.kicked.add(index);
          }
          return want;
        },
      };
    });
    const cq: DeviceQueue[] = plans.map((p, index) => {
      const vq: VirtqueueDevice = p.packed ? new PackedVirtqueueDevice(memory, p.n, p.packed, queueOpts) : new SplitVirtqueueDevice(memory, p.n, p.split!, queueOpts);
      return {
        index,
        vq,
        notify: () => {
          this.stats.deviceNotifies++;
          this.interruptPending = true;
        },
      };
    });
    driver.activate({
      features: accepted,
      queues: dq,
      memory,
      pool,
      readConfig: (o, d) => device.readConfig(o, d),
      writeConfig: (o, d) => device.writeConfig(o, d),
    });
    device.activate({
      features: accepted,
      queues: cq,
      memory,
      configChanged: () => {
        this.interruptPending = true;
      },
      needsReset: (reason) => {
        throw new VirtioError(VirtioErrorCode.DEVICE_NEEDS_RESET, `device needs reset: ${reason}`);
      },
    });
    // a driver that posted buffers in activate() kicked before the device was live: deliver those kicks now
  }

  /** Delivers pending notifications both ways once; returns the buffers handled. */
  pump(): number {
    let n = 0;
    if (this.kicked.size > 0) {
      const qs = [...this.kicked];
      this.kicked.clear();
      for (const q of qs) this.device.queueNotify(q);
    }
    n += this.device.poll();
    if (this.interruptPending) this.interruptPending = false;
    n += this.driver.interrupt();
    return n;
  }

  /** pump() until nothing moves (at most `maxRounds`); returns the rounds taken. */
  settle(maxRounds = 10_000): number {
    for (let r = 1; r <= maxRounds; r++) {
      if (this.pump() === 0 && this.kicked.size === 0 && !this.interruptPending) return r;
    }
    throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `loopback did not settle in ${maxRounds} rounds`);
  }

  /** True when RING_PACKED was negotiated. */
  get packed(): boolean {
    return (this.features & bit(VirtioFeature.RING_PACKED)) !== 0n;
  }
}
