/**
 * Typed errors of the RPMsg layer. Every failure a caller or a peer can cause has a stable code; callers and tests
 * match on `code`, never on message text. Errors of the VirtIO layer underneath (VirtioError) are caught by the roles
 * and turned into counters / a needs-reset state, never thrown out of poll().
 */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const RpmsgErrorCode = {
  // decoding of wire formats (header, name-service message, resource table)
  TRUNCATED: 'RPMSG_ERR_TRUNCATED',
  OVERSIZED: 'RPMSG_ERR_OVERSIZED',
  INCONSISTENT: 'RPMSG_ERR_INCONSISTENT',
  BAD_VERSION: 'RPMSG_ERR_BAD_VERSION',
  BAD_NAME: 'RPMSG_ERR_BAD_NAME',
  // layout and attach
  BAD_LAYOUT: 'RPMSG_ERR_BAD_LAYOUT',
  NO_VDEV: 'RPMSG_ERR_NO_VDEV',
  FEATURES: 'RPMSG_ERR_FEATURES',
  NOT_READY: 'RPMSG_ERR_NOT_READY',
  NEEDS_RESET: 'RPMSG_ERR_NEEDS_RESET',
  // endpoints and sending
  BAD_ARGUMENT: 'RPMSG_ERR_BAD_ARGUMENT',
  ADDR_IN_USE: 'RPMSG_ERR_ADDR_IN_USE',
  NO_ADDRESS: 'RPMSG_ERR_NO_ADDRESS',
  NO_DESTINATION: 'RPMSG_ERR_NO_DESTINATION',
  ENDPOINT_DESTROYED: 'RPMSG_ERR_ENDPOINT_DESTROYED',
  PAYLOAD_TOO_LARGE: 'RPMSG_ERR_PAYLOAD_TOO_LARGE',
  TX_TIMEOUT: 'RPMSG_ERR_TX_TIMEOUT',
  RX_TIMEOUT: 'RPMSG_ERR_RX_TIMEOUT',
  NO_WAIT_HOOK: 'RPMSG_ERR_NO_WAIT_HOOK',
  BAD_BUFFER: 'RPMSG_ERR_BAD_BUFFER',
  NO_NAME_SERVICE: 'RPMSG_ERR_NO_NAME_SERVICE',
  // image inspection
  IMAGE: 'RPMSG_ERR_IMAGE',
} as const;

export type RpmsgErrorCode = (typeof RpmsgErrorCode)[keyof typeof RpmsgErrorCode];

export class RpmsgError extends CodedError<RpmsgErrorCode> {
  constructor(code: RpmsgErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('RpmsgError', code, message, details);
  }
}

export function isRpmsgError(e: unknown, code?: RpmsgErrorCode): e is RpmsgError {
  return hasCode(e, RpmsgError, code);
}
