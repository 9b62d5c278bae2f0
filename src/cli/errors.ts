/** An error meant for the terminal: printed as one line, no stack trace, with an exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Parses an address or number given as hex (0x...) or decimal; throws CliError on anything else. */
export function parseNumberArg(name: string, text: string): number {
  const t = text.trim();
  let v: number;
  if (/^0x[0-9a-f]+$/i.test(t)) v = Number.parseInt(t.slice(2), 16);
  else if (/^[0-9]+$/.test(t)) v = Number.parseInt(t, 10);
  else throw new CliError(`${name}: '${text}' is not a number (hex 0x... or decimal)`);
  if (!Number.isSafeInteger(v)) throw new CliError(`${name}: '${text}' is too large`);
  return v;
}
