/**
 * The device side of a virtio-mmio version 2 register file (VIRTIO 1.2 §4.2.2 – §4.2.3).
 *
 * A transport (a trapped load/store, a mailbox message from another worker, a test) calls `read(offset, size)` and
 * `write(offset, value, size)`; every side effect runs here, in the device's context, and reaches the device
 * implementation through the hooks (onQueueReady, onNotify, onReset, ...).
 *
 * A driver's mistake never throws out of read()/write(): the access is ignored (reads return 0), and it is reported as
 * an MmioFault through `onFault` and `lastFault`, the way a real device would ignore the access and a model would log
 * it. The rules enforced:
 * - control registers (< 0x100) take aligned 32-bit accesses only; config space takes 8/16/32-bit aligned accesses;
 * - writes to read-only registers and reads of write-only ones are refused (§4.2.2.2);
 * - Status goes through the §3.1.1 state machine (StatusRegister); FEATURES_OK is refused (does not stick) when the
 *   accepted features fail checkFeatureSet or the device's own check;
 * - DriverFeatures is locked once FEATURES_OK is set; QueueNum must be 1..QueueNumMax and, unless RING_PACKED was
 *   negotiated, a power of two; queue registers are locked while QueueReady is 1 (§4.2.2.2);
 * - QueueNotify is delivered only after DRIVER_OK to a ready queue (§3.1.1); with NOTIFICATION_DATA it is decoded.
 */
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { DeviceStatus, StatusRegister } from '../status.js';
import { VirtioFeature, bit, checkFeatureSet, hasFeature, MMIO_UNSUPPORTED_FEATURES, type FeatureRules } from '../features.js';
import { addrHi, addrLo, hex, toAddress } from '../memory.js';
import {
  MMIO_INTERRUPT_MASK,
  MMIO_MAGIC,
  MMIO_REGISTER_DIRECTION,
  MMIO_VERSION,
  MmioInterrupt,
  MmioReg,
  decodeMmioNotify,
  mmioRegisterName,
} from './registers.js';

/** Where a queue lives, as the driver configured it. */
export interface MmioQueueConfig {
  readonly size: number;
  /** Descriptor Area (split: descriptor table; packed: descriptor ring). */
  readonly desc: number;
  /** Driver Area (split: avail ring; packed: driver event suppression). */
  readonly driver: number;
  /** Device Area (split: used ring; packed: device event suppression). */
  readonly device: number;
}

/** Extra data of a notification when VIRTIO_F_NOTIFICATION_DATA is negotiated (§2.9). */
export interface MmioNotifyData {
  readonly off: number;
  readonly wrap: number;
}

/** A refused access: what the driver did and which rule it broke. */
export interface MmioFault {
  readonly op: 'read' | 'write';
  readonly offset: number;
  readonly register: string;
  readonly value?: number;
  readonly code: VirtioErrorCode;
  readonly message: string;
}

export interface MmioShmRegion {
  readonly base: number;
  readonly len: number;
}

export interface MmioDeviceHooks {
  /** The driver set QueueReady=1 with a valid configuration. Throwing a VirtioError refuses it (QueueReady stays 0). */
  onQueueReady?(index: number, config: MmioQueueConfig): void;
  /** The driver wrote 0 to QueueReady of a ready queue. */
  onQueueStop?(index: number): void;
  /** The driver reset one queue through QueueReset (RING_RESET). */
  onQueueReset?(index: number): void;
  /** An available buffer notification; `data` only when NOTIFICATION_DATA is negotiated. */
  onNotify?(index: number, data: MmioNotifyData | undefined): void;
  /** The driver wrote 0 to Status: the device must forget every queue and go back to its initial state. */
  onReset?(): void;
  /** Status changed (after the device's own handling, e.g. FEATURES_OK refused). */
  onStatus?(status: number, previous: number): void;
  /** InterruptStatus went from 0 to non-zero (assert the line) or back to 0 (deassert). */
  onInterrupt?(asserted: boolean, status: number): void;
  /**
   * The driver wrote the config space. Return true to accept (the bytes are then stored); default: refused (the
   * config space is read-only unless the device type says otherwise).
   */
  onConfigWrite?(offset: number, size: number, value: number): boolean;
  /** A refused access. */
  onFault?(fault: MmioFault): void;
  /**
   * The device type's own check of the accepted features at FEATURES_OK (after the generic one). Throw a
   * VirtioError (or return false) to refuse.
   */
  validateFeatures?(accepted: bigint): boolean | void;
}

export interface MmioDeviceOptions {
  /** Virtio device ID (§5: net 1, block 2, console 3, entropy 4, rpmsg 7, ...). 0 = placeholder, no device. */
  readonly deviceId: number;
  /** Default 0x5a54_5654 ("TVTZ" read as little-endian bytes "TVTZ"). */
  readonly vendorId?: number;
  /** Offered features. VERSION_1 is always added (§6.2: a device MUST offer it). */
  readonly features: bigint;
  /** QueueNumMax of each queue (the number of queues is the array's length); 0 = queue not available. */
  readonly queueNumMax: readonly number[];
  /** Initial device configuration space (copied). Default: empty. */
  readonly config?: Uint8Array;
  /** Shared memory regions by id (§2.10). Default: none. */
  readonly shm?: readonly MmioShmRegion[];
  /** Dependency rules for checkFeatureSet. Default: modern-only, SR_IOV unsupported on mmio. */
  readonly featureRules?: FeatureRules;
  readonly hooks?: MmioDeviceHooks;
}

interface QueueState {
  readonly max: number;
  num: number;
  ready: boolean;
  descLo: number;
  descHi: number;
  driverLo: number;
  driverHi: number;
  deviceLo: number;
  deviceHi: number;
}

const QUEUE_SIZE_LIMIT = 32768;

export class MmioDevice {
  readonly deviceId: number;
  readonly vendorId: number;
  /** Offered features (with VERSION_1). */
  readonly deviceFeatures: bigint;
  readonly hooks: MmioDeviceHooks;
  /** The last refused access, if any; `faultCount` counts them all. */
  lastFault: MmioFault | undefined;
  faultCount = 0;

  private readonly status = new StatusRegister();
  private readonly queues: QueueState[];
  private readonly rules: FeatureRules;
  private readonly config: Uint8Array;
  private readonly configView: DataView;
  private readonly shm: readonly MmioShmRegion[];
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  /** Bits 0..63 the driver wrote; `driverFeaturesBeyond` remembers a non-zero write to a window above bit 63. */
  private driverFeaturesValue = 0n;
  private driverFeaturesBeyond = false;
  private queueSel = 0;
  private shmSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;

  constructor(opts: MmioDeviceOptions) {
    if (!Number.isInteger(opts.deviceId) || opts.deviceId < 0 || opts.deviceId > 0xffff_ffff) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `bad device id ${opts.deviceId}`);
    }
    for (const m of opts.queueNumMax) {
      if (!Number.isInteger(m) || m < 0 || m > QUEUE_SIZE_LIMIT) {
        throw new VirtioError(VirtioErrorCode.BAD_QUEUE_SIZE, `QueueNumMax ${m} must be 0..${QUEUE_SIZE_LIMIT}`, { max: m });
      }
    }
    this.deviceId = opts.deviceId;
    this.vendorId = (opts.vendorId ?? 0x5a54_5654) >>> 0;
    this.deviceFeatures = BigInt.asUintN(64, opts.features | bit(VirtioFeature.VERSION_1));
    this.hooks = opts.hooks ?? {};
    this.rules = opts.featureRules ?? { unsupported: MMIO_UNSUPPORTED_FEATURES };
    this.queues = opts.queueNumMax.map((max) => ({ max, num: 0, ready: false, descLo: 0, descHi: 0, driverLo: 0, driverHi: 0, deviceLo: 0, deviceHi: 0 }));
    this.config = new Uint8Array(opts.config ?? new Uint8Array(0));
    this.configView = new DataView(this.config.buffer, this.config.byteOffset, this.config.byteLength);
    this.shm = opts.shm ?? [];
  }

  // ---- device-side API -------------------------------------------------------------------------------------------

  /** Current device status. */
  get deviceStatus(): number {
    return this.status.get();
  }

  /** The features the driver accepted (meaningful once FEATURES_OK is set). */
  get driverFeatures(): bigint {
    return this.driverFeaturesValue;
  }

  /** Features in force: the accepted set once FEATURES_OK stuck, 0n before. */
  get negotiatedFeatures(): bigint {
    return this.status.has(DeviceStatus.FEATURES_OK) ? this.driverFeaturesValue : 0n;
  }

  get numQueues(): number {
    return this.queues.length;
  }

  /** The configuration of queue `index` when it is ready, else undefined. */
  queueConfig(index: number): MmioQueueConfig | undefined {
    const q = this.queues[index];
    return q?.ready ? this.configOf(q) : undefined;
  }

  get interrupts(): number {
    return this.interruptStatus;
  }

  get generation(): number {
    return this.configGeneration;
  }

  /** The device used buffers on some queue: sets InterruptStatus bit 0 (§4.2.3.4). Only after DRIVER_OK (§2.1.2). */
  raiseUsedBuffer(): boolean {
    if (!this.status.has(DeviceStatus.DRIVER_OK)) return false;
    this.raise(MmioInterrupt.VRING);
    return true;
  }

  /** A configuration change notification: sets InterruptStatus bit 1. */
  raiseConfigChange(): void {
    this.raise(MmioInterrupt.CONFIG);
  }

  /**
   * The device changes its configuration space: bumps ConfigGeneration (§2.5: so a driver reading across the change
   * sees two different generations) and notifies the driver when it is live.
   */
  setConfig(offset: number, bytes: Uint8Array): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + bytes.length > this.config.length) {
      throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `config write of ${bytes.length} bytes at ${offset} exceeds the ${this.config.length}-byte config space`);
    }
    this.config.set(bytes, offset);
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status.has(DeviceStatus.DRIVER_OK)) this.raise(MmioInterrupt.CONFIG);
  }

  /** A copy of the configuration space. */
  configBytes(): Uint8Array {
    return this.config.slice();
  }

  /** The device hit an unrecoverable error: DEVICE_NEEDS_RESET, and a config change notification once live (§2.1.2). */
  needsReset(): void {
    this.status.needsReset();
    if (this.status.has(DeviceStatus.DRIVER_OK)) this.raise(MmioInterrupt.CONFIG);
  }

  // ---- the register file ------------------------------------------------------------------------------------------

  /** A driver read of `size` bytes (1, 2 or 4) at `offset`. Refused reads return 0 and are reported. */
  read(offset: number, size = 4): number {
    if (offset >= MmioReg.CONFIG) return this.readConfig(offset, size);
    if (!this.controlAccessOk('read', offset, size)) return 0;
    switch (offset) {
      case MmioReg.MAGIC_VALUE:
        return MMIO_MAGIC;
      case MmioReg.VERSION:
        return MMIO_VERSION;
      case MmioReg.DEVICE_ID:
        return this.deviceId;
      case MmioReg.VENDOR_ID:
        return this.vendorId;
      case MmioReg.DEVICE_FEATURES:
        return this.featureWindow(this.deviceFeatures, this.deviceFeaturesSel);
      case MmioReg.QUEUE_NUM_MAX:
        return this.queues[this.queueSel]?.max ?? 0;
      case MmioReg.QUEUE_READY:
        return this.queues[this.queueSel]?.ready ? 1 : 0;
      case MmioReg.INTERRUPT_STATUS:
        return this.interruptStatus;
      case MmioReg.STATUS:
        return this.status.get();
      case MmioReg.SHM_LEN_LOW:
      case MmioReg.SHM_LEN_HIGH:
      case MmioReg.SHM_BASE_LOW:
      case MmioReg.SHM_BASE_HIGH:
        return this.readShm(offset);
      case MmioReg.QUEUE_RESET:
        // Our queue reset completes inside the write, so the register always reads 0 (§4.2.2.1).
        return 0;
      case MmioReg.CONFIG_GENERATION:
        return this.configGeneration;
      default:
        return 0; // unreachable: controlAccessOk refused unknown and write-only offsets
    }
  }

  /** A driver write of `value` (`size` bytes) at `offset`. Refused writes change nothing and are reported. */
  write(offset: number, value: number, size = 4): void {
    if (offset >= MmioReg.CONFIG) {
      this.writeConfig(offset, value, size);
      return;
    }
    if (!this.controlAccessOk('write', offset, size, value)) return;
    const v = value >>> 0;
    switch (offset) {
      case MmioReg.DEVICE_FEATURES_SEL:
        this.deviceFeaturesSel = v;
        return;
      case MmioReg.DRIVER_FEATURES_SEL:
        this.driverFeaturesSel = v;
        return;
      case MmioReg.DRIVER_FEATURES:
        this.writeDriverFeatures(v);
        return;
      case MmioReg.QUEUE_SEL:
        this.queueSel = v;
        return;
      case MmioReg.QUEUE_NUM:
        this.writeQueueNum(v);
        return;
      case MmioReg.QUEUE_READY:
        this.writeQueueReady(v);
        return;
      case MmioReg.QUEUE_NOTIFY:
        this.writeNotify(v);
        return;
      case MmioReg.INTERRUPT_ACK:
        this.writeInterruptAck(v);
        return;
      case MmioReg.STATUS:
        this.writeStatus(v);
        return;
      case MmioReg.QUEUE_DESC_LOW:
      case MmioReg.QUEUE_DESC_HIGH:
      case MmioReg.QUEUE_DRIVER_LOW:
      case MmioReg.QUEUE_DRIVER_HIGH:
      case MmioReg.QUEUE_DEVICE_LOW:
      case MmioReg.QUEUE_DEVICE_HIGH:
        this.writeQueueAddress(offset, v);
        return;
      case MmioReg.SHM_SEL:
        this.shmSel = v;
        return;
      case MmioReg.QUEUE_RESET:
        this.writeQueueReset(v);
        return;
    }
  }

  // ---- internals ----------------------------------------------------------------------------------------------------

  private fault(op: 'read' | 'write', offset: number, code: VirtioErrorCode, message: string, value?: number): void {
    const f: MmioFault = { op, offset, register: mmioRegisterName(offset), code, message, ...(value === undefined ? {} : { value: value >>> 0 }) };
    this.lastFault = f;
    this.faultCount++;
    this.hooks.onFault?.(f);
  }

  private controlAccessOk(op: 'read' | 'write', offset: number, size: number, value?: number): boolean {
    if (size !== 4 || offset % 4 !== 0 || offset < 0) {
      this.fault(op, offset, VirtioErrorCode.MMIO_BAD_ACCESS, `control registers take aligned 32-bit accesses (got ${size} bytes at 0x${offset.toString(16)})`, value);
      return false;
    }
    const dir = MMIO_REGISTER_DIRECTION.get(offset);
    if (dir === undefined) {
      this.fault(op, offset, VirtioErrorCode.MMIO_BAD_REGISTER, `no register at 0x${offset.toString(16)} in virtio-mmio version 2`, value);
      return false;
    }
    if (op === 'read' && dir === 'W') {
      this.fault(op, offset, VirtioErrorCode.MMIO_BAD_REGISTER, `${mmioRegisterName(offset)} is write-only`);
      return false;
    }
    if (op === 'write' && dir === 'R') {
      this.fault(op, offset, VirtioErrorCode.MMIO_BAD_REGISTER, `${mmioRegisterName(offset)} is read-only`, value);
      return false;
    }
    return true;
  }

  private featureWindow(set: bigint, sel: number): number {
    if (sel > 1) return 0;
    return Number((set >> BigInt(32 * sel)) & 0xffff_ffffn);
  }

  private writeDriverFeatures(v: number): void {
    if (this.status.has(DeviceStatus.FEATURES_OK)) {
      this.fault('write', MmioReg.DRIVER_FEATURES, VirtioErrorCode.FEATURES_LOCKED, 'features cannot change after FEATURES_OK (reset first)', v);
      return;
    }
    const sel = this.driverFeaturesSel;
    if (sel > 1) {
      // Bits 64 and up: none is offered, so any set bit makes FEATURES_OK fail.
      if (v !== 0) this.driverFeaturesBeyond = true;
      return;
    }
    const shift = BigInt(32 * sel);
    this.driverFeaturesValue = (this.driverFeaturesValue & ~(0xffff_ffffn << shift)) | (BigInt(v) << shift);
  }

  private selectedQueue(op: 'read' | 'write', offset: number, value: number): QueueState | undefined {
    const q = this.queues[this.queueSel];
    if (q === undefined || q.max === 0) {
      this.fault(op, offset, VirtioErrorCode.MMIO_QUEUE_UNAVAILABLE, `queue ${this.queueSel} is not available`, value);
      return undefined;
    }
    return q;
  }

  private lockedWhileReady(q: QueueState, offset: number, value: number): boolean {
    if (!q.ready) return false;
    this.fault('write', offset, VirtioErrorCode.MMIO_BAD_ACCESS, `queue ${this.queueSel}: ${mmioRegisterName(offset)} cannot change while QueueReady is 1`, value);
    return true;
  }

  private writeQueueNum(v: number): void {
    const q = this.selectedQueue('write', MmioReg.QUEUE_NUM, v);
    if (q === undefined || this.lockedWhileReady(q, MmioReg.QUEUE_NUM, v)) return;
    q.num = v;
  }

  /** Whether the queue size is valid for the negotiated layout (§2.7: split sizes are powers of two; §2.8: packed any). */
  private sizeProblem(q: QueueState): string | undefined {
    if (q.num === 0) return 'QueueNum was not written';
    if (q.num > q.max) return `QueueNum ${q.num} exceeds QueueNumMax ${q.max}`;
    const packed = hasFeature(this.negotiatedFeatures, VirtioFeature.RING_PACKED);
    if (!packed && (q.num & (q.num - 1)) !== 0) return `QueueNum ${q.num} is not a power of two (split layout)`;
    return undefined;
  }

  private configOf(q: QueueState): MmioQueueConfig {
    return { size: q.num, desc: toAddress(q.descLo, q.descHi), driver: toAddress(q.driverLo, q.driverHi), device: toAddress(q.deviceLo, q.deviceHi) };
  }

  private writeQueueReady(v: number): void {
    const q = this.selectedQueue('write', MmioReg.QUEUE_READY, v);
    if (q === undefined) return;
    const index = this.queueSel;
    if (v === 0) {
      if (q.ready) {
        q.ready = false;
        this.hooks.onQueueStop?.(index);
      }
      return;
    }
    if (v !== 1) {
      this.fault('write', MmioReg.QUEUE_READY, VirtioErrorCode.MMIO_BAD_ACCESS, `QueueReady takes 0 or 1, not ${v}`, v);
      return;
    }
    if (q.ready) return;
    if (!this.status.has(DeviceStatus.FEATURES_OK) || this.status.has(DeviceStatus.FAILED) || this.status.has(DeviceStatus.DEVICE_NEEDS_RESET)) {
      this.fault('write', MmioReg.QUEUE_READY, VirtioErrorCode.BAD_STATUS_TRANSITION, `queue ${index}: QueueReady before FEATURES_OK (status 0x${this.status.get().toString(16)})`, v);
      return;
    }
    const problem = this.sizeProblem(q);
    if (problem !== undefined) {
      this.fault('write', MmioReg.QUEUE_READY, VirtioErrorCode.BAD_QUEUE_SIZE, `queue ${index}: ${problem}`, v);
      return;
    }
    const cfg = this.configOf(q);
    const packed = hasFeature(this.negotiatedFeatures, VirtioFeature.RING_PACKED);
    // Alignment (§2.7 table: descriptors 16, avail 2, used 4; §2.8.10.1: packed ring 16, event areas 4).
    const aligns: [string, number, number][] = [
      ['descriptor area', cfg.desc, 16],
      ['driver area', cfg.driver, packed ? 4 : 2],
      ['device area', cfg.device, 4],
    ];
    for (const [name, addr, a] of aligns) {
      if (addr < 0 || addr % a !== 0) {
        this.fault('write', MmioReg.QUEUE_READY, VirtioErrorCode.BAD_ALIGNMENT, `queue ${index}: ${name} ${hex(addr)} must be ${a}-aligned`, v);
        return;
      }
    }
    try {
      this.hooks.onQueueReady?.(index, cfg);
    } catch (e) {
      if (!(e instanceof VirtioError)) throw e;
      this.fault('write', MmioReg.QUEUE_READY, e.code, `queue ${index} refused by the device: ${e.message}`, v);
      return;
    }
    q.ready = true;
  }

  private writeQueueAddress(offset: number, v: number): void {
    const q = this.selectedQueue('write', offset, v);
    if (q === undefined || this.lockedWhileReady(q, offset, v)) return;
    switch (offset) {
      case MmioReg.QUEUE_DESC_LOW:
        q.descLo = v;
        break;
      case MmioReg.QUEUE_DESC_HIGH:
        q.descHi = v;
        break;
      case MmioReg.QUEUE_DRIVER_LOW:
        q.driverLo = v;
        break;
      case MmioReg.QUEUE_DRIVER_HIGH:
        q.driverHi = v;
        break;
      case MmioReg.QUEUE_DEVICE_LOW:
        q.deviceLo = v;
        break;
      case MmioReg.QUEUE_DEVICE_HIGH:
        q.deviceHi = v;
        break;
    }
  }

  private writeNotify(v: number): void {
    const withData = hasFeature(this.negotiatedFeatures, VirtioFeature.NOTIFICATION_DATA);
    const index = withData ? decodeMmioNotify(v).index : v;
    if (!withData && v > 0xffff) {
      this.fault('write', MmioReg.QUEUE_NOTIFY, VirtioErrorCode.MMIO_BAD_ACCESS, `QueueNotify 0x${v.toString(16)}: without NOTIFICATION_DATA the value is a 16-bit queue index`, v);
      return;
    }
    if (!this.status.has(DeviceStatus.DRIVER_OK)) {
      this.fault('write', MmioReg.QUEUE_NOTIFY, VirtioErrorCode.BAD_STATUS_TRANSITION, `notification of queue ${index} before DRIVER_OK`, v);
      return;
    }
    const q = this.queues[index];
    if (q === undefined || !q.ready) {
      this.fault('write', MmioReg.QUEUE_NOTIFY, VirtioErrorCode.MMIO_QUEUE_UNAVAILABLE, `notification of queue ${index}, which is not ready`, v);
      return;
    }
    if (withData) {
      const d = decodeMmioNotify(v);
      this.hooks.onNotify?.(index, { off: d.off, wrap: d.wrap });
    } else {
      this.hooks.onNotify?.(index, undefined);
    }
  }

  private raise(bits: number): void {
    const before = this.interruptStatus;
    this.interruptStatus |= bits;
    if (before === 0 && this.interruptStatus !== 0) this.hooks.onInterrupt?.(true, this.interruptStatus);
  }

  private writeInterruptAck(v: number): void {
    if ((v & ~MMIO_INTERRUPT_MASK) !== 0) {
      // §4.2.2.2: the driver must not set undefined bits; the defined ones are still acknowledged.
      this.fault('write', MmioReg.INTERRUPT_ACK, VirtioErrorCode.MMIO_BAD_ACCESS, `InterruptACK 0x${v.toString(16)} sets undefined bits`, v);
    }
    const before = this.interruptStatus;
    this.interruptStatus &= ~v;
    if (before !== 0 && this.interruptStatus === 0) this.hooks.onInterrupt?.(false, 0);
  }

  private writeStatus(v: number): void {
    const previous = this.status.get();
    if (v === 0) {
      this.resetDevice();
      this.hooks.onReset?.();
      if (previous !== 0) this.hooks.onStatus?.(0, previous);
      return;
    }
    try {
      this.status.write(v);
    } catch (e) {
      if (!(e instanceof VirtioError)) throw e;
      this.fault('write', MmioReg.STATUS, e.code, e.message, v);
      return;
    }
    const added = this.status.get() & ~previous;
    if ((added & DeviceStatus.FEATURES_OK) !== 0) {
      const refusal = this.checkFeatures();
      if (refusal !== undefined) {
        this.status.refuseFeatures();
        this.fault('write', MmioReg.STATUS, refusal.code, `FEATURES_OK refused: ${refusal.message}`, v);
      }
    }
    const now = this.status.get();
    if (now !== previous) this.hooks.onStatus?.(now, previous);
  }

  private checkFeatures(): VirtioError | undefined {
    const accepted = this.driverFeaturesValue;
    try {
      if (this.driverFeaturesBeyond) {
        throw new VirtioError(VirtioErrorCode.FEATURE_NOT_OFFERED, 'driver accepted feature bits above 63, none of which are offered');
      }
      checkFeatureSet(this.deviceFeatures, accepted, this.rules);
      if (this.hooks.validateFeatures?.(accepted) === false) {
        throw new VirtioError(VirtioErrorCode.FEATURES_REFUSED, `the device does not support the feature set 0x${accepted.toString(16)}`);
      }
    } catch (e) {
      if (e instanceof VirtioError) return e;
      throw e;
    }
    return undefined;
  }

  private resetQueue(q: QueueState): void {
    q.num = 0;
    q.ready = false;
    q.descLo = q.descHi = q.driverLo = q.driverHi = q.deviceLo = q.deviceHi = 0;
  }

  /** §4.2.2.1: on reset the device clears InterruptStatus and every QueueReady; features and selectors start over. */
  private resetDevice(): void {
    this.status.write(0);
    for (const q of this.queues) this.resetQueue(q);
    const hadInterrupt = this.interruptStatus !== 0;
    this.interruptStatus = 0;
    if (hadInterrupt) this.hooks.onInterrupt?.(false, 0);
    this.driverFeaturesValue = 0n;
    this.driverFeaturesBeyond = false;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.queueSel = 0;
    this.shmSel = 0;
  }

  private writeQueueReset(v: number): void {
    if (!hasFeature(this.negotiatedFeatures, VirtioFeature.RING_RESET)) {
      this.fault('write', MmioReg.QUEUE_RESET, VirtioErrorCode.MMIO_BAD_REGISTER, 'QueueReset needs VIRTIO_F_RING_RESET', v);
      return;
    }
    if (v !== 1) return; // only writing 1 means anything
    const q = this.selectedQueue('write', MmioReg.QUEUE_RESET, v);
    if (q === undefined) return;
    // §2.6.1: the queue goes back to its default state; it reads 0 in QueueReset and QueueReady when done.
    this.resetQueue(q);
    this.hooks.onQueueReset?.(this.queueSel);
  }

  private readShm(offset: number): number {
    const r = this.shm[this.shmSel];
    // §4.2.2: a non-existent region reads length -1 and base 0xffff_ffff_ffff_ffff.
    if (r === undefined) return 0xffff_ffff;
    switch (offset) {
      case MmioReg.SHM_LEN_LOW:
        return addrLo(r.len);
      case MmioReg.SHM_LEN_HIGH:
        return addrHi(r.len);
      case MmioReg.SHM_BASE_LOW:
        return addrLo(r.base);
      default:
        return addrHi(r.base);
    }
  }

  private configAccessOk(op: 'read' | 'write', offset: number, size: number, value?: number): boolean {
    const o = offset - MmioReg.CONFIG;
    if ((size !== 1 && size !== 2 && size !== 4) || o % size !== 0) {
      this.fault(op, offset, VirtioErrorCode.MMIO_BAD_ACCESS, `config space takes naturally aligned 8/16/32-bit accesses (got ${size} bytes at +0x${o.toString(16)})`, value);
      return false;
    }
    if (o + size > this.config.length) {
      this.fault(op, offset, VirtioErrorCode.MMIO_BAD_REGISTER, `config access at +0x${o.toString(16)} is beyond the ${this.config.length}-byte config space`, value);
      return false;
    }
    return true;
  }

  private readConfig(offset: number, size: number): number {
    if (!this.configAccessOk('read', offset, size)) return 0;
    const o = offset - MmioReg.CONFIG;
    if (size === 1) return this.configView.getUint8(o);
    if (size === 2) return this.configView.getUint16(o, true);
    return this.configView.getUint32(o, true);
  }

  private writeConfig(offset: number, value: number, size: number): void {
    if (!this.configAccessOk('write', offset, size, value)) return;
    const o = offset - MmioReg.CONFIG;
    if (this.hooks.onConfigWrite?.(o, size, value >>> 0) !== true) {
      this.fault('write', offset, VirtioErrorCode.MMIO_BAD_REGISTER, `config field at +0x${o.toString(16)} is not writable`, value);
      return;
    }
    if (size === 1) this.configView.setUint8(o, value);
    else if (size === 2) this.configView.setUint16(o, value, true);
    else this.configView.setUint32(o, value >>> 0, true);
  }
}
