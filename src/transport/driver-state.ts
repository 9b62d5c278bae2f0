/**
 * What both driver transports (rsc-table/, mmio/) keep the same way about the device they bring up: its state (each
 * transport names its own handshake states; 'live' and 'needs-reset' are common), the features in force, the last
 * error, the counters of kicks and interrupts, and three rules:
 *
 * - a driver is carried only by a transport for its own device type;
 * - a (re)start of a transport that was up stops the driver first (driver.reset());
 * - once live, DEVICE_NEEDS_RESET in the device status (§2.1.2) stops the driver and the transport waits in
 *   'needs-reset' (with a NEEDS_RESET error) until it is started again.
 */
import type { VirtioDriver } from '../virtio/device.js';
import { DeviceStatus } from '../virtio/status.js';
import { TransportError, TransportErrorCode } from './errors.js';

type CommonState = 'live' | 'needs-reset';

export abstract class DriverTransportState<S extends string> {
  /** Why the transport failed or stopped, when it did. */
  lastError: TransportError | undefined;
  abstract readonly stats: { kicks: number; interrupts: number };
  protected st: S | CommonState;
  protected features = 0n;

  protected constructor(
    protected readonly driver: VirtioDriver,
    /** The device type of the window / vdev the transport was given, and what to call it in the error. */
    deviceType: number,
    what: string,
    initial: S,
  ) {
    if (driver.deviceType !== deviceType) throw new TransportError(TransportErrorCode.BAD_ARGUMENT, `driver for type ${driver.deviceType} given a ${what} of type ${deviceType}`);
    this.st = initial;
  }

  /** Notifications this end sent to the other side (used-buffer / available-buffer, handshake kicks included). */
  get notificationsSent(): number {
    return this.stats.kicks;
  }

  get state(): S | CommonState {
    return this.st;
  }
  get live(): boolean {
    return this.st === 'live';
  }
  get negotiatedFeatures(): bigint {
    return this.features;
  }

  /** Before a (re)start or a stop: a driver that was activated is reset. */
  protected stopDriver(): void {
    if (this.st === 'live' || this.st === 'needs-reset') this.driver.reset();
  }

  /**
   * A live transport read the device status: with DEVICE_NEEDS_RESET set the driver is reset, the state becomes
   * 'needs-reset' with `why` as the error, and true is returned.
   */
  protected deviceNeedsReset(status: number, why: string): boolean {
    if ((status & DeviceStatus.DEVICE_NEEDS_RESET) === 0) return false;
    this.st = 'needs-reset';
    this.lastError = new TransportError(TransportErrorCode.NEEDS_RESET, why);
    this.driver.reset();
    return true;
  }

  /** Lets the driver handle its used buffers (an interrupt); returns the work done. */
  protected interruptDriver(): number {
    this.stats.interrupts++;
    return this.driver.interrupt();
  }
}
