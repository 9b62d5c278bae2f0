/** Typed errors of virtio-entropy's API (stable codes, the CodedError base). */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const EntropyErrorCode = {
  /** rng.read() arguments out of range. */
  BAD_ARGUMENT: 'ENTROPY_ERR_BAD_ARGUMENT',
  /** The API was used on the device side; reading is the driver's. */
  NOT_DRIVER: 'ENTROPY_ERR_NOT_DRIVER',
  /** The device was reset (peer reboot, DEVICE_NEEDS_RESET) while a read was pending, or answered with no bytes. */
  DEVICE_RESET: 'ENTROPY_ERR_DEVICE_RESET',
} as const;
export type EntropyErrorCode = (typeof EntropyErrorCode)[keyof typeof EntropyErrorCode];

export class EntropyError extends CodedError<EntropyErrorCode> {
  constructor(code: EntropyErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('EntropyError', code, message, details);
  }
}

export function isEntropyError(e: unknown, code?: EntropyErrorCode): e is EntropyError {
  return hasCode(e, EntropyError, code);
}
