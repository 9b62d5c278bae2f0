/**
 * Typed errors of the console layer. Every rule a caller or the peer can break has a stable code; callers and tests
 * match on `code`. The device role (secure side) never throws for what the driver wrote in shared memory: it records
 * the error (counters by code, `lastError`, the `onError` hook) and drops the offending message.
 */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const ConsoleErrorCode = {
  // wire formats
  TRUNCATED: 'CONSOLE_ERR_TRUNCATED',
  BAD_NAME: 'CONSOLE_ERR_BAD_NAME',
  // rules the peer can break
  BAD_EVENT: 'CONSOLE_ERR_BAD_EVENT',
  BAD_VALUE: 'CONSOLE_ERR_BAD_VALUE',
  UNKNOWN_PORT: 'CONSOLE_ERR_UNKNOWN_PORT',
  PORT_CLOSED: 'CONSOLE_ERR_PORT_CLOSED',
  BAD_BUFFER: 'CONSOLE_ERR_BAD_BUFFER',
  BUFFER_TOO_SMALL: 'CONSOLE_ERR_BUFFER_TOO_SMALL',
  PEER_FAILED: 'CONSOLE_ERR_PEER_FAILED',
  CONTROL_OVERFLOW: 'CONSOLE_ERR_CONTROL_OVERFLOW',
  CONFIG_OUT_OF_RANGE: 'CONSOLE_ERR_CONFIG_OUT_OF_RANGE',
  CONFIG_READ_ONLY: 'CONSOLE_ERR_CONFIG_READ_ONLY',
  FEATURE_NOT_NEGOTIATED: 'CONSOLE_ERR_FEATURE_NOT_NEGOTIATED',
  /** A virtqueue rule was broken (details.virtio holds the VirtIO code); the device asked for a reset. */
  QUEUE_BROKEN: 'CONSOLE_ERR_QUEUE_BROKEN',
  // our own caller's mistakes
  BAD_ARGUMENT: 'CONSOLE_ERR_BAD_ARGUMENT',
  NO_SUCH_PORT: 'CONSOLE_ERR_NO_SUCH_PORT',
} as const;

export type ConsoleErrorCode = (typeof ConsoleErrorCode)[keyof typeof ConsoleErrorCode];

export class ConsoleError extends CodedError<ConsoleErrorCode> {
  constructor(code: ConsoleErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('ConsoleError', code, message, details);
  }
}

export function isConsoleError(e: unknown, code?: ConsoleErrorCode): e is ConsoleError {
  return hasCode(e, ConsoleError, code);
}
