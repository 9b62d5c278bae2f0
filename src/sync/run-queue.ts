/**
 * How long this thread has waited for a CPU: the load signal of the peer-aware wait policy (./waiter.ts).
 *
 * A thread that is runnable but not running (other threads hold every CPU) accumulates run-queue wait; Linux counts
 * it per thread (/proc/thread-self/schedstat, second field, ns). On the 2-core VMs this runs on, the fraction of wall
 * time a bench side spends waiting there was 2-6 % on a quiet machine and 17-47 % with two busy loops, under every
 * policy (a sleeper that is woken waits too), so it tells a crowded machine from a quiet one whatever the waiter
 * does meanwhile.
 *
 * This layer imports nothing of ours and reads no files: an entry point installs a probe once per thread
 * (src/transport/thread-hooks.ts, with src/host/schedstat.ts's reader), as it installs the bulk copy. Without one
 * the waiter never sees the machine as crowded.
 */

/** Cumulative run-queue wait of the calling thread, ns (-1: unknown). */
export type RunQueueProbe = () => number;

let probe: RunQueueProbe | undefined;

/** Installs this thread's probe (undefined: none); returns the previous one. */
export function installRunQueueProbe(p: RunQueueProbe | undefined): RunQueueProbe | undefined {
  const old = probe;
  probe = p;
  return old;
}

/** The calling thread's run-queue wait so far, ns, or -1 without a probe (or when the probe fails). */
export function runQueueNs(): number {
  return probe === undefined ? -1 : probe();
}
