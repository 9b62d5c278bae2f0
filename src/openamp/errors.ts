/** Typed errors of the OpenAMP interoperability layer. */
import { CodedError } from '../errors/coded-error.js';

export const OpenAmpErrorCode = {
  BAD_ARGUMENT: 'OPENAMP_ERR_BAD_ARGUMENT',
  /** The peer did not complete the handshake (DRIVER_OK, name service) in time. */
  TIMEOUT: 'OPENAMP_ERR_TIMEOUT',
  /** The peer closed the kick socket before the session ended. */
  PEER_GONE: 'OPENAMP_ERR_PEER_GONE',
} as const;

export type OpenAmpErrorCode = (typeof OpenAmpErrorCode)[keyof typeof OpenAmpErrorCode];

export class OpenAmpError extends CodedError<OpenAmpErrorCode> {
  constructor(code: OpenAmpErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('OpenAmpError', code, message, details);
  }
}
