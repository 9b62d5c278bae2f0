/**
 * The secure monitor's book-keeping: which world holds a core, world switches, SMC counts and time per world.
 *
 * On the board the monitor runs in monitor mode on each core; here its authoritative instance runs in the secure
 * worker's trusted runtime (never in the non-secure worker), and the world switch is the hand-over of the core token
 * (single core). The non-secure runtime keeps its own counts of the SMCs it issued, reported separately as
 * untrusted figures.
 */
import { Samples, type Summary } from '../guest/stats.js';
import type { World } from '../guest/memory-map.js';
import { SmcCall } from '../guest/api.js';
import { tracer } from '../trace/active.js';
import { SwitchCause, TraceKind } from '../trace/events.js';

const CAUSE: Readonly<Record<SwitchReason, number>> = { yield: SwitchCause.YIELD, smc: SwitchCause.SMC, preempt: SwitchCause.PREEMPT, exit: SwitchCause.EXIT, boot: SwitchCause.BOOT };

export type SwitchReason = 'yield' | 'smc' | 'preempt' | 'exit' | 'boot';

const SMC_NAMES: Record<number, string> = Object.fromEntries(Object.entries(SmcCall).map(([k, v]) => [v, k.toLowerCase()]));

export function smcName(call: number): string {
  return SMC_NAMES[call] ?? `0x${(call >>> 0).toString(16)}`;
}

export interface MonitorSnapshot {
  readonly worldSwitches: number;
  readonly switchesBy: Readonly<Record<SwitchReason, number>>;
  readonly smc: Readonly<Record<World, Readonly<Record<string, number>>>>;
  readonly timeUs: Readonly<Record<World, number>>;
  readonly preemptionLatencyUs: Summary;
  readonly preemptionTimeouts: number;
}

export class Monitor {
  private owner: World;
  private since: number;
  private switches = 0;
  private readonly by: Record<SwitchReason, number> = { yield: 0, smc: 0, preempt: 0, exit: 0, boot: 0 };
  private readonly smc: Record<World, Record<string, number>> = { secure: {}, nonsecure: {} };
  private readonly time: Record<World, number> = { secure: 0, nonsecure: 0 };
  readonly preemption = new Samples(1 << 16);
  preemptionTimeouts = 0;

  constructor(private readonly now: () => number, initial: World = 'secure') {
    this.owner = initial;
    this.since = now();
  }

  get current(): World {
    return this.owner;
  }

  /** Records a world switch on the core (no-op when `to` already holds it). */
  switchTo(to: World, reason: SwitchReason): void {
    if (to === this.owner) return;
    const t = this.now();
    this.time[this.owner] += t - this.since;
    this.since = t;
    this.owner = to;
    this.switches++;
    this.by[reason]++;
    if (tracer.enabled) tracer.emitAt(t, TraceKind.SWITCH, 0, to === 'secure' ? 0 : 1, reason === 'preempt' && this.timedOut ? SwitchCause.TIMEOUT : CAUSE[reason]);
    this.timedOut = false;
  }

  /** The next switch back to the secure world came after a preemption timeout (for the trace's switch cause). */
  private timedOut = false;
  notePreemptTimeout(): void {
    this.preemptionTimeouts++;
    this.timedOut = true;
  }

  /** Records which world holds each core at boot (trace only): one core, or one world per core. */
  traceBoot(cores: 1 | 2): void {
    if (!tracer.enabled) return;
    tracer.emit(TraceKind.SWITCH, 0, this.owner === 'secure' ? 0 : 1, SwitchCause.BOOT);
    if (cores === 2) tracer.emit(TraceKind.SWITCH, 1, 1, SwitchCause.BOOT);
  }

  countSmc(world: World, call: number): void {
    if (tracer.enabled) tracer.emit(TraceKind.SMC, world === 'secure' ? 0 : 1, call);
    const n = smcName(call);
    this.smc[world][n] = (this.smc[world][n] ?? 0) + 1;
  }

  snapshot(): MonitorSnapshot {
    const t = this.now();
    const time = { ...this.time };
    time[this.owner] += t - this.since;
    return {
      worldSwitches: this.switches,
      switchesBy: { ...this.by },
      smc: { secure: { ...this.smc.secure }, nonsecure: { ...this.smc.nonsecure } },
      timeUs: time,
      preemptionLatencyUs: this.preemption.summary(),
      preemptionTimeouts: this.preemptionTimeouts,
    };
  }
}
