/**
 * Errors a guest module can see. `GuestAbort` is the model's data abort: a checked memory access that the platform
 * refused (a non-secure access to secure memory, or an address that no memory backs). The guest may catch it and
 * carry on, exactly like an OS handling an external abort; the partition and the system keep running.
 */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const GuestErrorCode = {
  /** Non-secure access to an address the TZASC marks secure. */
  SECURITY_FAULT: 'GUEST_ERR_SECURITY_FAULT',
  /** Access to an address inside the map but not backed by memory this partition holds (or outside the map). */
  BUS_ERROR: 'GUEST_ERR_BUS_ERROR',
  /** Misaligned atomic or wide access. */
  ALIGNMENT: 'GUEST_ERR_ALIGNMENT',
  /** An API call with arguments the runtime refuses (unknown SMC, line of the other world, bad period...). */
  BAD_ARGUMENT: 'GUEST_ERR_BAD_ARGUMENT',
  /** The machine is stopping; thrown out of blocking calls so that a guest's loop ends. */
  STOPPED: 'GUEST_ERR_STOPPED',
  /** RPMsg is not available (no shared region configured, or the peer never came up). */
  NO_RPMSG: 'GUEST_ERR_NO_RPMSG',
} as const;
export type GuestErrorCode = (typeof GuestErrorCode)[keyof typeof GuestErrorCode];

export class GuestError extends CodedError<GuestErrorCode> {
  constructor(code: GuestErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('GuestError', code, message, details);
  }
}

export type AccessKind = 'read' | 'write';

/** The data abort a guest sees after a refused access. */
export class GuestAbort extends GuestError {
  readonly addr: number;
  readonly len: number;
  readonly access: AccessKind;
  constructor(code: GuestErrorCode, message: string, addr: number, len: number, access: AccessKind) {
    super(code, message, { addr, len, access });
    this.name = 'GuestAbort';
    this.addr = addr;
    this.len = len;
    this.access = access;
  }
}

export function isGuestError(e: unknown, code?: GuestErrorCode): e is GuestError {
  return hasCode(e, GuestError, code);
}
