/**
 * The worker every trial role runs in (fresh per trial). Builds its side, reports ready, runs on 'go', reports
 * the result or the error (code and message).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadContender } from './contenders/index.js';
import { installThreadHooks } from '../transport/thread-hooks.js';
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

installThreadHooks(); // this thread's payload copy and load signal (transport/thread-hooks.ts)

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
