/**
 * SIGINT / SIGTERM while a command runs: say what was interrupted, then exit (130 / 143). Exiting runs the clean-up
 * registered with cleanupOnExit (src/host/shm.ts): shared files and directories under /dev/shm, partition processes.
 * A second signal while exiting is ignored; the clean-up is synchronous and short.
 */
import { pendingExitCleanups } from '../host/shm.js';

let activity = '';
let report: ((line: string, code: number, signal: NodeJS.Signals) => void) | undefined;
let installed = false;

/** Names what the command is doing now ("running the machine (2 cores, process isolation)"), for the signal line. */
export function setActivity(text: string): void {
  activity = text;
}

function onSignal(signal: NodeJS.Signals): void {
  const code = signal === 'SIGINT' ? 130 : 143;
  const cleaned = pendingExitCleanups();
  const line = `interrupted by ${signal}${activity ? ` while ${activity}` : ''}${cleaned > 0 ? `; removed its shared files (${cleaned} clean-up step${cleaned === 1 ? '' : 's'})` : ''}`;
  report?.(line, code, signal);
  process.exit(code);
}

/** Installs the handlers; `write` prints the line in the command's style (text or JSON). Returns the uninstaller. */
export function installSignalHandlers(write: (line: string, code: number, signal: NodeJS.Signals) => void): () => void {
  report = write;
  activity = '';
  if (!installed) {
    installed = true;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return () => {
    report = undefined;
    if (installed) {
      installed = false;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };
}
