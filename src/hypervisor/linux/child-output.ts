/**
 * What UML and QEMU have in common as child processes: their console output (the non-secure side's, so through the
 * bounded LineSplitter) goes line by line to `onLine`, and one promise says how the process ended — `spawn error: …`,
 * or its exit code or signal once its last line has been delivered. `onGone` runs first on either path; `onExit` only
 * after an exit (the caller's clean-up of what the process leaves behind).
 */
import type { ChildProcess } from 'node:child_process';
import { LineSplitter, OUTPUT_MAX_LINE } from './line-splitter.js';

export function superviseChild(
  child: ChildProcess,
  onLine: (line: string) => void,
  hooks: { readonly onGone: () => void; readonly onExit?: () => void },
): Promise<number | string> {
  const lines = new LineSplitter(OUTPUT_MAX_LINE);
  const take = (d: Buffer): void => lines.push(d, onLine);
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return new Promise((resolve) => {
    child.once('error', (e) => {
      hooks.onGone();
      resolve(`spawn error: ${e.message}`);
    });
    child.once('exit', (code, signal) => {
      hooks.onGone();
      lines.flush(onLine);
      hooks.onExit?.();
      resolve(code ?? signal ?? 'unknown');
    });
  });
}
