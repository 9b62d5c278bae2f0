/**
 * Experiment 3: overhead on the secure real-time task. A periodic secure task alone, and with the non-secure side
 * streaming RPMsg at full speed, in the multi-core and the single-core mode (see jitter-worker.ts).
 */
import { Worker } from 'node:worker_threads';
import { PhysicalMemory } from '../../virtio/index.js';
import { writeResourceTable } from '../../rpmsg/index.js';
import { rpmsgPlan, RPMSG_IPC_BASE } from '../contenders/rpmsg.js';
import type { BenchOptions } from '../plan.js';
import { newControl } from '../shared.js';
import { sortedQuantile } from '../stats.js';
import type { CoreMode, JitterResult, SkippedResult } from '../types.js';
import type { JitterWorkerData } from './jitter-worker.js';

export interface JitterParams {
  readonly periodUs: number;
  readonly workUs: number;
  readonly deadlineUs: number;
  readonly periods: number;
  /** Streamed message size (default 496: one default 512-byte RPMsg buffer). */
  readonly size: number;
}

export function jitterParams(o: Pick<BenchOptions, 'quick' | 'scale'>): JitterParams {
  return { periodUs: 1000, workUs: 200, deadlineUs: 500, periods: Math.max(20, Math.round((o.quick ? 400 : 2000) * Math.min(1, o.scale * 4))), size: 496 };
}

export async function runJitterOnce(mode: CoreMode, load: boolean, p: JitterParams, timeoutMs: number): Promise<JitterResult> {
  const layout = rpmsgPlan(p.size, 64);
  const ipc = new SharedArrayBuffer(layout.size);
  writeResourceTable(new PhysicalMemory([{ name: 'ipc', base: RPMSG_IPC_BASE, size: layout.size, buffer: ipc }]), layout);
  const ctl = newControl();
  const times = new Float64Array(new SharedArrayBuffer(8));
  times[0] = Number.POSITIVE_INFINITY;
  const base = { mode, load, ...p, ctl, times, ipc, layout };
  const url = new URL('./jitter-worker.js', import.meta.url);
  const workers: Worker[] = [];
  try {
    // the host starts first (the remote attaches to its rings), then the secure world
    const ns = new Worker(url, { workerData: { ...base, role: 'nonsecure' } satisfies JitterWorkerData });
    workers.push(ns);
    const nsDone = new Promise<{ sent: number }>((resolve, reject) => {
      ns.on('message', (m: { started?: boolean; sent?: number }) => {
        if (m.sent !== undefined) resolve({ sent: m.sent });
      });
      ns.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      ns.once('message', () => resolve());
      ns.once('error', reject);
    });
    const sec = new Worker(url, { workerData: { ...base, role: 'secure' } satisfies JitterWorkerData });
    workers.push(sec);
    const r = await new Promise<{ jitter: Float64Array; misses: number; received: number; bad: number; switches: number; maxServiceUs: number; polls: number; niced: boolean; heldBack: number }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`jitter ${mode}: no result within ${timeoutMs} ms`)), timeoutMs);
      sec.once('message', (m) => {
        clearTimeout(t);
        resolve(m);
      });
      sec.once('error', reject);
    });
    await Promise.race([nsDone, new Promise((res) => setTimeout(res, 2000))]);
    const j = Float64Array.from(r.jitter).sort();
    const round = (x: number): number => Math.round(x * 100) / 100;
    return {
      experiment: 'jitter',
      mode,
      load: load ? `rpmsg ${p.size} B stream` : 'none',
      periodUs: p.periodUs,
      workUs: p.workUs,
      deadlineUs: p.deadlineUs,
      periods: p.periods,
      jitterP50Us: round(sortedQuantile(j, 0.5)),
      jitterP99Us: round(sortedQuantile(j, 0.99)),
      jitterMaxUs: round(j[j.length - 1]!),
      deadlineMisses: r.misses,
      messagesStreamed: r.bad === 0 ? r.received : -1,
      worldSwitches: mode === 'single-core' ? r.switches : 0,
      maxServiceUs: round(r.maxServiceUs),
      serviceBursts: r.polls,
      heldBack: r.heldBack,
      priorities: r.niced ? 'secure nice -10, non-secure +10' : 'non-secure nice +10 (raising the secure thread was refused)',
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export async function runJitter(o: Pick<BenchOptions, 'quick' | 'scale' | 'timeoutMs'>, progress?: (label: string) => void): Promise<(JitterResult | SkippedResult)[]> {
  const p = jitterParams(o);
  const out: (JitterResult | SkippedResult)[] = [];
  for (const mode of ['multi-core', 'single-core'] as const) {
    for (const load of [false, true]) {
      progress?.(`jitter ${mode} ${load ? 'with rpmsg stream' : 'no IPC'}`);
      try {
        out.push(await runJitterOnce(mode, load, p, o.timeoutMs));
      } catch (e) {
        out.push({ experiment: 'jitter', mode, skipped: (e as Error).message });
      }
    }
  }
  return out;
}
