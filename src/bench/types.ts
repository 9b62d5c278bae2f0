/**
 * Shapes shared by the benchmark harness, its workers and its reports. Everything here is plain data (it crosses
 * postMessage and ends up in results.json).
 */

/** How a waiting side waits for the other side (ARCHITECTURE.md "Waiting"). */
import type { WaitPolicy } from '../sync/policy.js';
export { WAIT_POLICIES, type WaitPolicy } from '../sync/policy.js';

/** Multi-core: each side on its own core (worker). Single-core: one core token, handed over on notification/idle. */
export type CoreMode = 'multi-core' | 'single-core';
export type ResultMode = CoreMode | 'n/a';

export type ExperimentName = 'throughput' | 'rtt' | 'jitter' | 'heap' | 'micro' | 'process' | 'openamp' | 'linux';
export const EXPERIMENTS: readonly ExperimentName[] = ['throughput', 'rtt', 'jitter', 'heap', 'micro', 'process', 'openamp', 'linux'];
/** Experiments run only when asked for (--only / --micro): not part of the default run or --quick. */
export const OPT_IN_EXPERIMENTS: readonly ExperimentName[] = ['micro', 'process', 'openamp', 'linux'];

/** One trial: fresh workers, one contender, one configuration. */
export interface TrialSpec {
  readonly experiment: 'throughput' | 'rtt';
  readonly contender: string;
  readonly mode: ResultMode;
  readonly policy: WaitPolicy;
  /** Message size in bytes (payload the application sends). */
  readonly size: number;
  /** Messages measured. */
  readonly count: number;
  /** Messages sent first and discarded (JIT warm-up, page faults). */
  readonly warmup: number;
  /** Most messages in flight (sent, not yet acknowledged). */
  readonly window: number;
}

/** What one side of a trial reports. */
export interface SideReport {
  readonly role: string;
  /** Messages this side handled in the measured part (sent+acknowledged, or received+verified). */
  readonly messages: number;
  /** Messages whose sequence numbers (head and tail stamps) checked out (receivers; senders report acknowledged ones). */
  readonly verified: number;
  /** Wall time of the measured part, ns (the sender's: first measured send to last acknowledgement). */
  readonly elapsedNs: number;
  /** CPU time this thread spent in the measured part, ns. */
  readonly cpuNs: number;
  /** Round-trip samples in ns (rtt clients only). */
  readonly samples?: Float64Array;
  /** Free-form counters: notifications sent, world switches, ... */
  readonly counters?: Readonly<Record<string, number>>;
}

export interface TrialResult {
  readonly spec: TrialSpec;
  readonly sides: readonly SideReport[];
}

export interface Env {
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  /** 1-minute load average when the run started and ended (other work on the machine skews results). */
  readonly loadAvg: readonly number[];
  /** CPU busy fraction (all cores) measured just before the run, and how long the run waited for quiet (--wait-quiet). */
  quietCheck?: { readonly busy: number | undefined; readonly waitedMs: number };
  readonly date: string;
  readonly options: Readonly<Record<string, unknown>>;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface ThroughputResult {
  readonly experiment: 'throughput';
  readonly contender: string;
  readonly mode: ResultMode;
  readonly policy: WaitPolicy;
  readonly size: number;
  readonly window: number;
  readonly messages: number;
  readonly rounds: number;
  /** Medians over rounds. */
  readonly msgsPerSec: number;
  readonly bytesPerSec: number;
  readonly msgsPerSecSpread: Spread;
  readonly bytesPerSecSpread: Spread;
  /** CPU time per side as a fraction of wall time (1 = one core busy the whole time), medians over rounds. */
  readonly cpu: Readonly<Record<string, number>>;
  /** All messages verified in every round. */
  readonly verified: boolean;
  readonly counters?: Readonly<Record<string, number>>;
}

export interface RttResult {
  readonly experiment: 'rtt';
  readonly contender: string;
  readonly mode: ResultMode;
  readonly policy: WaitPolicy | 'event-loop';
  readonly size: number;
  readonly samples: number;
  readonly rounds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly p50UsSpread: Spread;
  readonly cpu: Readonly<Record<string, number>>;
  readonly verified: boolean;
}

export interface JitterResult {
  readonly experiment: 'jitter';
  readonly mode: CoreMode;
  /** 'none': the secure task alone; otherwise the contender the non-secure side streams through. */
  readonly load: string;
  readonly periodUs: number;
  readonly workUs: number;
  readonly deadlineUs: number;
  readonly periods: number;
  readonly jitterP50Us: number;
  readonly jitterP99Us: number;
  readonly jitterMaxUs: number;
  readonly deadlineMisses: number;
  /** Messages the non-secure side streamed meanwhile (0 without load). */
  readonly messagesStreamed: number;
  readonly worldSwitches: number;
  /** Longest single receive burst in the secure idle time, µs (0 without load); a burst stops at a budget before the next release's lead. */
  readonly maxServiceUs: number;
  /** Service bursts that received anything, and idle-loop passes that held a burst back because it would not fit before the lead. */
  readonly serviceBursts?: number;
  readonly heldBack?: number;
  /** Host thread priorities the two worlds got (the secure world has priority, as in LTZVisor). */
  readonly priorities: string;
}

export interface HeapResult {
  readonly experiment: 'heap';
  readonly contender: string;
  readonly messages: number;
  readonly heapBeforeBytes: number;
  readonly heapAfterBytes: number;
  readonly growthBytes: number;
  readonly bytesPerMessage: number;
  /** Heap allocated per message on the hot path, measured over a short run without GC (young generation included). */
  readonly allocBytesPerMessage: number;
  /** Garbage collections during the long run. */
  readonly gcs: number;
  readonly verified: boolean;
}

export interface MicroResult {
  readonly experiment: 'micro';
  readonly name: string;
  readonly nsPerOp: number;
  readonly nsPerOpSpread: Spread;
  readonly opsPerRound: number;
  readonly rounds: number;
}

/** A trial or experiment that could not run (missing module, timeout, error), kept in the report. */
export interface SkippedResult {
  readonly experiment: ExperimentName;
  readonly contender?: string;
  readonly mode?: ResultMode;
  readonly size?: number;
  readonly skipped: string;
}

/** A row from another layer's benchmark driver (process isolation, the OpenAMP pairing), see experiments/external.ts. */
export interface ExternalResult {
  readonly experiment: 'process' | 'openamp' | 'linux';
  readonly kind: 'rtt' | 'throughput';
  readonly contender: string;
  /** Cores and window (process) or payload (openamp). */
  readonly setting: string;
  readonly messages: number;
  /** rtt: mean round trip; throughput: wall time per message. */
  readonly meanUs: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  /** Fastest and slowest round (openamp: median of interleaved rounds in meanUs). */
  readonly minUs?: number;
  readonly maxUs?: number;
  readonly msgPerSec: number;
  /** Bandwidth of a throughput row, when the driver measures bytes (linux). */
  readonly bytesPerSec?: number;
}

export type BenchResult = ThroughputResult | RttResult | JitterResult | HeapResult | MicroResult | ExternalResult | SkippedResult;

export interface BenchReport {
  readonly env: Env;
  readonly results: BenchResult[];
}
