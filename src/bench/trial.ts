/**
 * One trial = fresh workers (one per role), the contender's shared state, a start signal once every worker is
 * ready, and their reports. A trial that errs or exceeds its time limit is terminated and rejected with a BenchError.
 */
import { Worker } from 'node:worker_threads';
import { loadContender } from './contenders/index.js';
import { BenchError, BenchErrorCode, type BenchErrorCode as Code } from './errors.js';
import type { SideReport, TrialResult, TrialSpec } from './types.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

type Msg = { type: 'ready' } | { type: 'result'; report: SideReport } | { type: 'error'; code: string; message: string };

export async function runTrial(spec: TrialSpec, timeoutMs = 60_000): Promise<TrialResult> {
  const c = await loadContender(spec.contender);
  if (spec.size > c.maxSize(spec)) {
    throw new BenchError(BenchErrorCode.UNSUPPORTED, `${spec.contender} carries at most ${c.maxSize(spec)} bytes per message`);
  }
  const setup = c.setup(spec);
  const workers: Worker[] = [];
  try {
    return await new Promise<TrialResult>((resolve, reject) => {
      const reports = new Map<string, SideReport>();
      let ready = 0;
      let settled = false;
      const finish = (e: Error | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e) reject(e);
        else resolve({ spec, sides: setup.roles.map((r) => reports.get(r)!) });
      };
      const timer = setTimeout(() => finish(new BenchError(BenchErrorCode.TIMEOUT, `${spec.contender} ${spec.experiment} size ${spec.size}: no result within ${timeoutMs} ms`)), timeoutMs);
      for (const role of setup.roles) {
        const extra = setup.perRole?.[role];
        const w = new Worker(WORKER_URL, {
          workerData: { contender: spec.contender, role, spec, shared: { ...setup.shared, ...(extra?.data ?? {}) } },
          transferList: extra ? [...extra.transfer] : [],
        });
        workers.push(w);
        w.on('message', (m: Msg) => {
          if (m.type === 'ready') {
            if (++ready === setup.roles.length) for (const x of workers) x.postMessage({ type: 'go' });
          } else if (m.type === 'result') {
            reports.set(role, m.report);
            if (reports.size === setup.roles.length) finish(undefined);
          } else {
            const code = (Object.values(BenchErrorCode) as string[]).includes(m.code) ? (m.code as Code) : BenchErrorCode.WORKER_FAILED;
            finish(new BenchError(code, `${spec.contender} ${role}: ${m.message}`, { code: m.code }));
          }
        });
        w.on('error', (e) => finish(new BenchError(BenchErrorCode.WORKER_FAILED, `${spec.contender} ${role}: ${e.message}`)));
        w.on('exit', (code) => {
          if (!reports.has(role)) finish(new BenchError(BenchErrorCode.WORKER_FAILED, `${spec.contender} ${role} exited (${code}) without a result`));
        });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
