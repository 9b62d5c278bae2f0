/**
 * Runs a whole benchmark: plans the trials, runs them one at a time in shuffled order (fresh workers each), then
 * the jitter, heap and micro experiments, and aggregates everything into one report {env, results}.
 */
import { aggregateRtt, aggregateThroughput, orderOf } from './aggregate.js';
import type { Contender } from './contender.js';
import { CONTENDER_NAMES, loadContender } from './contenders/index.js';
import { collectEnv } from './env.js';
import { BenchError, BenchErrorCode } from './errors.js';
import { runHeap } from './experiments/heap.js';
import { runJitter } from './experiments/jitter.js';
import { runOpenAmpRows, runProcessRows } from './experiments/external.js';
import { runLinuxRows } from './experiments/linux.js';
import { runMicro } from './micro/runner.js';
import { planTrials, type BenchOptions } from './plan.js';
import { runTrial } from './trial.js';
import os from 'node:os';
import type { BenchReport, BenchResult, Env, SkippedResult, TrialResult } from './types.js';

export interface RunHooks {
  /** Called before each step: done so far, total steps, what runs next. */
  progress?(done: number, total: number, label: string): void;
}

/**
 * One retry after a short pause for failures that are not the contender's verdict (a worker that could not load its
 * module while dist/ was being rebuilt, a timeout on a busy machine). Verification failures are never retried.
 */
async function runTrialRetrying(s: TrialResult['spec'], timeoutMs: number): Promise<TrialResult> {
  try {
    return await runTrial(s, timeoutMs);
  } catch (e) {
    if (!(e instanceof BenchError) || e.code === BenchErrorCode.VERIFY_FAILED || e.code === BenchErrorCode.UNSUPPORTED || e.code === BenchErrorCode.NO_TOOL) throw e;
    await new Promise((r) => setTimeout(r, 2000));
    return runTrial(s, timeoutMs);
  }
}

export async function runBench(o: BenchOptions, hooks: RunHooks = {}): Promise<BenchReport> {
  const env: Env = collectEnv({ ...o });
  const results: BenchResult[] = [];
  const contenders: Contender[] = [];
  for (const name of o.contenders ?? CONTENDER_NAMES) {
    try {
      const c = await loadContender(name);
      const why = c.unavailable?.();
      if (why !== undefined) results.push({ experiment: 'throughput', contender: name, skipped: why });
      else contenders.push(c);
    } catch (e) {
      results.push({ experiment: 'throughput', contender: name, skipped: (e as Error).message });
    }
  }
  const { trials, skipped } = planTrials(contenders, o);
  for (const s of skipped) results.push({ experiment: 'throughput', contender: s.contender, mode: s.mode as SkippedResult['mode'], size: s.size, skipped: s.why });
  const extra = (o.only.includes('jitter') ? 4 : 0) + (o.only.includes('heap') ? 1 : 0) + (o.only.includes('micro') ? 1 : 0) + (o.only.includes('process') ? 1 : 0) + (o.only.includes('openamp') ? 1 : 0) + (o.only.includes('linux') ? 1 : 0);
  const total = trials.length + extra;
  let done = 0;
  const done_: TrialResult[] = [];
  const failed = new Set<string>();
  for (const t of trials) {
    const s = t.spec;
    const label = `${s.experiment} ${s.contender}${s.mode !== 'n/a' ? ` ${s.mode}` : ''} ${s.experiment === 'rtt' ? s.policy : s.size + ' B'} (round ${t.round + 1})`;
    hooks.progress?.(done, total, label);
    const key = `${s.experiment}|${s.contender}|${s.mode}|${s.policy}|${s.size}`;
    try {
      if (!failed.has(key)) done_.push(await runTrialRetrying(s, o.timeoutMs));
    } catch (e) {
      failed.add(key);
      results.push({ experiment: s.experiment, contender: s.contender, mode: s.mode, size: s.size, skipped: e instanceof BenchError ? `${e.code}: ${e.message}` : String(e) });
    }
    done++;
  }
  const order = orderOf(CONTENDER_NAMES);
  const eventLoop = (name: string): boolean => contenders.find((c) => c.name === name)?.rttPolicies.includes('event-loop') ?? false;
  const ok = done_.filter((r) => !failed.has(`${r.spec.experiment}|${r.spec.contender}|${r.spec.mode}|${r.spec.policy}|${r.spec.size}`));
  results.push(...aggregateThroughput(ok).sort(order));
  results.push(...aggregateRtt(ok, eventLoop).sort(order));
  if (o.only.includes('jitter')) {
    results.push(...(await runJitter(o, (label) => hooks.progress?.(done++, total, label))));
  }
  if (o.only.includes('heap')) {
    hooks.progress?.(done++, total, `heap: ${o.heapMessages} messages through rpmsg`);
    results.push(...(await runHeap(o)));
  }
  if (o.only.includes('micro')) {
    hooks.progress?.(done++, total, 'micro benchmarks');
    results.push(...(await runMicro({ targetMs: o.quick ? 10 : 30, rounds: o.quick ? 5 : 7 }, (name) => hooks.progress?.(done - 1, total, `micro ${name}`))));
  }
  if (o.only.includes('process')) {
    hooks.progress?.(done++, total, 'process isolation: workers vs OS processes');
    results.push(...(await runProcessRows(o)));
  }
  if (o.only.includes('openamp')) {
    hooks.progress?.(done++, total, 'OpenAMP pairing across processes');
    results.push(...(await runOpenAmpRows(o)));
  }
  if (o.only.includes('linux')) {
    hooks.progress?.(done++, total, 'Linux (UML) AF_VSOCK: our vsock device vs vsock_loopback');
    results.push(...(await runLinuxRows(o)));
  }
  hooks.progress?.(total, total, 'done');
  (env.loadAvg as number[]).push(Math.round(os.loadavg()[0]! * 100) / 100);
  return { env, results };
}
