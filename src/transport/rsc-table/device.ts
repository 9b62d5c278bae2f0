/**
 * The device side of the resource-table transport (the secure partition): watches one vdev's status byte in shared
 * memory, plays the device's part of VIRTIO 1.2 §3.1.1 and presents the VirtioDevice to the driver.
 *
 * Everything in the table sits in non-secure memory the driver can write at any time, so nothing is trusted:
 *   - every status the driver writes goes through checkStatusWrite (§2.1.1 / §3.1.1 order); a broken rule sets
 *     DEVICE_NEEDS_RESET (§2.1.2) and the device stays down until the driver writes 0;
 *   - at FEATURES_OK the driver's gfeatures must be a subset of what this device offered (the offer is kept here, not
 *     re-read from the table) and pass the device's own check, else FEATURES_OK is cleared (§3.1.1 step 6);
 *   - at DRIVER_OK the vdev entry is copied out and checked against the plan: same id, vring count, config length,
 *     ring addresses and alignment; a vring's num may only shrink, to a power of two; anything else is tampering
 *     (DEVICE_NEEDS_RESET). Rings are then built over the plan's addresses, never over what the table claims;
 *   - the VirtioDevice sees only the memory it was given (the IPC window), so a descriptor pointing elsewhere finds
 *     no memory (a typed error), never secure RAM.
 *
 * poll() does at most one status step and then lets the device process its queues; it never blocks and never throws
 * for anything the driver did (the error is counted, kept in `lastError`, and the device needs a reset).
 */
import type { PhysicalMemory } from '../../virtio/memory.js';
import { DeviceStatus, checkStatusWrite } from '../../virtio/status.js';
import { VirtioFeature, bit } from '../../virtio/features.js';
import { SplitVirtqueueDevice } from '../../virtio/split/device.js';
import { splitLegacyLayout } from '../../virtio/split/layout.js';
import type { DeviceQueue, VirtioDevice } from '../../virtio/device.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { RSC_VDEV_SIZE, RSC_VRING_SIZE, ResourceType } from './codec.js';
import { RSC_VDEV_ACK_OFFSET, SharedByte } from './status-byte.js';
import { RSC_VDEV_CONFIG_LEN_OFFSET, RSC_VDEV_GFEATURES_OFFSET, deviceCheckFeatures } from './handshake.js';
import type { VdevPlacement } from './plan.js';
import { traceDeviceQueue } from '../../trace/queues.js';

export type RscDeviceState = 'reset' | 'negotiating' | 'live' | 'needs-reset';

export interface RscDeviceStats {
  statusWrites: number;
  activations: number;
  resets: number;
  featuresRefused: number;
  needsReset: number;
  notifies: number;
}

export interface RscDeviceTransportOptions {
  /** Memory holding the IPC window only (the table, the rings and the driver's buffers). */
  readonly memory: PhysicalMemory;
  readonly vdev: VdevPlacement;
  readonly device: VirtioDevice;
  /** Sends a used-buffer (or config) notification for the vring with this rproc-wide notify id. */
  readonly notify: (notifyid: number) => void;
}

const INIT_BITS = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK;

export class RscTableDeviceTransport {
  readonly stats: RscDeviceStats = { statusWrites: 0, activations: 0, resets: 0, featuresRefused: 0, needsReset: 0, notifies: 0 };
  /** The last rule the driver broke, if any. */
  lastError: TransportError | undefined;
  private readonly memory: PhysicalMemory;
  private readonly vdev: VdevPlacement;
  private readonly device: VirtioDevice;
  private readonly status: SharedByte;
  private readonly ack: SharedByte;
  private readonly notifyFn: (notifyid: number) => void;
  /** The status as this device has validated it (the driver's bits plus ours). */
  private seen = 0;
  private live = false;
  private broken = false;
  private features = 0n;
  private readonly configSnapshot: Uint8Array;

  constructor(o: RscDeviceTransportOptions) {
    this.memory = o.memory;
    this.vdev = o.vdev;
    this.device = o.device;
    this.notifyFn = o.notify;
    if (o.device.deviceType !== o.vdev.deviceType) {
      throw new TransportError(TransportErrorCode.BAD_ARGUMENT, `device type ${o.device.deviceType} placed in a vdev of type ${o.vdev.deviceType}`);
    }
    if (o.device.queueMaxSizes.length !== o.vdev.vrings.length) {
      throw new TransportError(TransportErrorCode.BAD_ARGUMENT, `device has ${o.device.queueMaxSizes.length} queues, its vdev ${o.vdev.vrings.length} vrings`);
    }
    this.status = new SharedByte(o.memory, o.vdev.statusAddr, 'vdev status byte');
    this.ack = new SharedByte(o.memory, o.vdev.entry + RSC_VDEV_ACK_OFFSET, 'vdev ack byte');
    this.configSnapshot = new Uint8Array(o.vdev.configSize);
    this.publishConfig();
  }

  /** Notifications this end sent to the other side (used-buffer / available-buffer, handshake kicks included). */
  get notificationsSent(): number {
    return this.stats.notifies;
  }

  get state(): RscDeviceState {
    if (this.broken) return 'needs-reset';
    if (this.live) return 'live';
    return this.seen === 0 ? 'reset' : 'negotiating';
  }

  get negotiatedFeatures(): bigint {
    return this.features;
  }

  /** One step: follow the status byte, deliver driver config writes, let a live device process its queues. */
  poll(): number {
    let n = 0;
    const s = this.status.load();
    if (s !== this.seen) {
      this.onStatus(s);
      n++;
    }
    if (this.live) {
      n += this.pollConfig();
      n += this.device.poll();
    }
    return n;
  }

  /** A kick for one of this vdev's vrings (notify id rproc-wide); a no-op unless live. */
  queueNotify(notifyid: number): void {
    if (!this.live) return;
    const i = this.vdev.vrings.findIndex((r) => r.notifyid === notifyid);
    if (i >= 0) this.device.queueNotify(i);
  }

  /** The peer partition is gone (the hypervisor reset it): forget everything, as on a status write of 0. */
  peerReset(): void {
    this.doReset();
    this.status.store(0);
  }

  private onStatus(s: number): void {
    this.stats.statusWrites++;
    if (s === 0) {
      this.doReset();
      return;
    }
    if (this.broken) {
      // only a reset gets out of DEVICE_NEEDS_RESET; whatever else the driver writes is noted once, not re-read
      this.seen = s;
      return;
    }
    let next: number;
    try {
      next = checkStatusWrite(this.seen, s);
    } catch (e) {
      this.fail(TransportErrorCode.BAD_STATUS, `status write 0x${s.toString(16)} over 0x${this.seen.toString(16)}: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const added = next & ~this.seen & INIT_BITS;
    if ((added & DeviceStatus.FEATURES_OK) !== 0) {
      const refusal = this.checkFeatures();
      if (refusal !== undefined) {
        // §3.1.1 step 6: FEATURES_OK does not stick; the driver re-reads it and gives up
        this.stats.featuresRefused++;
        this.lastError = new TransportError(TransportErrorCode.FEATURES_REFUSED, refusal);
        next &= ~(DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
        this.status.and(~(DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK) & 0xff);
        this.seen = next;
        this.ack.store(next);
        return;
      }
    }
    if ((added & DeviceStatus.DRIVER_OK) !== 0 && !this.activate()) return;
    this.seen = next;
    this.ack.store(next);
  }

  private checkFeatures(): string | undefined {
    const check = deviceCheckFeatures(this.memory, this.vdev.entry, this.vdev.dfeatures >>> 0, 0xffff_ffff);
    if ('refused' in check) return check.refused;
    const g = check.features;
    // VERSION_1 is the transport's and always in force (plan.ts)
    const features = BigInt(g) | bit(VirtioFeature.VERSION_1);
    const r = this.device.checkFeatures?.(features);
    if (r !== undefined) return r;
    this.features = features;
    return undefined;
  }

  /** DRIVER_OK: copy the entry out, check it against the plan, build the queues, activate the device. */
  private activate(): boolean {
    const v = this.vdev;
    const nv = v.vrings.length;
    const bytes = this.memory.bytes(v.entry, RSC_VDEV_SIZE + RSC_VRING_SIZE * nv).slice();
    const dv = new DataView(bytes.buffer);
    const tamper = (what: string) => this.fail(TransportErrorCode.TABLE_TAMPERED, `vdev ${v.index}: ${what}`);
    if (dv.getUint32(0, true) !== ResourceType.VDEV || dv.getUint32(4, true) !== v.deviceType) return tamper('type or id changed'), false;
    if (dv.getUint8(25) !== nv || dv.getUint32(RSC_VDEV_CONFIG_LEN_OFFSET, true) !== v.configSize) return tamper('vring count or config length changed'), false;
    if ((dv.getUint32(RSC_VDEV_GFEATURES_OFFSET, true) >>> 0) !== Number(this.features & 0xffff_ffffn)) return tamper('gfeatures changed after FEATURES_OK'), false;
    const queues: DeviceQueue[] = [];
    for (let i = 0; i < nv; i++) {
      const p = v.vrings[i]!;
      const o = RSC_VDEV_SIZE + RSC_VRING_SIZE * i;
      const da = dv.getUint32(o, true);
      const align = dv.getUint32(o + 4, true);
      const num = dv.getUint32(o + 8, true);
      if (da !== p.da || align !== p.align) return tamper(`vring ${i} moved (da 0x${da.toString(16)}, align ${align})`), false;
      const max = Math.min(p.num, this.device.queueMaxSizes[i] ?? 0);
      if (num < 1 || num > max || (num & (num - 1)) !== 0) return tamper(`vring ${i}: num ${num} is not a power of two in 1..${max}`), false;
      const l = splitLegacyLayout(p.da, num, p.align);
      const notifyid = p.notifyid;
      // trace track = the vring's notify id (unique in the table)
      const vq = traceDeviceQueue(new SplitVirtqueueDevice(this.memory, num, { desc: l.desc, avail: l.avail, used: l.used }, { features: this.features }), notifyid);
      queues.push({
        index: i,
        vq,
        notify: () => {
          this.stats.notifies++;
          this.notifyFn(notifyid);
        },
      });
    }
    this.live = true;
    this.stats.activations++;
    const first = v.vrings[0]!.notifyid;
    this.device.activate({
      features: this.features,
      queues,
      memory: this.memory,
      configChanged: () => {
        this.publishConfig();
        this.notifyFn(first);
      },
      needsReset: (reason) => this.fail(TransportErrorCode.NEEDS_RESET, reason),
    });
    return true;
  }

  /** Writes the device's config space into the table and remembers it (to see what the driver changes). */
  private publishConfig(): void {
    if (this.vdev.configSize === 0) return;
    this.device.readConfig(0, this.configSnapshot);
    this.memory.write(this.vdev.configAddr, this.configSnapshot);
  }

  /** Driver writes to config space arrive as changed bytes in the table: hand the changed span to the device. */
  private pollConfig(): number {
    const n = this.vdev.configSize;
    if (n === 0) return 0;
    const cur = this.memory.bytes(this.vdev.configAddr, n);
    let lo = -1;
    let hi = -1;
    for (let i = 0; i < n; i++) {
      if (cur[i] !== this.configSnapshot[i]) {
        if (lo < 0) lo = i;
        hi = i;
      }
    }
    if (lo < 0) return 0;
    const span = cur.slice(lo, hi + 1);
    try {
      this.device.writeConfig(lo, span);
    } catch {
      // a refused write (read-only field): the device's view wins, republished below
    }
    this.publishConfig();
    return 1;
  }

  private fail(code: TransportErrorCode, msg: string): void {
    this.lastError = new TransportError(code, msg);
    this.stats.needsReset++;
    this.broken = true;
    if (this.live) {
      this.live = false;
      this.device.reset();
    }
    this.status.or(DeviceStatus.DEVICE_NEEDS_RESET);
    this.seen = this.status.load();
    this.ack.store(this.seen);
    // tell the driver (a configuration change notification, §2.1.2)
    this.notifyFn(this.vdev.vrings[0]!.notifyid);
  }

  private doReset(): void {
    if (this.live || this.seen !== 0 || this.broken) {
      this.stats.resets++;
      this.device.reset();
    }
    this.live = false;
    this.broken = false;
    this.seen = 0;
    this.features = 0n;
    this.ack.store(0);
    this.publishConfig();
  }
}
