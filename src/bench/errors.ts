/** Typed errors of the benchmark layer, with stable codes. */
import { CodedError } from '../errors/coded-error.js';

export const BenchErrorCode = {
  BAD_OPTION: 'BENCH_ERR_BAD_OPTION',
  UNKNOWN_CONTENDER: 'BENCH_ERR_UNKNOWN_CONTENDER',
  UNAVAILABLE: 'BENCH_ERR_UNAVAILABLE',
  /** A tool the contender needs (a C compiler) is missing on this machine. */
  NO_TOOL: 'BENCH_ERR_NO_TOOL',
  UNSUPPORTED: 'BENCH_ERR_UNSUPPORTED',
  VERIFY_FAILED: 'BENCH_ERR_VERIFY_FAILED',
  WORKER_FAILED: 'BENCH_ERR_WORKER_FAILED',
  TIMEOUT: 'BENCH_ERR_TIMEOUT',
} as const;
export type BenchErrorCode = (typeof BenchErrorCode)[keyof typeof BenchErrorCode];

export class BenchError extends CodedError<BenchErrorCode> {
  constructor(code: BenchErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super('BenchError', code, message, details, false);
  }
}

export function verifyFailed(contender: string, seq: number, what = 'sequence stamp'): BenchError {
  return new BenchError(BenchErrorCode.VERIFY_FAILED, `${contender}: message ${seq} failed its ${what} check`, { contender, seq });
}
