/** Typed errors of the hypervisor model, with stable codes. */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const HypervisorErrorCode = {
  BAD_CONFIG: 'HV_ERR_BAD_CONFIG',
  BAD_LINE: 'HV_ERR_BAD_LINE',
  PARTITION_FAILED: 'HV_ERR_PARTITION_FAILED',
  /** A guest module could not be loaded (missing, not a file, syntax error, throws while loading, no main). */
  GUEST_LOAD: 'HV_ERR_GUEST_LOAD',
} as const;
export type HypervisorErrorCode = (typeof HypervisorErrorCode)[keyof typeof HypervisorErrorCode];

export class HypervisorError extends CodedError<HypervisorErrorCode> {
  constructor(code: HypervisorErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('HypervisorError', code, message, details);
  }
}

export function isHypervisorError(e: unknown, code?: HypervisorErrorCode): e is HypervisorError {
  return hasCode(e, HypervisorError, code);
}
