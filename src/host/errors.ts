/**
 * Typed errors of the host layer (OS facilities: mapped shared files, futex wake-ups, socket kicks). Callers match
 * on `code`; `details.cause` keeps the OS error name (ENOENT, EACCES, ...) when there is one.
 */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const HostErrorCode = {
  /** The native addon is not built or cannot be loaded; the message says why and how to rebuild. */
  NATIVE_UNAVAILABLE: 'HOST_ERR_NATIVE_UNAVAILABLE',
  /** open / ftruncate / mmap of a shared file failed. */
  MAP_FAILED: 'HOST_ERR_MAP_FAILED',
  /** A futex call failed for a reason other than a timeout or a changed value. */
  FUTEX_FAILED: 'HOST_ERR_FUTEX_FAILED',
  /** The kick socket could not be opened, connected or accepted. */
  KICK_CONNECT_FAILED: 'HOST_ERR_KICK_CONNECT_FAILED',
  /** A read, write or poll on a connected kick socket failed (bad fd, not a socket, ...); cause = the errno name. */
  KICK_IO_FAILED: 'HOST_ERR_KICK_IO_FAILED',
  /** The peer closed the kick socket. */
  KICK_PEER_CLOSED: 'HOST_ERR_KICK_PEER_CLOSED',
  BAD_ARGUMENT: 'HOST_ERR_BAD_ARGUMENT',
} as const;

export type HostErrorCode = (typeof HostErrorCode)[keyof typeof HostErrorCode];

export class HostError extends CodedError<HostErrorCode> {
  constructor(code: HostErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('HostError', code, message, details);
  }
}

export function isHostError(e: unknown, code?: HostErrorCode): e is HostError {
  return hasCode(e, HostError, code);
}
