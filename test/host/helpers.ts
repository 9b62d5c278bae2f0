import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scratchDir } from '../support/scratch.js';

/** The compiled host layer, for child processes (they cannot load .ts). */
export const DIST_HOST = new URL('../../dist/src/host/index.js', import.meta.url).href;

export function tempDir(prefix: string): string {
  return scratchDir(prefix);
}

export interface ChildResult {
  code: number | null;
  /** The signal that ended the child (e.g. SIGSEGV), or null when it exited. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs an ES module source in a fresh `node` process; resolves when it exits (killed after timeoutMs). */
export function runNodeModule(
  source: string,
  timeoutMs = 15_000,
  cwd = fileURLToPath(new URL('../../', import.meta.url)),
  nodeFlags: readonly string[] = [],
): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeFlags, '--input-type=module', '-e', source], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
