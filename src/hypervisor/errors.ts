/** Typed errors of the hypervisor model, with stable codes. */
export const HypervisorErrorCode = {
  BAD_CONFIG: 'HV_ERR_BAD_CONFIG',
  BAD_LINE: 'HV_ERR_BAD_LINE',
  PARTITION_LOAD: 'HV_ERR_PARTITION_LOAD',
  PARTITION_FAILED: 'HV_ERR_PARTITION_FAILED',
  TIMEOUT: 'HV_ERR_TIMEOUT',
  NO_RPMSG: 'HV_ERR_NO_RPMSG',
} as const;
export type HypervisorErrorCode = (typeof HypervisorErrorCode)[keyof typeof HypervisorErrorCode];

export class HypervisorError extends Error {
  readonly code: HypervisorErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(code: HypervisorErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(`${code}: ${message}`);
    this.name = 'HypervisorError';
    this.code = code;
    this.details = details;
  }
}

export function isHypervisorError(e: unknown, code?: HypervisorErrorCode): e is HypervisorError {
  return e instanceof HypervisorError && (code === undefined || e.code === code);
}
