/**
 * The worker every trial role runs in (fresh per trial). Builds its side, reports ready, runs on 'go', reports
 * the result or the error (code and message).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadContender } from './contenders/index.js';
import { installCopyBytes } from '../virtio/copy.js';
import { installRunQueueProbe } from '../sync/run-queue.js';
import { threadRunQueueProbe } from '../host/schedstat.js';
import { nativeCopyBytes } from '../host/native-copy.js';
import type { TrialSpec } from './types.js';

interface Data {
  contender: string;
  role: string;
  spec: TrialSpec;
  shared: Record<string, unknown>;
}

const port = parentPort!;
const data = workerData as Data;

function fail(e: unknown): void {
  const err = e as { code?: unknown; message?: unknown };
  port.postMessage({ type: 'error', code: typeof err?.code === 'string' ? err.code : 'ERROR', message: String(err?.message ?? e) });
}

// the product's payload copies (virtio/copy.ts) as the partitions run them: the addon's memmove when it is built
installCopyBytes(nativeCopyBytes());
installRunQueueProbe(threadRunQueueProbe()); // the peer-aware waiter's load signal (sync/run-queue.ts)

try {
  const c = await loadContender(data.contender);
  const inst = await c.createRole(data.role, data.spec, data.shared);
  port.once('message', (m: { type: string }) => {
    if (m.type !== 'go') return;
    Promise.resolve()
      .then(() => inst.run())
      .then((r) => port.postMessage({ type: 'result', report: r }))
      .catch(fail);
  });
  port.postMessage({ type: 'ready' });
} catch (e) {
  fail(e);
}
