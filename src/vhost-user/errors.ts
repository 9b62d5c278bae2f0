/**
 * Typed errors of the vhost-user back-end. Every rule a front-end can break has its own stable code; callers and
 * tests match on `code`, never on message text. `details` carries the offending values (request, index, address).
 */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const VhostUserErrorCode = {
  /** Header flags: version is not 1, the REPLY bit is set on a request, or reserved bits are set. */
  BAD_HEADER: 'VHOST_USER_ERR_BAD_HEADER',
  /** Header size above the bound this back-end accepts (MAX_PAYLOAD). */
  PAYLOAD_TOO_LARGE: 'VHOST_USER_ERR_PAYLOAD_TOO_LARGE',
  /** Payload size does not match what the request carries. */
  BAD_PAYLOAD_SIZE: 'VHOST_USER_ERR_BAD_PAYLOAD_SIZE',
  /** A request number this back-end does not implement (or that needs a protocol feature it did not offer). */
  UNSUPPORTED_REQUEST: 'VHOST_USER_ERR_UNSUPPORTED_REQUEST',
  /** The request needs file descriptors that did not come with it. */
  MISSING_FD: 'VHOST_USER_ERR_MISSING_FD',
  /** File descriptors came with a request that takes none (or more than it takes); they are closed. */
  UNEXPECTED_FD: 'VHOST_USER_ERR_UNEXPECTED_FD',
  /** The front-end sent more descriptors than one message may carry; the kernel dropped some. */
  FDS_TRUNCATED: 'VHOST_USER_ERR_FDS_TRUNCATED',
  BAD_QUEUE_INDEX: 'VHOST_USER_ERR_BAD_QUEUE_INDEX',
  BAD_QUEUE_SIZE: 'VHOST_USER_ERR_BAD_QUEUE_SIZE',
  /** SET_VRING_BASE value out of range, or a packed resume state this back-end cannot restore. */
  BAD_VRING_BASE: 'VHOST_USER_ERR_BAD_VRING_BASE',
  /** SET_VRING_ENABLE with a value other than 0 or 1. */
  BAD_ENABLE: 'VHOST_USER_ERR_BAD_ENABLE',
  FEATURE_NOT_OFFERED: 'VHOST_USER_ERR_FEATURE_NOT_OFFERED',
  PROTOCOL_FEATURE_NOT_OFFERED: 'VHOST_USER_ERR_PROTOCOL_FEATURE_NOT_OFFERED',
  /** The device refused the negotiated feature set (its FEATURES_OK check). */
  FEATURES_REFUSED: 'VHOST_USER_ERR_FEATURES_REFUSED',
  /** Memory table: too many regions, zero size, wrap-around, misaligned, or overlapping regions. */
  BAD_MEM_TABLE: 'VHOST_USER_ERR_BAD_MEM_TABLE',
  /** A region could not be mapped (not a regular file, range past the end of the file, mmap failed). */
  REGION_MAP_FAILED: 'VHOST_USER_ERR_REGION_MAP_FAILED',
  /** A vring address (with the ring's length) is not wholly inside one region of the memory table. */
  VRING_ADDR_UNMAPPED: 'VHOST_USER_ERR_VRING_ADDR_UNMAPPED',
  /** A ring was set up before the memory table, or before its size. */
  VRING_NOT_READY: 'VHOST_USER_ERR_VRING_NOT_READY',
  /** GET_CONFIG / SET_CONFIG outside the device's config space, or size above 256. */
  BAD_CONFIG_ACCESS: 'VHOST_USER_ERR_BAD_CONFIG_ACCESS',
  /** The device threw while being activated or notified (its own typed error is in details.cause). */
  DEVICE_ERROR: 'VHOST_USER_ERR_DEVICE_ERROR',
  /** A socket or fd operation failed (errno text in the message). */
  IO_FAILED: 'VHOST_USER_ERR_IO_FAILED',
  /** The listening socket could not be created (path in use by a live server, too long, ...). */
  LISTEN_FAILED: 'VHOST_USER_ERR_LISTEN_FAILED',
  BAD_ARGUMENT: 'VHOST_USER_ERR_BAD_ARGUMENT',
} as const;

export type VhostUserErrorCode = (typeof VhostUserErrorCode)[keyof typeof VhostUserErrorCode];

export class VhostUserError extends CodedError<VhostUserErrorCode> {
  constructor(code: VhostUserErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('VhostUserError', code, message, details);
  }
}

export function isVhostUserError(e: unknown, code?: VhostUserErrorCode): e is VhostUserError {
  return hasCode(e, VhostUserError, code);
}

/**
 * Errors after which the byte stream or the descriptor accounting cannot be trusted (framing, an unsupported request,
 * missing, unexpected or truncated fds): the back-end closes the connection instead of answering.
 */
export const FATAL_ERROR_CODES: ReadonlySet<string> = new Set<string>([
  VhostUserErrorCode.BAD_HEADER,
  VhostUserErrorCode.PAYLOAD_TOO_LARGE,
  VhostUserErrorCode.BAD_PAYLOAD_SIZE,
  VhostUserErrorCode.UNSUPPORTED_REQUEST,
  VhostUserErrorCode.MISSING_FD,
  VhostUserErrorCode.UNEXPECTED_FD,
  VhostUserErrorCode.FDS_TRUNCATED,
]);
