/**
 * The secure monitor of a machine whose non-secure world is a Linux process (LTZVisor's scheduling on one core):
 * the secure world owns the core while it runs, so entering it stops the non-secure Linux (SIGSTOP, see
 * uml-process.ts; QEMU: qemu-process.ts) and leaving it (the secure world is idle: the equivalent of its yield SMC) continues Linux.
 * Each entry and each exit is one world switch, counted as the worker-based monitor counts them, with the time spent
 * in each world.
 *
 * On two cores the worlds run side by side (secure on core 0, Linux on core 1): nothing is stopped and there are no
 * world switches; enter()/exit() only account the secure world's busy time.
 */
import type { NonsecureOs } from './nonsecure-os.js';

export interface MonitorCounters {
  worldSwitches: number;
  /** Secure slices (enter/exit pairs) and why they were entered. */
  secureSlices: number;
  byCause: Record<string, number>;
  timeUs: { secure: number; nonsecure: number };
  /** Longest secure slice (µs): how long Linux was held stopped at most. */
  maxSliceUs: number;
}

export class LinuxMonitor {
  readonly counters: MonitorCounters = { worldSwitches: 0, secureSlices: 0, byCause: {}, timeUs: { secure: 0, nonsecure: 0 }, maxSliceUs: 0 };
  private depth = 0;
  private since = performance.now();
  private sliceStart = 0;

  constructor(
    readonly cores: 1 | 2,
    private readonly linux: () => NonsecureOs | undefined,
  ) {}

  /** The secure world takes the core (nested entries count once). */
  enter(cause: string): void {
    if (this.depth++ > 0) return;
    const now = performance.now();
    this.counters.timeUs.nonsecure += (now - this.since) * 1000;
    this.since = now;
    this.sliceStart = now;
    this.counters.secureSlices++;
    this.counters.byCause[cause] = (this.counters.byCause[cause] ?? 0) + 1;
    if (this.cores === 1) {
      const uml = this.linux();
      if (uml !== undefined && uml.alive && uml.stop() > 0) this.counters.worldSwitches++;
    }
  }

  /** The secure world is idle: Linux gets the core back. */
  exit(): void {
    if (this.depth === 0 || --this.depth > 0) return;
    const now = performance.now();
    const us = (now - this.sliceStart) * 1000;
    this.counters.timeUs.secure += us;
    if (us > this.counters.maxSliceUs) this.counters.maxSliceUs = us;
    this.since = now;
    if (this.cores === 1) {
      const uml = this.linux();
      if (uml !== undefined && uml.stopped) {
        uml.cont();
        this.counters.worldSwitches++;
      }
    }
  }

  /** Runs `fn` as one secure slice. */
  run<T>(cause: string, fn: () => T): T {
    this.enter(cause);
    try {
      return fn();
    } finally {
      this.exit();
    }
  }

  /** Closes the books at the end of the run (the time since the last switch goes to the world that had the core). */
  finish(): void {
    const now = performance.now();
    if (this.depth === 0) this.counters.timeUs.nonsecure += (now - this.since) * 1000;
    this.since = now;
  }
}
