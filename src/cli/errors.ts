/**
 * Errors meant for the terminal: one line on stderr (`tz-virtio: <command>: <message>`), no stack trace, an exit
 * code, and a stable code (CLI_ERR_*) that `--json` prints in its error object. Usage errors exit 2, failures 1.
 */
import { CodedError, hasCode } from '../errors/coded-error.js';
export const CliErrorCode = {
  /** Commander's own parse errors: unknown option or command, missing option value or argument. */
  USAGE: 'CLI_ERR_USAGE',
  /** An option value outside its rule (range, list of choices, combination of options). */
  BAD_VALUE: 'CLI_ERR_BAD_VALUE',
  /** A --config file that cannot be read, is not JSON, or holds an unknown key or a bad value. */
  CONFIG: 'CLI_ERR_CONFIG',
  /** An input or output file that cannot be used (missing, not a regular file, unwritable directory). */
  FILE: 'CLI_ERR_FILE',
  /** The command stopped on SIGINT / SIGTERM after cleaning up. */
  INTERRUPTED: 'CLI_ERR_INTERRUPTED',
  /** The command ran and failed (a peer did not answer, an image is inconsistent, ...). */
  FAILED: 'CLI_ERR_FAILED',
} as const;

export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

export class CliError extends CodedError<CliErrorCode> {
  /** The process exit code: 2 for a usage error (the default), 1 for a failure. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 2, code?: CliErrorCode) {
    super('CliError', code ?? (exitCode === 2 ? CliErrorCode.BAD_VALUE : CliErrorCode.FAILED), message, {}, false);
    this.exitCode = exitCode;
  }
}

export function isCliError(e: unknown, code?: CliErrorCode): e is CliError {
  return hasCode(e, CliError, code);
}

/** Parses an address or number given as hex (0x...) or decimal; throws CliError on anything else. */
export function parseNumberArg(name: string, text: string): number {
  const t = text.trim();
  let v: number;
  if (/^0x[0-9a-f]+$/i.test(t)) v = Number.parseInt(t.slice(2), 16);
  else if (/^[0-9]+$/.test(t)) v = Number.parseInt(t, 10);
  else if (/^-[0-9]+$/.test(t) || /^-0x[0-9a-f]+$/i.test(t)) throw new CliError(`${name}: '${text}' must not be negative`);
  else throw new CliError(`${name}: '${text}' is not a number (hex 0x... or decimal)`);
  if (!Number.isSafeInteger(v)) throw new CliError(`${name}: '${text}' is too large`);
  return v;
}
