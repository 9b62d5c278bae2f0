/**
 * Typed errors of the vsock layer. Every rule a peer (or our own caller) can break has a stable code; callers and
 * tests match on `code`, never on message text. A peer's violation never escapes poll()/queueNotify(): it becomes a
 * counter, a dropped packet or an RST, and the error of the socket it concerned.
 */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const VsockErrorCode = {
  // wire formats
  TRUNCATED: 'VSOCK_ERR_TRUNCATED',
  BAD_FIELD: 'VSOCK_ERR_BAD_FIELD',
  // rules a peer can break on the wire
  BAD_LEN: 'VSOCK_ERR_BAD_LEN',
  BAD_TYPE: 'VSOCK_ERR_BAD_TYPE',
  BAD_OP: 'VSOCK_ERR_BAD_OP',
  BAD_CID: 'VSOCK_ERR_BAD_CID',
  NO_SOCKET: 'VSOCK_ERR_NO_SOCKET',
  CREDIT_OVERFLOW: 'VSOCK_ERR_CREDIT_OVERFLOW',
  BAD_CREDIT: 'VSOCK_ERR_BAD_CREDIT',
  UNEXPECTED_OP: 'VSOCK_ERR_UNEXPECTED_OP',
  BAD_BUFFER: 'VSOCK_ERR_BAD_BUFFER',
  // connection outcomes (as net's ECONNREFUSED / ECONNRESET / EPIPE)
  CONNECTION_REFUSED: 'VSOCK_ERR_CONNECTION_REFUSED',
  CONNECTION_RESET: 'VSOCK_ERR_CONNECTION_RESET',
  TRANSPORT_RESET: 'VSOCK_ERR_TRANSPORT_RESET',
  PEER_SHUTDOWN: 'VSOCK_ERR_PEER_SHUTDOWN',
  // local usage
  BAD_ARGUMENT: 'VSOCK_ERR_BAD_ARGUMENT',
  ADDR_IN_USE: 'VSOCK_ERR_ADDR_IN_USE',
  NO_PORTS: 'VSOCK_ERR_NO_PORTS',
  TOO_MANY_CONNECTIONS: 'VSOCK_ERR_TOO_MANY_CONNECTIONS',
  NO_ROUTE: 'VSOCK_ERR_NO_ROUTE',
  NOT_ACTIVE: 'VSOCK_ERR_NOT_ACTIVE',
  CONFIG_RANGE: 'VSOCK_ERR_CONFIG_RANGE',
  CONFIG_READ_ONLY: 'VSOCK_ERR_CONFIG_READ_ONLY',
  // inspect
  IMAGE: 'VSOCK_ERR_IMAGE',
} as const;

export type VsockErrorCode = (typeof VsockErrorCode)[keyof typeof VsockErrorCode];

export class VsockError extends CodedError<VsockErrorCode> {
  constructor(code: VsockErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('VsockError', code, message, details);
  }
}

export function isVsockError(e: unknown, code?: VsockErrorCode): e is VsockError {
  return hasCode(e, VsockError, code);
}
