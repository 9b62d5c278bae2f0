/**
 * Stopping a whole host process as a world switch: SIGSTOP starts a group stop, but kill() returns before every thread
 * has taken it, and a thread running on another core goes on until it does. The secure world may only consider the
 * non-secure one halted once every thread of it is in the stopped state (/proc/PID/task/TID/stat state T).
 */
const nap = new Int32Array(new SharedArrayBuffer(4));

/** True when every thread of `pid` is stopped (or gone, as is the process). */
export function allThreadsStopped(pid: number, readdir: (p: string) => string[], read: (p: string) => string): boolean {
  let tasks: string[];
  try {
    tasks = readdir(`/proc/${pid}/task`);
  } catch {
    return true; // the process is gone
  }
  for (const t of tasks) {
    try {
      const stat = read(`/proc/${pid}/task/${t}/stat`);
      // the state is the field after "(comm) "; comm may contain spaces and parentheses, so look after the last ')'
      const state = stat.charAt(stat.lastIndexOf(')') + 2);
      if (state !== 'T' && state !== 't' && state !== 'Z' && state !== 'X') return false;
    } catch {
      // the thread ended meanwhile
    }
  }
  return true;
}

/**
 * Sends SIGSTOP to `pid` and waits (polling every 0.2 ms, at most `boundMs`) until all its threads are stopped.
 * Returns 'stopped', 'late' (the bound passed first; the caller counts it) or 'gone' (no such process).
 */
export function stopAndWait(pid: number, boundMs: number, readdir: (p: string) => string[], read: (p: string) => string): 'stopped' | 'late' | 'gone' {
  try {
    process.kill(pid, 'SIGSTOP');
  } catch {
    return 'gone';
  }
  const until = performance.now() + boundMs;
  while (!allThreadsStopped(pid, readdir, read)) {
    if (performance.now() > until) return 'late';
    Atomics.wait(nap, 0, 0, 0.2);
  }
  return 'stopped';
}
