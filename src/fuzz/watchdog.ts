/**
 * Runs fuzz work in worker threads under a watchdog, so a device call that never returns is reported as a hang
 * (with the iteration to replay) instead of freezing the run.
 *
 * Sequential fuzzing is cut into chunks of iterations handed to a pool of workers. Each worker ticks a shared
 * heartbeat after every device call; if a worker's heartbeat stands still for `hangTimeoutMs`, the watchdog
 * terminates it, records a hang for the iteration it was in, and starts a fresh worker on the rest of that chunk
 * (the hung chunk's counts up to the hang are lost; the hang itself is what matters).
 */
import { Worker } from 'node:worker_threads';
import { reproCommand, resolveTargets } from './run.js';
import { addFinding, emptyReport, mergeReports, type FuzzReport } from './report.js';
import type { FuzzJob } from './fuzz-worker.js';
import { fuzzWorkerUrl } from './worker-url.js';
import { nativeAvailable } from '../host/native.js';

export interface WatchedFuzzOptions {
  readonly seed: number;
  readonly iterations: number;
  readonly targets?: readonly string[];
  readonly steps?: number;
  /** Worker threads (default 1). */
  readonly workers?: number;
  /** Iterations per chunk (default 500). */
  readonly chunk?: number;
  /** A worker whose heartbeat does not move for this long is hung (default 10 s; at least MIN_HANG_TIMEOUT_MS). */
  readonly hangTimeoutMs?: number;
  /** First iteration (default 0): a replay runs the one iteration `from` under the watchdog. */
  readonly from?: number;
  /** Concurrent mode: run the scribbler against each target for this long instead of iterations. */
  readonly concurrentMs?: number;
  /** Progress callback after each chunk (states so far). */
  readonly onProgress?: (r: FuzzReport) => void;
}

interface Slot {
  worker: Worker;
  hb: Int32Array;
  lastBeat: number;
  lastChange: number;
  job: FuzzJob | undefined;
  resolve: ((r: FuzzReport | undefined) => void) | undefined;
  /** Set when the worker died of an uncaught error. */
  error: Error | undefined;
}

function spawn(): Slot {
  const heartbeat = new SharedArrayBuffer(8);
  const worker = new Worker(fuzzWorkerUrl('fuzz-worker.js'), { workerData: { heartbeat } });
  const slot: Slot = { worker, hb: new Int32Array(heartbeat), lastBeat: 0, lastChange: performance.now(), job: undefined, resolve: undefined, error: undefined };
  worker.on('message', (r: FuzzReport) => {
    const res = slot.resolve;
    slot.resolve = undefined;
    slot.job = undefined;
    res?.(r);
  });
  worker.on('error', (e) => {
    slot.error = e;
    const res = slot.resolve;
    slot.resolve = undefined;
    res?.(undefined);
  });
  return slot;
}

/**
 * The shortest hang timeout: below it a worker that is merely starting (loading its modules, a few ms under load)
 * would be taken for hung and restarted without end.
 */
export const MIN_HANG_TIMEOUT_MS = 100;

export async function runWatchedFuzz(opts: WatchedFuzzOptions): Promise<FuzzReport> {
  const targets = resolveTargets(opts.targets).map((t) => t.name);
  const steps = opts.steps ?? 200;
  const hangMs = opts.hangTimeoutMs ?? 10_000;
  if (!(Number.isFinite(hangMs) && hangMs >= MIN_HANG_TIMEOUT_MS)) throw new RangeError(`hang timeout must be at least ${MIN_HANG_TIMEOUT_MS} ms, not ${hangMs}`);
  const first = opts.from ?? 0;
  if (!(Number.isSafeInteger(first) && first >= 0)) throw new RangeError(`first iteration must be a non-negative integer, not ${first}`);
  const total = emptyReport(opts.seed, opts.concurrentMs !== undefined ? [] : [...targets]);
  // The hostile-process target maps files in the workers. A mapping's unmap code lives in the native addon, which a
  // worker unloads when it exits while V8 may free the mapping later: loaded here too, the addon stays in memory.
  if (targets.includes('hostile-process')) nativeAvailable();
  const t0 = performance.now();
  const jobs: FuzzJob[] = [];
  if (opts.concurrentMs !== undefined) {
    for (const t of targets) {
      if (t !== 'split' && t !== 'packed') continue;
      jobs.push({ kind: 'concurrent', seed: opts.seed, target: t, durationMs: opts.concurrentMs });
    }
  } else {
    const chunk = opts.chunk ?? 500;
    const end = first + opts.iterations;
    for (let from = first; from < end; from += chunk) {
      jobs.push({ kind: 'chunk', seed: opts.seed, from, count: Math.min(chunk, end - from), targets, steps });
    }
  }
  const nWorkers = Math.max(1, Math.min(opts.workers ?? 1, jobs.length));
  const slots: Slot[] = Array.from({ length: nWorkers }, spawn);

  const runJob = (slot: Slot, job: FuzzJob): Promise<FuzzReport | undefined> =>
    new Promise((resolve) => {
      slot.job = job;
      slot.resolve = resolve;
      // a hang before the job's first tick is in its first iteration, not in whatever the slot last ran
      Atomics.store(slot.hb, 1, job.kind === 'chunk' ? job.from : 0);
      slot.lastBeat = Atomics.load(slot.hb, 0);
      slot.lastChange = performance.now();
      slot.worker.postMessage(job);
    });

  // The watchdog: checks every heartbeat a few times a second.
  const timer = setInterval(() => {
    const now = performance.now();
    for (let k = 0; k < slots.length; k++) {
      const s = slots[k]!;
      if (s.job === undefined) continue;
      const beat = Atomics.load(s.hb, 0);
      if (beat !== s.lastBeat) {
        s.lastBeat = beat;
        s.lastChange = now;
        continue;
      }
      if (now - s.lastChange < hangMs) continue;
      const job = s.job;
      const iteration = Atomics.load(s.hb, 1);
      const target = job.kind === 'chunk' ? targets[iteration % targets.length]! : `concurrent-${job.target}`;
      addFinding(total, {
        kind: 'hang',
        target,
        iteration,
        step: 0,
        message: `no device call returned for ${hangMs} ms`,
        repro: job.kind === 'chunk' ? reproCommand(opts.seed, target, iteration, steps) : `tz-virtio fuzz --concurrent --seed ${opts.seed}`,
      });
      const res = s.resolve;
      s.resolve = undefined;
      s.job = undefined;
      void s.worker.terminate();
      slots[k] = spawn();
      // Continue the chunk after the hung iteration.
      if (job.kind === 'chunk' && iteration + 1 < job.from + job.count) {
        jobs.push({ ...job, from: iteration + 1, count: job.from + job.count - iteration - 1 });
      }
      res?.(undefined);
    }
  }, Math.min(250, hangMs / 4));

  try {
    await Promise.all(
      slots.map(async (_, k) => {
        for (;;) {
          const job = jobs.shift();
          if (job === undefined) return;
          const slot = slots[k]!;
          const r = await runJob(slot, job);
          if (r === undefined && slot.error !== undefined) {
            addFinding(total, {
              kind: 'crash',
              target: job.kind === 'chunk' ? targets.join(',') : `concurrent-${job.target}`,
              iteration: job.kind === 'chunk' ? job.from : 0,
              step: 0,
              message: `fuzz worker died: ${slot.error.message}`,
              repro: `tz-virtio fuzz --seed ${opts.seed}`,
            });
            slots[k] = spawn();
          }
          if (r !== undefined) {
            mergeReports(total, r);
            opts.onProgress?.(total);
          }
        }
      }),
    );
  } finally {
    clearInterval(timer);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
  total.elapsedMs = performance.now() - t0;
  return total;
}
