/**
 * `tz-virtio` command line. Each sub-command lives in commands/<name>.ts and registers itself; errors reach the
 * user as one line and a non-zero exit code, never a stack trace (set TZ_VIRTIO_DEBUG=1 for one).
 */
import { Command, CommanderError } from 'commander';
import { CliError } from './errors.js';
import { registerCommands } from './commands/index.js';

export async function runCli(argv: readonly string[]): Promise<number> {
  const program = new Command();
  program
    .name('tz-virtio')
    .description('TZ-VirtIO: standard VirtIO/RPMsg between the secure and non-secure partitions of an LTZVisor-style TrustZone model')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  registerCommands(program);
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are "errors" for commander with exit code 0
      return e.exitCode;
    }
    if (process.env['TZ_VIRTIO_DEBUG']) console.error(e);
    if (e instanceof CliError) {
      process.stderr.write(`tz-virtio: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e as { code?: unknown; message?: unknown };
    const msg = typeof err?.message === 'string' ? err.message : String(e);
    process.stderr.write(`tz-virtio: ${msg}\n`);
    return 1;
  }
}
