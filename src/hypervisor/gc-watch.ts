/**
 * Garbage-collection pauses of one partition worker, from V8's GC profiler (node:v8 GCProfiler, recorded natively
 * at every collection). PerformanceObserver('gc') is not used: its entries are delivered on the worker's event loop,
 * which the secure executive does not turn while it serves, and most of them were lost in measurement.
 *
 * Two phases: boot (module loading, the guest's main) and serve (the executive loop after main), so that the
 * steady state can be told apart from start-up.
 */
import v8 from 'node:v8';

export interface GcStats {
  readonly count: number;
  /** Full (mark-sweep-compact) collections; minor = scavenges; the rest is incremental marking and weak callbacks. */
  readonly major: number;
  readonly minor: number;
  readonly totalMs: number;
  readonly maxMs: number;
}

interface Acc {
  count: number;
  major: number;
  minor: number;
  totalMs: number;
  maxMs: number;
}

const empty = (): Acc => ({ count: 0, major: 0, minor: 0, totalMs: 0, maxMs: 0 });
const r2 = (v: number) => Math.round(v * 100) / 100;
const freeze = (a: Acc): GcStats => ({ count: a.count, major: a.major, minor: a.minor, totalMs: r2(a.totalMs), maxMs: r2(a.maxMs) });

type Profiler = { start(): void; stop(): { statistics: Array<{ gcType: string; cost: number }> } | undefined };

export class GcWatch {
  private readonly boot = empty();
  private readonly serve = empty();
  private phase: Acc = this.boot;
  private profiler: Profiler | undefined;

  constructor() {
    this.profiler = this.open();
  }

  private open(): Profiler | undefined {
    const Ctor = (v8 as unknown as { GCProfiler?: new () => Profiler }).GCProfiler;
    if (Ctor === undefined) return undefined; // not on this runtime: the stats stay 0
    const p = new Ctor();
    p.start();
    return p;
  }

  /** Adds one pause of `ms` of V8 GC type `type` ('Scavenge', 'MarkSweepCompact', ...) to the current phase. */
  add(ms: number, type: string): void {
    const a = this.phase;
    a.count++;
    if (type === 'MarkSweepCompact') a.major++;
    else if (type === 'Scavenge' || type === 'MinorMarkCompact') a.minor++;
    a.totalMs += ms;
    if (ms > a.maxMs) a.maxMs = ms;
  }

  private drain(): void {
    const res = this.profiler?.stop();
    this.profiler = undefined;
    for (const s of res?.statistics ?? []) this.add(s.cost / 1000, s.gcType);
  }

  /** Ends the boot phase: what follows counts as serving. */
  serving(): void {
    if (this.phase === this.serve) return;
    this.drain();
    this.phase = this.serve;
    this.profiler = this.open();
  }

  stop(): void {
    this.drain();
  }

  stats(): { boot: GcStats; serve: GcStats } & GcStats {
    const all: Acc = {
      count: this.boot.count + this.serve.count,
      major: this.boot.major + this.serve.major,
      minor: this.boot.minor + this.serve.minor,
      totalMs: this.boot.totalMs + this.serve.totalMs,
      maxMs: Math.max(this.boot.maxMs, this.serve.maxMs),
    };
    return { ...freeze(all), boot: freeze(this.boot), serve: freeze(this.serve) };
  }
}
