/**
 * CPU time of the calling thread. Spinning costs cores, so every side reports its own CPU time next to wall time.
 *
 * Linux: /proc/thread-self/schedstat (first field: ns on CPU) resolves to the calling thread, workers included.
 * Elsewhere: process.cpuUsage(), which counts the whole process (reported as such).
 */
import { readFileSync } from 'node:fs';

let perThread: boolean | undefined;

export function threadCpuNs(): number {
  if (perThread !== false) {
    try {
      const text = readFileSync('/proc/thread-self/schedstat', 'latin1');
      perThread = true;
      return Number(text.slice(0, text.indexOf(' ')));
    } catch {
      perThread = false;
    }
  }
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** Whether threadCpuNs() measures the calling thread only (false: the whole process). */
export function cpuIsPerThread(): boolean {
  if (perThread === undefined) threadCpuNs();
  return perThread === true;
}
