/**
 * The status and feature handshake of the RPMsg vdev, both sides, in one place (VIRTIO 1.2 §3.1.1, carried by the
 * resource table's fw_rsc_vdev: `status` byte, `dfeatures` offered by the device, `gfeatures` accepted by the driver).
 *
 *   driver (host)                                   device (remote)
 *   status = 0 (reset)
 *   status = ACKNOWLEDGE | DRIVER
 *   gfeatures = dfeatures & wanted
 *   status |= FEATURES_OK
 *   (rings zeroed, RX buffers posted)
 *   status |= DRIVER_OK  ─────────────────────────► sees DRIVER_OK: checks gfeatures ⊆ dfeatures ∩ supported, attaches
 *                        ◄───────────────────────── on a rule violation: status |= DEVICE_NEEDS_RESET (§2.1.2)
 *   sees NEEDS_RESET: stops; reset() = status 0 ──► sees NEEDS_RESET gone: may attach again
 *
 * Everything here reads shared memory once per field; the device side trusts none of it. The field-level steps are the
 * resource-table transport's (src/transport/rsc-table/handshake.ts), shared with every other device on the table.
 */
import type { PhysicalMemory } from '../virtio/memory.js';
import { DeviceStatus } from '../virtio/status.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import type { StatusByte } from './status.js';
import {
  deviceCheckFeatures,
  driverNegotiate as negotiateOverVdev,
  driverReady,
  readDeviceFeatures,
} from '../transport/rsc-table/handshake.js';


/** Driver side, first half: reset, ACKNOWLEDGE, DRIVER, write gfeatures, FEATURES_OK. Returns the features in force. */
export function driverNegotiate(memory: PhysicalMemory, vdev: number, status: StatusByte, wanted: number): number {
  return negotiateOverVdev(memory, vdev, status, () => wanted);
}

/** Driver side, second half: the rings are set up, the device may use them. */
export function driverOk(status: StatusByte): void {
  driverReady(status);
}

/** Driver side: whether the device asked for a reset (or the status says FAILED). */
export function driverSeesNeedsReset(status: StatusByte): boolean {
  return (status.load() & (DeviceStatus.DEVICE_NEEDS_RESET | DeviceStatus.FAILED)) !== 0;
}

/**
 * Device side: what one status byte read means.
 *   'wait'         not at DRIVER_OK yet (or FAILED): do not touch the rings;
 *   'needs-reset'  our DEVICE_NEEDS_RESET is still there: the driver has not reset us yet;
 *   'go'           DRIVER_OK without FAILED or NEEDS_RESET: the rings may be attached.
 */
export function deviceGate(s: number): 'wait' | 'needs-reset' | 'go' {
  if ((s & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) return 'needs-reset';
  if ((s & DeviceStatus.DRIVER_OK) === 0 || (s & DeviceStatus.FAILED) !== 0) return 'wait';
  return 'go';
}

/** Device side, while attached: whether the driver reset the device (DRIVER_OK gone, or FAILED). */
export function deviceSeesReset(s: number): boolean {
  return (s & DeviceStatus.DRIVER_OK) === 0 || (s & DeviceStatus.FAILED) !== 0;
}

/**
 * Device side: the features the driver accepted, checked against what we offered and what we support (§2.2: the
 * driver must not accept a feature the device did not offer). Throws RpmsgError(FEATURES) naming both.
 */
export function deviceAcceptedFeatures(memory: PhysicalMemory, vdev: number, supported: number): number {
  const check = deviceCheckFeatures(memory, vdev, readDeviceFeatures(memory, vdev), supported);
  if ('refused' in check) throw new RpmsgError(RpmsgErrorCode.FEATURES, `host ${check.refused}`);
  return check.features;
}

/** Device side: the driver broke a rule; ask it for a reset (§2.1.2 DEVICE_NEEDS_RESET). */
export function deviceNeedsReset(status: StatusByte): void {
  status.or(DeviceStatus.DEVICE_NEEDS_RESET);
}
