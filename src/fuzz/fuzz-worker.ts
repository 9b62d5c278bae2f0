/**
 * Worker entry of `tz-virtio fuzz`: runs chunks of fuzz iterations (or one concurrent run) on request, ticking a
 * shared heartbeat after every device call so the watchdog on the main thread can tell a hang from slow progress.
 *
 *   heartbeat[0]  device calls so far (incremented by every tick)
 *   heartbeat[1]  the iteration being run (for the hang report)
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runConcurrentFuzz } from './concurrent.js';
import { runFuzz } from './run.js';

export type FuzzJob =
  | { readonly kind: 'chunk'; readonly seed: number; readonly from: number; readonly count: number; readonly targets: readonly string[]; readonly steps: number }
  | { readonly kind: 'concurrent'; readonly seed: number; readonly target: 'split' | 'packed'; readonly durationMs: number };

const hb = new Int32Array((workerData as { heartbeat: SharedArrayBuffer }).heartbeat);
const port = parentPort!;

port.on('message', (job: FuzzJob | 'exit') => {
  if (job === 'exit') {
    port.close();
    return;
  }
  if (job.kind === 'chunk') {
    const report = runFuzz({
      seed: job.seed,
      iterations: job.count,
      from: job.from,
      targets: job.targets,
      steps: job.steps,
      tick: (i) => {
        Atomics.add(hb, 0, 1);
        Atomics.store(hb, 1, i);
      },
    });
    port.postMessage(report);
  } else {
    void runConcurrentFuzz({ seed: job.seed, target: job.target, durationMs: job.durationMs, tick: () => Atomics.add(hb, 0, 1) }).then((r) => port.postMessage(r));
  }
});
