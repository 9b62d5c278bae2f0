/**
 * `tz-virtio` command line. Each sub-command lives in commands/<name>.ts and registers itself. One error style for
 * everything, commander's own parse errors included: one line `tz-virtio: <command>: <message>` on stderr, exit code 2
 * for usage errors and 1 for failures, never a stack trace (set TZ_VIRTIO_DEBUG=1 for one); with --json the same
 * error is also one JSON object `{"error": {command, code, message}}` on stdout. SIGINT / SIGTERM end the command
 * after its clean-up (signals.ts); a closed stdout (`| head -1`) ends it quietly.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CliError, CliErrorCode } from './errors.js';
import { registerCommands } from './commands/index.js';
import { installSignalHandlers } from './signals.js';
import { installThreadHooks } from '../transport/thread-hooks.js';

/** The package version, read from the package.json above this file (src/cli or dist/src/cli). */
export function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tz-virtio' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next level
    }
  }
  return 'unknown';
}

/** The sub-command path the arguments select ("run", "openamp host"), or '' when none. */
export function commandPath(program: Command, argv: readonly string[]): string {
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  const first = program.commands.find((c) => c.name() === words[0]);
  if (first === undefined) return '';
  const second = first.commands.find((c) => c.name() === words[1]);
  return second === undefined ? first.name() : `${first.name()} ${second.name()}`;
}

function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/** A stable code for any error: ours (CLI_ERR_*), another layer's typed code (RPMSG_ERR_..., ...), or FAILED. */
function codeOf(e: unknown): string {
  if (e instanceof CliError) return e.code;
  const c = (e as { code?: unknown } | undefined)?.code;
  return typeof c === 'string' && /^[A-Z][A-Z0-9_]*_ERR_[A-Z0-9_]+$/.test(c) ? c : CliErrorCode.FAILED;
}

export async function runCli(argv: readonly string[]): Promise<number> {
  installThreadHooks(); // this thread's payload copy and load signal (transport/thread-hooks.ts)
  const program = new Command();
  program
    .name('tz-virtio')
    .description('TZ-VirtIO: standard VirtIO/RPMsg between the secure and non-secure partitions of an LTZVisor-style TrustZone model')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .addHelpText('after', '\nExample:\n  npx tz-virtio run --cores 2       the secure signer and its client, one core per world\n  npx tz-virtio <command> --help    options and an example of each command');
  registerCommands(program);
  const path = commandPath(program, argv);
  const json = wantsJson(argv);
  const fail = (message: string, code: string, exitCode: number): number => {
    // messages may already name their command ("run: ..."); print it once
    const first = path.split(' ')[0] ?? '';
    const own = path !== '' && (message.startsWith(`${path}: `) || message.startsWith(`${first}: `));
    const text = own ? message.slice(message.indexOf(': ') + 2) : message;
    const line = path === '' ? `tz-virtio: ${text}` : `tz-virtio: ${path}: ${text}`;
    writeQuietly(process.stderr, line + '\n');
    if (json) writeQuietly(process.stdout, JSON.stringify({ error: { command: path, code, message: text } }) + '\n');
    return exitCode;
  };
  const uninstall = installSignalHandlers((line, exitCode) => void fail(line, CliErrorCode.INTERRUPTED, exitCode));
  const onStdoutError = (e: NodeJS.ErrnoException): void => {
    // the reader went away (`| head -1`): nothing more to say, and no stack trace about it
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw e;
  };
  process.stdout.on('error', onStdoutError);
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are "errors" with exit code 0; a bare `tz-virtio` printed the help already
      if (e.exitCode === 0 || e.code === 'commander.help' || e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return e.exitCode;
      return fail(e.message.replace(/^error: /, ''), CliErrorCode.USAGE, 2);
    }
    if (process.env['TZ_VIRTIO_DEBUG']) console.error(e);
    if (e instanceof CliError) return fail(e.message, e.code, e.exitCode);
    const err = e as { message?: unknown };
    return fail(typeof err?.message === 'string' ? err.message : String(e), codeOf(e), 1);
  } finally {
    uninstall();
  }
}

/** Writes, ignoring a reader that went away. */
function writeQuietly(stream: NodeJS.WriteStream, text: string): void {
  try {
    stream.write(text);
  } catch {
    // stream closed
  }
}
