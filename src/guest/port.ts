/**
 * The boundary between a partition's guest runtime (this layer) and the platform that hosts it (the hypervisor
 * layer supplies an implementation per world and core mode). The runtime never touches control words, the GIC or
 * the monitor directly: it asks its port.
 */
import type { FaultRecord } from './memory-port.js';
import type { World } from './memory-map.js';
import type { WakeRecord } from '../trace/miss.js';

export interface CorePort {
  readonly world: World;
  readonly cores: 1 | 2;
  /** Machine time in µs (CLOCK_MONOTONIC, the same in every thread). */
  now(): number;
  /**
   * A guest API boundary. Non-secure, single core: blocks while the secure world holds the core (the measured
   * preemption point). Elsewhere a cheap no-op. Throws GuestError(STOPPED) when the machine stops while parked.
   */
  checkpoint(): void;
  /** True once the machine asked this partition to stop. */
  stopping(): boolean;
  /**
   * Wait for interrupt: returns when an interrupt may be pending, at `untilUs` (absolute; Infinity = none), or on
   * stop. Secure, single core: this is the idle hook, it yields the core to the non-secure world by SMC and takes it
   * back when a FIQ is pending.
   */
  waitForEvent(untilUs: number): void;
  /** Moves pending requests from outside (doorbells, mailbox) into this world's interrupt controller. */
  collectInterrupts(): void;
  /** Makes a line of this world pending (the core's own timer). */
  raise(line: number): void;
  /** Highest-priority pending enabled line of this world's group, now active; SPURIOUS_INTERRUPT when none. */
  acknowledge(): number;
  endOfInterrupt(line: number): void;
  /** Enables/disables a line of this world's group; returns false (and changes nothing) for a line of the other group. */
  configureLine(line: number, enabled: boolean, priority?: number): boolean;
  isOwnLine(line: number): boolean;
  /** The monitor call. Throws GuestError(BAD_ARGUMENT) on an unknown call or bad argument. */
  smc(call: number, args: readonly number[]): number;
  reportFault(f: FaultRecord): void;
  log(text: string): void;
  /**
   * Secure side: true once per reset of the peer partition by the hypervisor (it crashed and is being rebooted).
   * The runtime then resets its RPMsg link and calls ackPeerReset().
   */
  takePeerReset?(): boolean;
  ackPeerReset?(): void;
  /** Secure side: how the last waitForEvent ended (for deadline-miss attribution, trace/miss.ts). */
  lastWake?(): WakeRecord | undefined;
  /** Counters the runtime adds to the partition's report. */
  stats(): Record<string, unknown>;
}
