/**
 * Benchmark rows for process isolation: the default scenario (secure Ed25519 signer, non-secure
 * client) run with partitions as worker threads of one process and as separate OS processes, same machine, same run,
 * same message count. The figures are the client's own measurements (its user report: round trips timed per request,
 * and the whole exchange), so both modes are measured by the same code.
 *
 * Row shape follows the bench JSON: { experiment: 'rtt' | 'throughput', contender, cores, messages, window, ... }.
 */
import { runMachine, type MachineConfig, type MachineResult } from '../machine.js';
import { HypervisorError, HypervisorErrorCode } from '../errors.js';

export interface IsolationBenchRow {
  readonly experiment: 'rtt' | 'throughput';
  /** 'in-process (workers)' or 'cross-process'. */
  readonly contender: string;
  readonly cores: 1 | 2;
  readonly messages: number;
  readonly window: number;
  /** rtt: mean request→signature round trip; throughput: elapsed time per message. */
  readonly meanUs: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  readonly msgPerSec: number;
}

export interface IsolationBenchOptions {
  /** Core modes to measure. Default [1, 2]. */
  readonly cores?: readonly (1 | 2)[];
  /** Requests per run. Default 2000. */
  readonly messages?: number;
  /** Window for the throughput rows (rtt rows use window 1). Default 16. */
  readonly window?: number;
  /** Guest modules (the default scenario's: examples/secure-signer, nonsecure-client, compiled). */
  readonly secureModule: string;
  readonly nonsecureModule: string;
  readonly log?: (line: string) => void;
}

function clientFigures(r: MachineResult): Record<string, number> {
  const u = (r.nonsecure.report?.['user'] ?? {}) as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(u)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** Runs the default scenario per (cores, mode, window) in-process and cross-process; returns one row per run. */
export async function runIsolationBench(o: IsolationBenchOptions): Promise<IsolationBenchRow[]> {
  const log = o.log ?? ((): void => undefined);
  const messages = o.messages ?? 2000;
  const secure = o.secureModule;
  const nonsecure = o.nonsecureModule;
  const rows: IsolationBenchRow[] = [];
  for (const cores of o.cores ?? [1, 2]) {
    for (const [experiment, window] of [['rtt', 1], ['throughput', o.window ?? 16]] as const) {
      for (const [contender, isolation] of [
        ['in-process (workers)', 'worker'],
        ['cross-process', 'process'],
      ] as const) {
        const cfg: MachineConfig = { cores, isolation, timeoutMs: 120_000, secure: { module: secure }, nonsecure: { module: nonsecure, args: { messages, window } } };
        const r = await runMachine(cfg);
        const f = clientFigures(r);
        const received = f['messages.received'] ?? 0;
        const elapsedUs = f['elapsedUs'] ?? NaN;
        if (r.nonsecure.outcome?.status !== 'returned' || received !== messages || !(elapsedUs > 0)) {
          throw new HypervisorError(HypervisorErrorCode.PARTITION_FAILED, `isolation bench: ${contender} cores ${cores} did not complete (${received}/${messages} received, ${r.nonsecure.crash ?? r.secure.crash ?? 'no crash'})`);
        }
        const row: IsolationBenchRow = {
          experiment,
          contender,
          cores,
          messages,
          window,
          meanUs: experiment === 'rtt' ? (f['rtt.mean'] ?? elapsedUs / messages) : elapsedUs / messages,
          ...(f['rtt.p50'] !== undefined ? { p50Us: f['rtt.p50'] } : {}),
          ...(f['rtt.p99'] !== undefined ? { p99Us: f['rtt.p99'] } : {}),
          msgPerSec: messages / (elapsedUs / 1e6),
        };
        rows.push(row);
        log(`${experiment} ${contender} cores ${cores} window ${window}: ${row.meanUs.toFixed(1)} µs, ${row.msgPerSec.toFixed(0)} msg/s`);
      }
    }
  }
  return rows;
}
