/** Typed errors of the OpenAMP interoperability layer. */
export const OpenAmpErrorCode = {
  BAD_ARGUMENT: 'OPENAMP_ERR_BAD_ARGUMENT',
  /** The peer did not complete the handshake (DRIVER_OK, name service) in time. */
  TIMEOUT: 'OPENAMP_ERR_TIMEOUT',
  /** The peer closed the kick socket before the session ended. */
  PEER_GONE: 'OPENAMP_ERR_PEER_GONE',
  /** The RPMsg device needs a reset (the peer broke a VirtIO rule). */
  DEVICE_FAILED: 'OPENAMP_ERR_DEVICE_FAILED',
  /** An echo came back different from what was sent. */
  ECHO_MISMATCH: 'OPENAMP_ERR_ECHO_MISMATCH',
} as const;

export type OpenAmpErrorCode = (typeof OpenAmpErrorCode)[keyof typeof OpenAmpErrorCode];

export class OpenAmpError extends Error {
  readonly code: OpenAmpErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(code: OpenAmpErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(`${code}: ${message}`);
    this.name = 'OpenAmpError';
    this.code = code;
    this.details = details;
  }
}
