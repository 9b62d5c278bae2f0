/**
 * Typed errors of the transport layer (resource table, virtio-mmio windows, the status handshake). Every rule a peer
 * or a caller can break has a stable code; callers and tests match on `code`, never on message text.
 */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const TransportErrorCode = {
  // decoding of the remoteproc resource table
  TRUNCATED: 'TRANSPORT_ERR_TRUNCATED',
  OVERSIZED: 'TRANSPORT_ERR_OVERSIZED',
  INCONSISTENT: 'TRANSPORT_ERR_INCONSISTENT',
  BAD_VERSION: 'TRANSPORT_ERR_BAD_VERSION',
  BAD_NAME: 'TRANSPORT_ERR_BAD_NAME',
  BAD_ARGUMENT: 'TRANSPORT_ERR_BAD_ARGUMENT',
  // planning and attaching
  BAD_LAYOUT: 'TRANSPORT_ERR_BAD_LAYOUT',
  NO_VDEV: 'TRANSPORT_ERR_NO_VDEV',
  /** The driver changed a field of the table only the device (or the firmware's plan) may set. */
  TABLE_TAMPERED: 'TRANSPORT_ERR_TABLE_TAMPERED',
  // the status handshake (VIRTIO 1.2 §3.1.1)
  BAD_STATUS: 'TRANSPORT_ERR_BAD_STATUS',
  FEATURES_REFUSED: 'TRANSPORT_ERR_FEATURES_REFUSED',
  NEEDS_RESET: 'TRANSPORT_ERR_NEEDS_RESET',
  NOT_LIVE: 'TRANSPORT_ERR_NOT_LIVE',
  // virtio-mmio windows
  MMIO_BAD_REQUEST: 'TRANSPORT_ERR_MMIO_BAD_REQUEST',
  MMIO_TIMEOUT: 'TRANSPORT_ERR_MMIO_TIMEOUT',
} as const;

export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode];

export class TransportError extends CodedError<TransportErrorCode> {
  constructor(code: TransportErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('TransportError', code, message, details);
  }
}

export function isTransportError(e: unknown, code?: TransportErrorCode): e is TransportError {
  return hasCode(e, TransportError, code);
}
