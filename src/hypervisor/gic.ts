/**
 * A model of the ARM GIC (v1/v2 with the Security Extensions, as on the Cortex-A9 MPCore) reduced to what the
 * TZ-VirtIO platform needs: per-line group, enable, priority, pending and active state; acknowledge (IAR) and
 * end-of-interrupt (EOIR); SGIs between cores.
 *
 *   line:   0..15 SGI   16..31 PPI   32.. SPI          (SGIs and PPIs are banked per CPU)
 *   group:  0 = secure, signalled as FIQ   1 = non-secure, signalled as IRQ
 *
 * Security rules modelled (GIC architecture spec, Security Extensions): non-secure accesses to the configuration of a
 * group-0 line are ignored (RAZ/WI) and cannot change any line's group; a non-secure SGI request can only generate a
 * group-1 SGI (GICD_SGIR.NSATT); a world acknowledges only lines of its own group. Priority: lower value is more
 * urgent; ties go to the lower line number. Handlers run to completion, so there is no nested preemption.
 *
 * In the model each partition's runtime holds the instance for its own world (the secure half lives in the secure
 * worker, out of the non-secure worker's reach); pending state crosses worlds through doorbell words that trusted
 * code validates before calling setPending().
 */
import { HypervisorError, HypervisorErrorCode } from './errors.js';
import type { World } from '../guest/memory-map.js';
import { tracer } from '../trace/active.js';
import { TraceKind } from '../trace/events.js';
import { traceNow } from '../trace/buffer.js';

export const GIC_SPURIOUS = 1023;
const NUM_BANKED = 32;

export interface LineConfig {
  readonly group?: 0 | 1;
  readonly enabled?: boolean;
  /** 0 (most urgent) .. 255. */
  readonly priority?: number;
  /** SPI only: the CPU it is delivered to. */
  readonly targetCpu?: number;
}

export interface GicOptions {
  /** Number of lines, a multiple of 32, >= 32. Default 64. */
  readonly lines?: number;
  /** CPUs (banked SGI/PPI copies). Default 1. */
  readonly cpus?: number;
}


export class Gic {
  readonly lines: number;
  readonly cpus: number;
  private readonly group: Uint8Array;
  private readonly enabled: Uint8Array;
  private readonly priority: Uint8Array;
  private readonly pending: Uint8Array;
  private readonly active: Uint8Array;
  private readonly target: Uint8Array;
  /** When each pending line was raised (µs; trace only, for the acknowledge latency). */
  private readonly raisedAt: Float64Array;
  /** Non-secure writes that the security rules ignored. */
  ignoredWrites = 0;
  acknowledged = 0;
  spurious = 0;

  constructor(opts: GicOptions = {}) {
    const lines = opts.lines ?? 64;
    const cpus = opts.cpus ?? 1;
    if (!Number.isInteger(lines) || lines < 32 || lines % 32 !== 0 || lines > 1020) {
      throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `gic: ${lines} lines (need a multiple of 32, 32..1020)`);
    }
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 8) throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `gic: ${cpus} cpus (1..8)`);
    this.lines = lines;
    this.cpus = cpus;
    const n = cpus * NUM_BANKED + (lines - NUM_BANKED);
    this.group = new Uint8Array(n); // reset: every line group 0 (secure), as after a secure reset
    this.enabled = new Uint8Array(n);
    this.priority = new Uint8Array(n);
    this.pending = new Uint8Array(n);
    this.active = new Uint8Array(n);
    this.target = new Uint8Array(Math.max(0, lines - NUM_BANKED));
    this.raisedAt = new Float64Array(n);
  }

  private traceRaise(s: number, line: number): void {
    const t = traceNow();
    this.raisedAt[s] = t;
    tracer.emitAt(t, TraceKind.IRQ_RAISE, this.group[s]!, line);
  }

  private slot(line: number, cpu: number): number {
    if (!Number.isInteger(line) || line < 0 || line >= this.lines) {
      throw new HypervisorError(HypervisorErrorCode.BAD_LINE, `gic: no line ${line}`, { line });
    }
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) throw new HypervisorError(HypervisorErrorCode.BAD_LINE, `gic: no cpu ${cpu}`, { cpu });
    return line < NUM_BANKED ? cpu * NUM_BANKED + line : this.cpus * NUM_BANKED + (line - NUM_BANKED);
  }

  groupOf(line: number, cpu = 0): 0 | 1 {
    return this.group[this.slot(line, cpu)] as 0 | 1;
  }

  /** Writes a line's configuration as `accessor`; returns false when the write was ignored by the security rules. */
  configure(line: number, cfg: LineConfig, accessor: World, cpu = 0): boolean {
    const s = this.slot(line, cpu);
    if (accessor === 'nonsecure' && (this.group[s] === 0 || cfg.group !== undefined)) {
      this.ignoredWrites++;
      return false;
    }
    if (cfg.group !== undefined) this.group[s] = cfg.group;
    if (cfg.enabled !== undefined) this.enabled[s] = cfg.enabled ? 1 : 0;
    if (cfg.priority !== undefined) {
      if (!Number.isInteger(cfg.priority) || cfg.priority < 0 || cfg.priority > 255) {
        throw new HypervisorError(HypervisorErrorCode.BAD_LINE, `gic: priority ${cfg.priority} (0..255)`);
      }
      this.priority[s] = cfg.priority;
    }
    if (cfg.targetCpu !== undefined && line >= NUM_BANKED) {
      if (!Number.isInteger(cfg.targetCpu) || cfg.targetCpu < 0 || cfg.targetCpu >= this.cpus) {
        throw new HypervisorError(HypervisorErrorCode.BAD_LINE, `gic: target cpu ${cfg.targetCpu}`);
      }
      this.target[line - NUM_BANKED] = cfg.targetCpu;
    }
    return true;
  }

  /** A device (or trusted code on its behalf) asserts a line. SPIs go to their target CPU; `cpu` selects the bank. */
  setPending(line: number, cpu = 0): void {
    const s = this.slot(line, cpu);
    this.pending[s] = 1;
    if (tracer.enabled) this.traceRaise(s, line);
  }

  clearPending(line: number, cpu = 0): void {
    this.pending[this.slot(line, cpu)] = 0;
  }

  isPending(line: number, cpu = 0): boolean {
    return this.pending[this.slot(line, cpu)] === 1;
  }

  isActive(line: number, cpu = 0): boolean {
    return this.active[this.slot(line, cpu)] === 1;
  }

  isEnabled(line: number, cpu = 0): boolean {
    return this.enabled[this.slot(line, cpu)] === 1;
  }

  /**
   * GICD_SGIR: raises SGI `sgi` on each target CPU. A non-secure request only raises the SGI on targets where it is
   * group 1 (NSATT=1); a secure request raises it whatever its group. Returns how many targets got it pending.
   */
  sendSgi(sgi: number, targets: readonly number[], accessor: World): number {
    if (!Number.isInteger(sgi) || sgi < 0 || sgi > 15) throw new HypervisorError(HypervisorErrorCode.BAD_LINE, `gic: SGI ${sgi} (0..15)`);
    let n = 0;
    for (const cpu of targets) {
      const s = this.slot(sgi, cpu);
      if (accessor === 'nonsecure' && this.group[s] === 0) {
        this.ignoredWrites++;
        continue;
      }
      this.pending[s] = 1;
      if (tracer.enabled) this.traceRaise(s, sgi);
      n++;
    }
    return n;
  }

  /** The line that acknowledge() would return, without changing state. */
  highestPending(world: World, cpu = 0): number {
    const g = world === 'secure' ? 0 : 1;
    let best = GIC_SPURIOUS;
    let bestPrio = 256;
    for (let line = 0; line < this.lines; line++) {
      if (line >= NUM_BANKED && this.target[line - NUM_BANKED] !== cpu) continue;
      const s = this.slot(line, cpu);
      if (this.pending[s] === 0 || this.enabled[s] === 0 || this.active[s] === 1 || this.group[s] !== g) continue;
      if (this.priority[s]! < bestPrio) {
        bestPrio = this.priority[s]!;
        best = line;
      }
    }
    return best;
  }

  /** GICC_IAR: the most urgent pending line of the world's group becomes active (not pending); 1023 when none. */
  acknowledge(world: World, cpu = 0): number {
    const line = this.highestPending(world, cpu);
    if (line === GIC_SPURIOUS) {
      this.spurious++;
      return line;
    }
    const s = this.slot(line, cpu);
    this.pending[s] = 0;
    this.active[s] = 1;
    this.acknowledged++;
    if (tracer.enabled) {
      const t = traceNow();
      tracer.emitAt(t, TraceKind.IRQ_HANDLE, this.group[s]!, line, this.raisedAt[s]! > 0 ? t - this.raisedAt[s]! : -1);
      this.raisedAt[s] = 0;
    }
    return line;
  }

  /** GICC_EOIR: ends an active line of the world's group; returns false (ignored) otherwise. */
  endOfInterrupt(line: number, world: World, cpu = 0): boolean {
    const s = this.slot(line, cpu);
    if (this.active[s] === 0 || this.group[s] !== (world === 'secure' ? 0 : 1)) {
      this.ignoredWrites++;
      return false;
    }
    this.active[s] = 0;
    return true;
  }
}
