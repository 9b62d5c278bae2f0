/**
 * The driver side of virtio-mmio version 2: probe and initialise a device through its register window (VIRTIO 1.2
 * §4.2.3.1 and the general sequence of §3.1.1), then set up its queues (§4.2.3.2).
 *
 *   MagicValue == "virt"?  Version == 2?  DeviceID != 0?      (else: bad magic / legacy or unknown version / no device)
 *   Status = 0 (reset)  ->  ACKNOWLEDGE  ->  DRIVER
 *   DeviceFeatures (Sel 0, 1) -> negotiate -> DriverFeatures (Sel 0, 1) -> FEATURES_OK -> re-read: still set?
 *   per queue: QueueSel, QueueReady == 0?, QueueNumMax != 0?, QueueNum, Desc/Driver/Device Low+High, QueueReady = 1
 *   DRIVER_OK
 *
 * Any failure after ACKNOWLEDGE sets FAILED (§3.1.1: the driver gives up) before the VirtioError is thrown.
 */
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { DeviceStatus } from '../status.js';
import { negotiate } from '../features.js';
import { addrHi, addrLo, hex } from '../memory.js';
import { MMIO_LEGACY_VERSION, MMIO_MAGIC, MMIO_VERSION, MmioReg } from './registers.js';
import type { MmioQueueConfig } from './device.js';

/** What a driver needs of the register window: aligned 32-bit loads and stores at byte offsets. */
export interface MmioBus {
  read32(offset: number): number;
  write32(offset: number, value: number): void;
}

export interface ProbeMmioOptions {
  /** Features the driver understands; the negotiated set is their intersection with the offer (plus VERSION_1). */
  readonly wantedFeatures: bigint;
  /** How many queues to set up (0, 1, ...). Default 0. */
  readonly numQueues?: number;
  /**
   * Chooses queue `index`'s size and ring addresses, given QueueNumMax and the negotiated features (RING_PACKED
   * decides the layout). Required when numQueues > 0.
   */
  readonly queueLayout?: (index: number, numMax: number, features: bigint) => MmioQueueConfig;
  /** Expected device ID; another ID fails with MMIO_NO_DEVICE. Default: any non-zero. */
  readonly deviceId?: number;
  /**
   * The device-type check of the offer before accepting (§3.1.1 step 4); return false (or throw) to give up.
   * Default: accept.
   */
  readonly acceptOffer?: (offered: bigint) => boolean;
}

export interface MmioQueueSetup extends MmioQueueConfig {
  readonly index: number;
  readonly numMax: number;
}

export interface MmioProbeResult {
  readonly deviceId: number;
  readonly vendorId: number;
  readonly offered: bigint;
  readonly features: bigint;
  readonly queues: readonly MmioQueueSetup[];
  readonly status: number;
}

function read64(bus: MmioBus, lowOffset: number, selOffset: number): bigint {
  bus.write32(selOffset, 0);
  const lo = BigInt(bus.read32(lowOffset) >>> 0);
  bus.write32(selOffset, 1);
  const hi = BigInt(bus.read32(lowOffset) >>> 0);
  return (hi << 32n) | lo;
}

function writeAddress(bus: MmioBus, lowOffset: number, addr: number): void {
  bus.write32(lowOffset, addrLo(addr));
  bus.write32(lowOffset + 4, addrHi(addr));
}

/** Checks the identification registers (§4.2.3.1.1); returns the device ID. Touches nothing else when it fails. */
export function identifyMmio(bus: MmioBus): { deviceId: number; vendorId: number } {
  const magic = bus.read32(MmioReg.MAGIC_VALUE) >>> 0;
  if (magic !== MMIO_MAGIC) {
    throw new VirtioError(VirtioErrorCode.MMIO_BAD_MAGIC, `MagicValue is 0x${magic.toString(16)}, not 0x74726976 ("virt"): no virtio-mmio device here`, { magic });
  }
  const version = bus.read32(MmioReg.VERSION) >>> 0;
  if (version === MMIO_LEGACY_VERSION) {
    throw new VirtioError(
      VirtioErrorCode.MMIO_LEGACY_DEVICE,
      'legacy virtio-mmio device (Version 1, page-based QueuePFN layout) is not supported; only version 2 (VIRTIO 1.0+) devices are',
      { version },
    );
  }
  if (version !== MMIO_VERSION) {
    throw new VirtioError(VirtioErrorCode.MMIO_BAD_VERSION, `unknown virtio-mmio Version ${version} (expected 2)`, { version });
  }
  const deviceId = bus.read32(MmioReg.DEVICE_ID) >>> 0;
  if (deviceId === 0) {
    // §4.2.3.1.1: a placeholder; the driver must stop here and not touch any other register.
    throw new VirtioError(VirtioErrorCode.MMIO_NO_DEVICE, 'DeviceID 0: placeholder slot, no device', { deviceId });
  }
  return { deviceId, vendorId: bus.read32(MmioReg.VENDOR_ID) >>> 0 };
}

/** Runs the whole §4.2.3 initialisation; returns the negotiated features and queue configuration. */
export function probeMmio(bus: MmioBus, opts: ProbeMmioOptions): MmioProbeResult {
  const { deviceId, vendorId } = identifyMmio(bus);
  if (opts.deviceId !== undefined && deviceId !== opts.deviceId) {
    throw new VirtioError(VirtioErrorCode.MMIO_NO_DEVICE, `DeviceID ${deviceId}, expected ${opts.deviceId}`, { deviceId });
  }
  const numQueues = opts.numQueues ?? 0;
  if (numQueues > 0 && opts.queueLayout === undefined) {
    throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, 'probeMmio: numQueues > 0 needs queueLayout');
  }

  let status = 0;
  const setStatus = (bits: number): void => {
    status |= bits;
    bus.write32(MmioReg.STATUS, status);
  };
  bus.write32(MmioReg.STATUS, 0); // reset
  setStatus(DeviceStatus.ACKNOWLEDGE);
  try {
    setStatus(DeviceStatus.DRIVER);
    const offered = read64(bus, MmioReg.DEVICE_FEATURES, MmioReg.DEVICE_FEATURES_SEL);
    if (opts.acceptOffer !== undefined && !opts.acceptOffer(offered)) {
      throw new VirtioError(VirtioErrorCode.FEATURES_REFUSED, `the driver cannot use a device offering 0x${offered.toString(16)}`);
    }
    const features = negotiate(offered, opts.wantedFeatures);
    bus.write32(MmioReg.DRIVER_FEATURES_SEL, 0);
    bus.write32(MmioReg.DRIVER_FEATURES, Number(features & 0xffff_ffffn));
    bus.write32(MmioReg.DRIVER_FEATURES_SEL, 1);
    bus.write32(MmioReg.DRIVER_FEATURES, Number((features >> 32n) & 0xffff_ffffn));
    setStatus(DeviceStatus.FEATURES_OK);
    const reread = bus.read32(MmioReg.STATUS);
    if ((reread & DeviceStatus.FEATURES_OK) === 0) {
      throw new VirtioError(VirtioErrorCode.FEATURES_REFUSED, `the device refused features 0x${features.toString(16)} (FEATURES_OK did not stick)`, {
        features: '0x' + features.toString(16),
      });
    }

    const queues: MmioQueueSetup[] = [];
    for (let index = 0; index < numQueues; index++) {
      bus.write32(MmioReg.QUEUE_SEL, index);
      if (bus.read32(MmioReg.QUEUE_READY) !== 0) {
        throw new VirtioError(VirtioErrorCode.MMIO_QUEUE_UNAVAILABLE, `queue ${index} is already in use (QueueReady 1 after reset)`, { index });
      }
      const numMax = bus.read32(MmioReg.QUEUE_NUM_MAX) >>> 0;
      if (numMax === 0) throw new VirtioError(VirtioErrorCode.MMIO_QUEUE_UNAVAILABLE, `queue ${index} is not available (QueueNumMax 0)`, { index });
      const layout = opts.queueLayout!(index, numMax, features);
      if (!Number.isInteger(layout.size) || layout.size < 1 || layout.size > numMax) {
        throw new VirtioError(VirtioErrorCode.BAD_QUEUE_SIZE, `queue ${index}: size ${layout.size} must be 1..QueueNumMax ${numMax}`, { index, size: layout.size });
      }
      bus.write32(MmioReg.QUEUE_NUM, layout.size);
      writeAddress(bus, MmioReg.QUEUE_DESC_LOW, layout.desc);
      writeAddress(bus, MmioReg.QUEUE_DRIVER_LOW, layout.driver);
      writeAddress(bus, MmioReg.QUEUE_DEVICE_LOW, layout.device);
      bus.write32(MmioReg.QUEUE_READY, 1);
      if (bus.read32(MmioReg.QUEUE_READY) !== 1) {
        throw new VirtioError(
          VirtioErrorCode.MMIO_QUEUE_UNAVAILABLE,
          `queue ${index}: the device did not accept size ${layout.size} at desc ${hex(layout.desc)}, driver ${hex(layout.driver)}, device ${hex(layout.device)}`,
          { index },
        );
      }
      queues.push({ index, numMax, size: layout.size, desc: layout.desc, driver: layout.driver, device: layout.device });
    }

    setStatus(DeviceStatus.DRIVER_OK);
    const final = bus.read32(MmioReg.STATUS);
    if ((final & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) {
      throw new VirtioError(VirtioErrorCode.DEVICE_NEEDS_RESET, 'the device set DEVICE_NEEDS_RESET during initialisation');
    }
    if ((final & DeviceStatus.DRIVER_OK) === 0) {
      throw new VirtioError(VirtioErrorCode.BAD_STATUS_TRANSITION, `the device did not accept DRIVER_OK (status 0x${final.toString(16)})`);
    }
    return { deviceId, vendorId, offered, features, queues, status: final };
  } catch (e) {
    bus.write32(MmioReg.STATUS, bus.read32(MmioReg.STATUS) | DeviceStatus.FAILED);
    throw e;
  }
}

/** A bus over an in-process MmioDevice (tests, single-worker models). */
export function mmioBusFor(device: { read(offset: number, size?: number): number; write(offset: number, value: number, size?: number): void }): MmioBus {
  return {
    read32: (offset) => device.read(offset, 4),
    write32: (offset, value) => device.write(offset, value, 4),
  };
}
