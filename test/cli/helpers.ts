/** Runs bin/tz-virtio.mjs as a user does (a subprocess over the compiled dist/), with a generous bound on its time. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/tz-virtio.mjs', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tz-virtio ...args`; `onStart` gets the child (to signal it). Kills it after `timeoutMs` (then code is null). */
export function tzv(args: readonly string[], o: { timeoutMs?: number; env?: NodeJS.ProcessEnv; onStart?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    o.onStart?.(child);
  });
}

/** One line on stderr, `tz-virtio: <command>: ...`, matching `re`; exit code 2; no stack trace. */
export function usageError(r: CliRun, command: string, re: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n');
  if (r.code !== 2 || lines.length !== 1 || !lines[0]!.startsWith(`tz-virtio: ${command}: `) || !re.test(lines[0]!) || / at /.test(r.stderr)) {
    throw new Error(`expected a one-line usage error of ${command} matching ${re}, got code ${r.code}: ${r.stderr}`);
  }
}
