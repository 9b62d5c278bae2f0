/** The heap experiment: 10^6 messages through the RPMsg path in one fresh worker (see heap-worker.ts). */
import { Worker } from 'node:worker_threads';
import type { BenchOptions } from '../plan.js';
import type { HeapResult, SkippedResult } from '../types.js';

export function runHeap(o: Pick<BenchOptions, 'heapMessages' | 'timeoutMs'>, size = 64): Promise<(HeapResult | SkippedResult)[]> {
  return new Promise((resolve) => {
    const w = new Worker(new URL('./heap-worker.js', import.meta.url), { workerData: { messages: o.heapMessages, size } });
    const timer = setTimeout(() => {
      void w.terminate();
      resolve([{ experiment: 'heap', contender: 'rpmsg', skipped: `no result within ${o.timeoutMs} ms` }]);
    }, o.timeoutMs);
    w.once('message', (r: HeapResult) => {
      clearTimeout(timer);
      void w.terminate();
      resolve([r]);
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      resolve([{ experiment: 'heap', contender: 'rpmsg', skipped: `failed: ${e.message}` }]);
    });
  });
}
