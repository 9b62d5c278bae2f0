/**
 * Device status field (VIRTIO 1.2 §2.1) and the initialisation state machine of §3.1.1:
 *
 *   reset(0) -> ACKNOWLEDGE -> +DRIVER -> +FEATURES_OK -> +DRIVER_OK
 *                       any state -> +FAILED (driver gave up)     device -> +DEVICE_NEEDS_RESET
 *                       any state -> 0 (reset)
 *
 * Each write of the status register must keep the bits already set (§2.1.1: the driver MUST NOT clear a bit); a write
 * may add one or more steps as long as the initialisation bits stay a prefix of the order above (drivers such as
 * rust's virtio-drivers write ACKNOWLEDGE|DRIVER at once). Clearing a bit other than by reset, skipping a step, adding
 * a step after FAILED (§2.1.1: the driver must reset first) or while DEVICE_NEEDS_RESET is set, and setting
 * DEVICE_NEEDS_RESET (the device's bit) are refused. SUSPEND (16, VIRTIO_F_SUSPEND) is not supported here and counts as
 * reserved, like bit 5.
 */
import { VirtioError, VirtioErrorCode } from './errors.js';

export const DeviceStatus = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;
export type DeviceStatusBit = (typeof DeviceStatus)[keyof typeof DeviceStatus];

export function statusNames(s: number): string[] {
  if (s === 0) return ['RESET'];
  return Object.entries(DeviceStatus)
    .filter(([, v]) => (s & v) !== 0)
    .map(([k]) => k);
}

/** The order in which the driver must set the initialisation bits. */
const INIT_ORDER = [DeviceStatus.ACKNOWLEDGE, DeviceStatus.DRIVER, DeviceStatus.FEATURES_OK, DeviceStatus.DRIVER_OK] as const;

/**
 * Checks a driver's write of `next` over the current status `cur` (device side) and returns the new status.
 * 0 always resets. FAILED may be added at any time. DEVICE_NEEDS_RESET is the device's bit: the driver may leave it
 * set but not set it. FEATURES_OK may be refused by the device (handled by the caller, which clears it).
 */
export function checkStatusWrite(cur: number, next: number): number {
  if (next === 0) return 0;
  if ((next & ~0xff) !== 0 || (next & 0x30) !== 0) {
    throw new VirtioError(VirtioErrorCode.BAD_STATUS_TRANSITION, `status 0x${next.toString(16)} has reserved bits`, { cur, next });
  }
  if ((cur & ~next & ~DeviceStatus.DEVICE_NEEDS_RESET) !== 0) {
    throw new VirtioError(VirtioErrorCode.BAD_STATUS_TRANSITION, `status write 0x${next.toString(16)} clears bits of 0x${cur.toString(16)} without a reset`, { cur, next });
  }
  if ((next & DeviceStatus.DEVICE_NEEDS_RESET) !== 0 && (cur & DeviceStatus.DEVICE_NEEDS_RESET) === 0) {
    throw new VirtioError(VirtioErrorCode.BAD_STATUS_TRANSITION, 'only the device sets DEVICE_NEEDS_RESET', { cur, next });
  }
  // DEVICE_NEEDS_RESET stays until a reset even if the driver's write does not repeat it.
  const keep = cur & DeviceStatus.DEVICE_NEEDS_RESET;
  const added = next & ~cur & (DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
  if (added !== 0 && ((cur | next) & DeviceStatus.FAILED) !== 0) {
    throw new VirtioError(VirtioErrorCode.BAD_STATUS_TRANSITION, `status write 0x${next.toString(16)} continues initialisation after FAILED without a reset`, { cur, next });
  }
  if (added !== 0 && keep !== 0) {
    throw new VirtioError(VirtioErrorCode.DEVICE_NEEDS_RESET, `status write 0x${next.toString(16)} continues initialisation while DEVICE_NEEDS_RESET is set`, { cur, next });
  }
  // Initialisation bits must form a prefix of INIT_ORDER (FAILED may sit on top of any prefix).
  let seenGap = false;
  for (const b of INIT_ORDER) {
    const set = (next & b) !== 0;
    if (set && seenGap) {
      throw new VirtioError(VirtioErrorCode.BAD_STATUS_TRANSITION, `status 0x${next.toString(16)} sets ${statusNames(b)[0]} before an earlier step`, { cur, next });
    }
    if (!set) seenGap = true;
  }
  return next | keep;
}

/** A small state holder used by devices: status, plus the DEVICE_NEEDS_RESET path. */
export class StatusRegister {
  private value = 0;

  get(): number {
    return this.value;
  }

  /** A driver write; throws BAD_STATUS_TRANSITION when illegal. Returns true when it was a reset. */
  write(next: number): boolean {
    this.value = checkStatusWrite(this.value, next);
    return this.value === 0;
  }

  /** The device signals an unrecoverable error (§2.1.2). */
  needsReset(): void {
    this.value |= DeviceStatus.DEVICE_NEEDS_RESET;
  }

  /**
   * The device refuses the driver's features: FEATURES_OK does not stick (§3.1.1 step 6), nor does a DRIVER_OK written
   * in the same write (it would otherwise stand without FEATURES_OK below it).
   */
  refuseFeatures(): void {
    this.value &= ~(DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
  }

  has(bitv: number): boolean {
    return (this.value & bitv) !== 0;
  }

  isLive(): boolean {
    return (this.value & DeviceStatus.DRIVER_OK) !== 0 && (this.value & (DeviceStatus.DEVICE_NEEDS_RESET | DeviceStatus.FAILED)) === 0;
  }
}
