/**
 * The calling thread's scheduler counters on Linux: /proc/thread-self/schedstat, "<ns on cpu> <ns waiting on a
 * runqueue> <timeslices>". One reader for both users: the bench's CPU time per side (src/bench/cpu.ts) and the
 * run-queue probe of the peer-aware waiter (src/sync/run-queue.ts; the waiter reads it at most every LOAD_CHECK_MS).
 * One read costs a few µs. undefined where the file is not there (other systems, a kernel without schedstats).
 */
import { closeSync, openSync, readSync } from 'node:fs';

const PATH = '/proc/thread-self/schedstat';
/** One buffer per thread (each worker has its own module instance). */
const buf = Buffer.alloc(128);

export interface ThreadSchedstat {
  /** Time on a CPU, ns. */
  readonly cpuNs: number;
  /** Time runnable but waiting for a CPU, ns. */
  readonly runQueueNs: number;
}

/** The calling thread's counters, or undefined when the kernel has none. */
export function readThreadSchedstat(): ThreadSchedstat | undefined {
  let fd = -1;
  try {
    fd = openSync(PATH, 'r');
    const n = readSync(fd, buf, 0, buf.length, 0);
    const a = buf.indexOf(32);
    const b = a < 0 ? -1 : buf.indexOf(32, a + 1);
    if (b < 0 || b > n) return undefined;
    const cpuNs = Number(buf.toString('latin1', 0, a));
    const runQueueNs = Number(buf.toString('latin1', a + 1, b));
    return Number.isFinite(cpuNs) && Number.isFinite(runQueueNs) ? { cpuNs, runQueueNs } : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** A run-queue probe for this thread (call it on the thread that will use it), or undefined when the kernel has none. */
export function threadRunQueueProbe(): (() => number) | undefined {
  const read = (): number => readThreadSchedstat()?.runQueueNs ?? -1;
  return read() >= 0 ? read : undefined;
}
