/**
 * Options of a run and the trial plan they produce: which contender runs in which mode, size and policy, with how
 * many messages, in which (shuffled, seeded) order.
 */
import type { Contender } from './contender.js';
import { BenchError, BenchErrorCode } from './errors.js';
import { validSize } from './shared.js';
import { rng, shuffle } from './stats.js';
import { EXPERIMENTS, OPT_IN_EXPERIMENTS, WAIT_POLICIES, type ExperimentName, type TrialSpec, type WaitPolicy } from './types.js';
import { DEFAULT_WAIT_POLICY } from '../sync/policy.js';

export interface BenchOptions {
  /** Short run (a minute on 2 cores): fewer sizes, rounds and messages. Default false. */
  readonly quick: boolean;
  /** Experiments to run. Default: all but the opt-in ones (micro, process, openamp: only with --only or --micro). */
  readonly only: readonly ExperimentName[];
  /** Message sizes for the throughput experiment. Default 64 B .. 256 KiB in x4 steps (quick: 64, 4 KiB, 64 KiB). */
  readonly sizes: readonly number[];
  /** Rounds per configuration (each a fresh trial). Default 3 (quick 2). */
  readonly rounds: number;
  /** Messages in flight (flow-control window), the same for every contender. Default 64. */
  readonly window: number;
  /** Wait policy of the throughput experiment. Default DEFAULT_WAIT_POLICY (peer-aware, src/sync/policy.ts). */
  readonly policy: WaitPolicy;
  /** Contenders to run (default: all registered). */
  readonly contenders?: readonly string[];
  /** Message size of the rtt experiment. Default 64. */
  readonly rttSize: number;
  /** Round trips per rtt trial. Default 20000 (quick 2000). */
  readonly rttCount: number;
  /** Messages for the heap experiment. Default 1e6 (quick 2e5). */
  readonly heapMessages: number;
  /** Seed of the shuffled order. Default: from the clock (recorded in env.options). */
  readonly seed: number;
  /** Per-trial time limit, ms. Default 120000. */
  readonly timeoutMs: number;
  /** Scale of messages per trial and of the jitter run's periods (tests use a tiny value). Default 1. */
  readonly scale: number;
  /** Fixed messages per throughput trial (overrides the size-based count; smoke tests). Default: by size. */
  readonly messages?: number;
}

export const FULL_SIZES: readonly number[] = [64, 256, 1024, 4096, 16384, 65536, 262144];
export const QUICK_SIZES: readonly number[] = [64, 4096, 65536];

export function defaultOptions(quick: boolean, over: Partial<BenchOptions> = {}): BenchOptions {
  const o: BenchOptions = {
    quick,
    only: EXPERIMENTS.filter((e) => !OPT_IN_EXPERIMENTS.includes(e)),
    sizes: quick ? QUICK_SIZES : FULL_SIZES,
    rounds: quick ? 2 : 3,
    window: 64,
    policy: DEFAULT_WAIT_POLICY,
    rttSize: 64,
    rttCount: quick ? 2000 : 20000,
    heapMessages: quick ? 200_000 : 1_000_000,
    seed: Date.now() % 1_000_000,
    timeoutMs: 120_000,
    scale: 1,
    ...over,
  };
  validateOptions(o);
  return o;
}

export function validateOptions(o: BenchOptions): void {
  const bad = (m: string): never => {
    throw new BenchError(BenchErrorCode.BAD_OPTION, m);
  };
  for (const e of o.only) if (!EXPERIMENTS.includes(e)) bad(`unknown experiment '${e}' (known: ${EXPERIMENTS.join(', ')})`);
  if (o.sizes.length === 0) bad('no sizes');
  for (const s of o.sizes) if (!validSize(s) || s > 64 * 2 ** 20) bad(`size ${s}: must be a multiple of 4 in 8..64 MiB`);
  if (!Number.isInteger(o.rounds) || o.rounds < 1 || o.rounds > 100) bad(`rounds ${o.rounds}: must be 1..100`);
  if (!Number.isInteger(o.window) || o.window < 1 || o.window > 4096) bad(`window ${o.window}: must be 1..4096`);
  if (!WAIT_POLICIES.includes(o.policy)) bad(`policy '${o.policy}' (known: ${WAIT_POLICIES.join(', ')})`);
  if (!validSize(o.rttSize)) bad(`rtt size ${o.rttSize}: must be a multiple of 4, at least 8`);
  if (!(o.scale > 0)) bad('scale must be > 0');
  if (o.messages !== undefined && (!Number.isInteger(o.messages) || o.messages < 1)) bad(`messages ${o.messages}: must be a positive integer`);
  if (!Number.isInteger(o.rttCount) || o.rttCount < 1) bad(`rtt count ${o.rttCount}: must be a positive integer`);
  if (!Number.isInteger(o.heapMessages) || o.heapMessages < 1) bad(`heap messages ${o.heapMessages}: must be a positive integer`);
}

/**
 * Messages per throughput trial: enough bytes to last well past the start-up of a trial (threads scheduled, JIT
 * tiers, the first sleeps and wake-ups), capped in count. A trial of ~0.1 s (the earlier 768 MiB / 300k) measured
 * the ramp more than the steady state: virtqueue-inplace at 64 KiB read 0.41 of memcpy in 12 288 messages and 0.58
 * in 98 304 (quiet 2-core VM, docs/benchmarks.md). Now ~0.3-1 s per trial for our contenders on such a machine.
 */
export function messagesFor(size: number, o: BenchOptions): { count: number; warmup: number } {
  if (o.messages !== undefined) return { count: o.messages, warmup: Math.max(1, Math.round(o.messages / 10)) };
  const bytes = o.quick ? 384 * 2 ** 20 : 3 * 2 ** 30;
  const [min, max] = o.quick ? [400, 160_000] : [2000, 1_200_000];
  const count = Math.max(2, Math.round(Math.min(max, Math.max(min, bytes / size)) * o.scale));
  return { count, warmup: Math.max(1, Math.round(count / 10)) };
}

export interface PlannedTrial {
  readonly spec: TrialSpec;
  readonly round: number;
}

/** Throughput and rtt trials for the given (loaded) contenders, all rounds, shuffled. */
export function planTrials(contenders: readonly Contender[], o: BenchOptions): { trials: PlannedTrial[]; skipped: { contender: string; size: number; mode: string; why: string }[] } {
  const trials: PlannedTrial[] = [];
  const skipped: { contender: string; size: number; mode: string; why: string }[] = [];
  for (let round = 0; round < o.rounds; round++) {
    for (const c of contenders) {
      if (o.only.includes('throughput')) {
        for (const mode of c.throughputModes) {
          for (const size of o.sizes) {
            const base = { experiment: 'throughput' as const, contender: c.name, mode, policy: o.policy, size, window: o.window };
            if (size > c.maxSize(base)) {
              if (round === 0) skipped.push({ contender: c.name, size, mode, why: `larger than its largest message (${c.maxSize(base)} B)` });
              continue;
            }
            const m = messagesFor(size, o);
            const k = c.countScale ?? 1;
            trials.push({ spec: { ...base, count: Math.round(m.count * k), warmup: Math.round(m.warmup * k) }, round });
          }
        }
      }
      if (o.only.includes('rtt')) {
        for (const policy of c.rttPolicies) {
          const count = o.rttCount;
          trials.push({
            spec: { experiment: 'rtt', contender: c.name, mode: c.throughputModes.includes('n/a') && !c.rttPolicies.includes('block') ? 'n/a' : 'multi-core', policy: policy === 'event-loop' ? 'block' : policy, size: o.rttSize, window: 1, count, warmup: Math.max(1, Math.round(count / 10)) },
            round,
          });
        }
      }
    }
  }
  return { trials: shuffle(trials, rng(o.seed)), skipped };
}
