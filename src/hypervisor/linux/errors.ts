import { CodedError, hasCode } from '../../errors/coded-error.js';

/** Typed errors of the Linux non-secure partition (user-mode Linux as an OS process), with stable codes. */
export const LinuxErrorCode = {
  /** linux.uml (or --kernel PATH) is missing, or cannot run on this host (the one-line reason says why). */
  UNAVAILABLE: 'LINUX_ERR_UNAVAILABLE',
  /** The kernel process could not be started. */
  SPAWN_FAILED: 'LINUX_ERR_SPAWN_FAILED',
  /** A guest init script is missing or not executable. */
  BAD_INIT: 'LINUX_ERR_BAD_INIT',
  /** A setting is out of range (cores, messages, timeout). */
  BAD_CONFIG: 'LINUX_ERR_BAD_CONFIG',
  /** The guest's result line is missing or malformed (the guest did not finish its scenario). */
  BAD_RESULT: 'LINUX_ERR_BAD_RESULT',
} as const;
export type LinuxErrorCode = (typeof LinuxErrorCode)[keyof typeof LinuxErrorCode];

export class LinuxError extends CodedError<LinuxErrorCode> {
  constructor(code: LinuxErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('LinuxError', code, message, details);
  }
}

export function isLinuxError(e: unknown, code?: LinuxErrorCode): e is LinuxError {
  return hasCode(e, LinuxError, code);
}
