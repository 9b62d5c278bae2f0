/**
 * What a contender is: a module (under contenders/) that sets up the shared state of one trial on the main thread
 * and builds each side inside a fresh worker. The harness only talks to this interface.
 */
import type { TransferListItem } from 'node:worker_threads';
import type { ResultMode, SideReport, TrialSpec, WaitPolicy } from './types.js';

export interface ContenderSetup {
  /** Plain data and SharedArrayBuffers handed to every role. */
  readonly shared: Record<string, unknown>;
  /** Per-role additions to `shared` and what to transfer with them (MessagePorts), keyed by role. */
  readonly perRole?: Readonly<Record<string, { readonly data: Record<string, unknown>; readonly transfer: readonly TransferListItem[] }>>;
  /** The roles, one fresh worker each ('sender', 'receiver' / 'client', 'server' / 'solo'). */
  readonly roles: readonly string[];
}

export interface RoleInstance {
  /** Runs the measured part (after every worker of the trial is ready). */
  run(): SideReport | Promise<SideReport>;
}

export interface Contender {
  readonly name: string;
  /** One line for docs and the terminal. */
  readonly description: string;
  /** Modes it runs the throughput experiment in ([] = not part of it). */
  readonly throughputModes: readonly ResultMode[];
  /** Wait policies it runs the rtt experiment with ([] = not part of it). */
  readonly rttPolicies: readonly (WaitPolicy | 'event-loop')[];
  /** Multiplies the messages per throughput trial (a single-thread contender like memcpy needs more to last). Default 1. */
  readonly countScale?: number;
  /** Largest message size it can carry in one message (Infinity: any). */
  maxSize(spec: Pick<TrialSpec, 'experiment' | 'window'>): number;
  /** Why it cannot run on this machine (a tool is missing), checked once on the main thread; undefined = it can. */
  unavailable?(): string | undefined;
  setup(spec: TrialSpec): ContenderSetup;
  createRole(role: string, spec: TrialSpec, shared: Record<string, unknown>): RoleInstance | Promise<RoleInstance>;
}

/** Report helper: how a Side's loop result becomes a SideReport. */
export function report(role: string, r: { messages: number; elapsedNs: number; cpuNs: number; sleeps?: number; spin?: Readonly<Record<string, number>> }, verified: number, counters?: Record<string, number>, samples?: Float64Array): SideReport {
  // how the side waited (src/sync Waiter): sleeps, idle episodes ended by spinning or by sleeping, final spin budget
  const waits = { ...(r.sleeps !== undefined ? { sleeps: r.sleeps } : {}), ...(r.spin ?? {}) };
  const all = counters || Object.keys(waits).length ? { ...waits, ...(counters ?? {}) } : undefined;
  return { role, messages: r.messages, verified, elapsedNs: r.elapsedNs, cpuNs: r.cpuNs, ...(all ? { counters: all } : {}), ...(samples ? { samples } : {}) };
}
