/**
 * CPU time of the calling thread. Spinning costs cores, so every side reports its own CPU time next to wall time.
 *
 * Linux: /proc/thread-self/schedstat (src/host/schedstat.ts) resolves to the calling thread, workers included.
 * Elsewhere: process.cpuUsage(), which counts the whole process (reported as such).
 */
import { readThreadSchedstat } from '../host/schedstat.js';

let perThread: boolean | undefined;

/** This thread's CPU time and run-queue wait (ns; -1 unknown) from one read. */
export function threadTimes(): { readonly cpuNs: number; readonly runQueueNs: number } {
  if (perThread !== false) {
    const s = readThreadSchedstat();
    perThread = s !== undefined;
    if (s !== undefined) return s;
  }
  const u = process.cpuUsage();
  return { cpuNs: (u.user + u.system) * 1000, runQueueNs: -1 };
}

export function threadCpuNs(): number {
  return threadTimes().cpuNs;
}

/** Whether threadCpuNs() measures the calling thread only (false: the whole process). */
export function cpuIsPerThread(): boolean {
  if (perThread === undefined) threadTimes();
  return perThread === true;
}
