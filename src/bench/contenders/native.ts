/**
 * `native`: the machine's own limit for the same workload, in C (native/ring-source.ts): an SPSC ring of fixed
 * slots over two pthreads for throughput (same window, every message copied out and its stamps checked), a spin
 * ping-pong for rtt. One child process per trial, run from the trial's worker; it prints one JSON report.
 * Every other contender is reported as a fraction of this one (report/tables.ts, report/charts.ts).
 *
 * It always spins (its wait policy is the CPU's pause hint plus a yield when its peer lost its core), so its rtt row
 * is listed under 'poll'. Its CPU figure is both threads together (2 = two cores busy for the whole run).
 */
import { spawnSync } from 'node:child_process';
import { report, type Contender, type RoleInstance } from '../contender.js';
import { BenchError, BenchErrorCode, verifyFailed } from '../errors.js';
import { nativeBuild } from '../native/compile.js';
import type { SideReport, TrialSpec } from '../types.js';

interface NativeOutput {
  messages: number;
  elapsedNs: number;
  cpuNs: [number, number];
  verified: number;
  samples?: number[];
}

function run(binary: string, spec: TrialSpec): SideReport {
  const args = spec.experiment === 'throughput' ? ['throughput', spec.size, spec.window, spec.count, spec.warmup] : ['rtt', spec.size, spec.count, spec.warmup];
  const r = spawnSync(binary, args.map(String), { encoding: 'utf8', timeout: 100_000, killSignal: 'SIGKILL', maxBuffer: 64 * 2 ** 20 });
  if (r.status === 3) throw verifyFailed('native', Number(/(\d+)/.exec(r.stderr)?.[1] ?? -1));
  if (r.status !== 0) throw new BenchError(BenchErrorCode.WORKER_FAILED, `native-ring ${args.join(' ')}: ${r.error?.message ?? `exit ${r.status ?? r.signal}`} ${r.stderr.trim()}`);
  let o: NativeOutput;
  try {
    o = JSON.parse(r.stdout) as NativeOutput;
  } catch {
    throw new BenchError(BenchErrorCode.WORKER_FAILED, `native-ring printed no JSON report: ${r.stdout.slice(0, 200)}`);
  }
  const role = spec.experiment === 'throughput' ? 'pthreads' : 'client';
  const samples = o.samples ? Float64Array.from(o.samples) : undefined;
  return report(role, { messages: o.messages, elapsedNs: o.elapsedNs, cpuNs: o.cpuNs[0] + o.cpuNs[1] }, o.verified, { producerCpuNs: o.cpuNs[0], consumerCpuNs: o.cpuNs[1] }, samples);
}

export const contender: Contender = {
  name: 'native',
  description: 'C SPSC ring of fixed slots over two pthreads and a C spin ping-pong (the machine limit; compiled at bench time)',
  throughputModes: ['multi-core'],
  // C moves 64-byte messages ~10x faster than our contenders: more of them, so its trial lasts as long
  countScale: 8,
  rttPolicies: ['poll'],
  maxSize: () => 64 * 2 ** 20,
  unavailable() {
    const b = nativeBuild();
    return b.ok ? undefined : b.reason;
  },
  setup() {
    const b = nativeBuild();
    if (!b.ok) throw new BenchError(BenchErrorCode.NO_TOOL, b.reason);
    return { shared: { binary: b.binary }, roles: ['pthreads'] };
  },
  createRole(_role, spec, shared): RoleInstance {
    return { run: () => run(shared['binary'] as string, spec) };
  },
};
