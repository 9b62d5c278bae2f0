/**
 * The feature handshake over one fw_rsc_vdev entry, by field name instead of offset, shared by the rsc-table
 * transport (./driver.ts, ./device.ts) and the RPMsg roles (src/rpmsg/host.ts, remote.ts):
 *
 *   fw_rsc_vdev  type @0 | id @4 | notifyid @8 | dfeatures @12 | gfeatures @16 | config_len @20 | status @24 | …
 *
 * Driver side (§3.1.1 steps 1–5, as Linux's remoteproc_virtio does it): status 0, ACKNOWLEDGE, DRIVER; read dfeatures;
 * write the accepted subset to gfeatures; set FEATURES_OK. Device side (step 5's check): gfeatures must be a subset of
 * dfeatures and of what the device supports. Both sides use u32 features (remoteproc carries bits 0..31 only).
 */
import type { PhysicalMemory } from '../../virtio/memory.js';
import { DeviceStatus } from '../../virtio/status.js';

export const RSC_VDEV_DFEATURES_OFFSET = 12;
export const RSC_VDEV_GFEATURES_OFFSET = 16;
export const RSC_VDEV_CONFIG_LEN_OFFSET = 20;

/** The status byte as both transports and the RPMsg roles see it. */
export interface StatusCell {
  load(): number;
  store(v: number): void;
}

export function readDeviceFeatures(memory: PhysicalMemory, entry: number): number {
  return memory.read32(entry + RSC_VDEV_DFEATURES_OFFSET) >>> 0;
}

export function readDriverFeatures(memory: PhysicalMemory, entry: number): number {
  return memory.read32(entry + RSC_VDEV_GFEATURES_OFFSET) >>> 0;
}

/**
 * Driver side: reset, ACKNOWLEDGE, DRIVER, negotiate (accepted = offered ∩ `choose(offered)`), write gfeatures,
 * FEATURES_OK. Returns the accepted features; the caller sets up its rings and then DRIVER_OK.
 */
export function driverNegotiate(memory: PhysicalMemory, entry: number, status: StatusCell, choose: (offered: number) => number): number {
  status.store(0);
  status.store(DeviceStatus.ACKNOWLEDGE);
  status.store(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
  const offered = readDeviceFeatures(memory, entry);
  const accepted = (choose(offered) & offered) >>> 0;
  memory.write32(entry + RSC_VDEV_GFEATURES_OFFSET, accepted);
  status.store(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
  return accepted;
}

/** Sets DRIVER_OK over a completed negotiation. */
export function driverReady(status: StatusCell): void {
  status.store(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
}

/**
 * Device side: the driver's gfeatures against what was offered (`offered`: the device's own record when it keeps
 * one, never only the table, which the driver can rewrite) and what the device supports. Returns the accepted
 * features, or a refusal reason.
 */
export function deviceCheckFeatures(memory: PhysicalMemory, entry: number, offered: number, supported: number): { features: number } | { refused: string } {
  const g = readDriverFeatures(memory, entry);
  if ((g & ~offered) !== 0 || (g & ~supported) !== 0) {
    return { refused: `driver accepted features 0x${g.toString(16)} beyond those offered (0x${(offered >>> 0).toString(16)}) or supported (0x${(supported >>> 0).toString(16)})` };
  }
  return { features: g };
}
