/**
 * The run-queue probe of src/sync/run-queue.ts on Linux: the second field of /proc/thread-self/schedstat (ns the
 * calling thread waited runnable for a CPU). One read costs a few µs; the waiter reads it at most every
 * LOAD_CHECK_MS (src/sync/waiter.ts). undefined where the file is not there (other systems, no schedstats).
 */
import { closeSync, openSync, readSync } from 'node:fs';

const PATH = '/proc/thread-self/schedstat';

/** A probe for this thread (call it on the thread that will use it), or undefined when the kernel has none. */
export function threadRunQueueProbe(): (() => number) | undefined {
  const buf = Buffer.alloc(128);
  const read = (): number => {
    let fd = -1;
    try {
      fd = openSync(PATH, 'r');
      const n = readSync(fd, buf, 0, buf.length, 0);
      // "<ns on cpu> <ns waiting on a runqueue> <timeslices>\n"
      const a = buf.indexOf(32);
      const b = a < 0 ? -1 : buf.indexOf(32, a + 1);
      if (b < 0 || b > n) return -1;
      const v = Number(buf.toString('latin1', a + 1, b));
      return Number.isFinite(v) ? v : -1;
    } catch {
      return -1;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  };
  return read() >= 0 ? read : undefined;
}
