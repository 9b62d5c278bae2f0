/**
 * The secure partition's small real-time runtime: periodic tasks with fixed priorities and relative deadlines.
 *
 * Model: job k of a task is released at `start + k * period` (its nominal release). The runtime's loop releases due
 * jobs and runs the ready job of highest priority (lower number = higher priority, as on the GIC and FreeRTOS is the
 * reverse; we follow the GIC). Jobs run to completion: JavaScript cannot preempt a running job, so a higher-priority
 * release that happens during a job waits for its end (non-preemptive fixed priority); the measured jitter shows it.
 *
 * Measured per task: release jitter = actual start - nominal release (never negative here); a deadline miss when the
 * job ends after release + deadline, or when its release is skipped because the previous job of the same task has not
 * run yet (overrun: the job is counted missed, not queued twice).
 */
import { GuestError, GuestErrorCode } from './errors.js';
import { Samples, type Summary } from './stats.js';
import { tracer } from '../trace/active.js';
import { MISS_CAUSE_NAMES, MissCause, TraceKind, type MissCauseCode } from '../trace/events.js';
import { classifyMiss, type WakeRecord } from '../trace/miss.js';

export interface RtTaskSpec {
  readonly name: string;
  /** Period in microseconds (> 0). */
  readonly periodUs: number;
  /** Lower is more urgent. Default 10. */
  readonly priority?: number;
  /** Relative deadline in microseconds; default: the period. */
  readonly deadlineUs?: number;
  /** First release, relative to the moment the task is created (µs). Default: one period. */
  readonly offsetUs?: number;
  /** Number of jobs to run, then the task stops. Default: unlimited. */
  readonly jobs?: number;
  /** The job body. May be async; its time counts until the promise settles. */
  readonly run: (job: { readonly index: number; readonly releaseUs: number }) => void | Promise<void>;
}

export interface RtTaskStats {
  readonly name: string;
  readonly periodUs: number;
  readonly priority: number;
  readonly deadlineUs: number;
  readonly jobs: number;
  readonly deadlineMisses: number;
  readonly skippedReleases: number;
  readonly errors: number;
  readonly jitterUs: Summary;
  readonly responseUs: Summary;
  /** Deadline misses by cause (trace/events.ts MissCause), only causes that occurred. */
  readonly missesByCause: Readonly<Record<string, number>>;
}

export interface RtTaskHandle {
  readonly name: string;
  stop(): void;
  stats(): RtTaskStats;
}

class Task implements RtTaskHandle {
  readonly name: string;
  readonly periodUs: number;
  readonly priority: number;
  readonly deadlineUs: number;
  nextRelease: number;
  /** Release time of the job waiting to run, or -1. */
  pending = -1;
  index = 0;
  jobsDone = 0;
  misses = 0;
  skipped = 0;
  errors = 0;
  stopped = false;
  readonly jitter = new Samples(1 << 16);
  readonly response = new Samples(1 << 16);
  readonly missesBy = new Array<number>(MISS_CAUSE_NAMES.length).fill(0);
  /** Running mean of the job execution time (µs), the "typical" cost a stall is judged against. */
  execMeanUs = 0;

  constructor(readonly spec: RtTaskSpec, now: number, readonly slot = 0) {
    if (!(spec.periodUs > 0) || !Number.isFinite(spec.periodUs)) {
      throw new GuestError(GuestErrorCode.BAD_ARGUMENT, `rt task ${spec.name}: period must be > 0 µs`, { periodUs: spec.periodUs });
    }
    this.name = spec.name;
    this.periodUs = spec.periodUs;
    this.priority = spec.priority ?? 10;
    this.deadlineUs = spec.deadlineUs ?? spec.periodUs;
    if (!(this.deadlineUs > 0)) throw new GuestError(GuestErrorCode.BAD_ARGUMENT, `rt task ${spec.name}: deadline must be > 0 µs`);
    this.nextRelease = now + (spec.offsetUs ?? spec.periodUs);
  }

  stop(): void {
    this.stopped = true;
    this.pending = -1;
  }

  stats(): RtTaskStats {
    return {
      name: this.name,
      periodUs: this.periodUs,
      priority: this.priority,
      deadlineUs: this.deadlineUs,
      jobs: this.jobsDone,
      deadlineMisses: this.misses,
      skippedReleases: this.skipped,
      errors: this.errors,
      jitterUs: this.jitter.summary(),
      responseUs: this.response.summary(),
      missesByCause: Object.fromEntries(this.missesBy.flatMap((n, c) => (n > 0 ? [[MISS_CAUSE_NAMES[c]!, n]] : []))),
    };
  }
}

export class RtScheduler {
  private readonly tasks: Task[] = [];

  /**
   * @param wake what the executive's last wait looked like (for miss attribution; trace/miss.ts); none on ports
   *   that do not report it.
   */
  constructor(
    private readonly now: () => number,
    private readonly onError: (task: string, e: unknown) => void = () => undefined,
    private readonly wake: () => WakeRecord | undefined = () => undefined,
  ) {}

  /** A release found only at `now`, when the job could no longer run in time: why the executive came so late. */
  private skipCause(t: Task, releaseUs: number, now: number): MissCauseCode {
    const c = classifyMiss({ releaseUs, startUs: now, endUs: now, deadlineUs: t.deadlineUs, typicalExecUs: t.execMeanUs }, this.wake());
    return c === MissCause.UNKNOWN ? MissCause.SKIPPED : c;
  }

  private miss(t: Task, cause: MissCauseCode, n: number, latenessUs: number, job: number): void {
    t.misses += n;
    t.missesBy[cause]! += n;
    if (tracer.enabled) for (let i = 0; i < n; i++) tracer.emit(TraceKind.RT_MISS, t.slot, cause, latenessUs, job);
  }

  add(spec: RtTaskSpec): RtTaskHandle {
    const t = new Task(spec, this.now(), this.tasks.length);
    this.tasks.push(t);
    return t;
  }

  /** Releases every due job (one per task; later releases that were already due are skipped and counted as misses). */
  release(now: number): void {
    for (const t of this.tasks) {
      if (t.stopped || now < t.nextRelease) continue;
      if (tracer.enabled) tracer.emit(TraceKind.RT_RELEASE, t.slot, t.nextRelease, t.index);
      if (t.pending >= 0) {
        // previous job has not run: this release is lost (overrun)
        t.skipped++;
        this.miss(t, this.skipCause(t, t.nextRelease, now), 1, now - t.nextRelease, t.index);
      } else {
        t.pending = t.nextRelease;
      }
      t.nextRelease += t.periodUs;
      // if we fell several periods behind, skip the releases that are already over (each is a miss)
      if (now >= t.nextRelease) {
        const behind = Math.floor((now - t.nextRelease) / t.periodUs) + 1;
        t.skipped += behind;
        this.miss(t, this.skipCause(t, t.nextRelease, now), behind, now - t.nextRelease, t.index);
        t.nextRelease += behind * t.periodUs;
      }
    }
  }

  /** Earliest future release (µs), or Infinity. */
  nextReleaseUs(): number {
    let m = Infinity;
    for (const t of this.tasks) if (!t.stopped && t.nextRelease < m) m = t.nextRelease;
    return m;
  }

  hasReady(): boolean {
    for (const t of this.tasks) if (t.pending >= 0) return true;
    return false;
  }

  /** Runs the most urgent ready job, if any; returns whether one ran. */
  async runOne(): Promise<boolean> {
    let best: Task | undefined;
    for (const t of this.tasks) {
      if (t.pending < 0) continue;
      if (best === undefined || t.priority < best.priority || (t.priority === best.priority && t.pending < best.pending)) best = t;
    }
    if (best === undefined) return false;
    const t = best;
    const releaseUs = t.pending;
    t.pending = -1;
    const start = this.now();
    t.jitter.add(Math.max(0, start - releaseUs));
    const job = t.index;
    if (tracer.enabled) tracer.emitAt(start, TraceKind.RT_START, t.slot, job, releaseUs);
    try {
      const r = t.spec.run({ index: t.index++, releaseUs });
      if (r !== undefined) await r;
    } catch (e) {
      t.errors++;
      this.onError(t.name, e);
    }
    const end = this.now();
    t.response.add(end - releaseUs);
    t.jobsDone++;
    const exec = end - start;
    const missed = end > releaseUs + t.deadlineUs;
    if (tracer.enabled) tracer.emitAt(end, TraceKind.RT_END, t.slot, job, missed ? 1 : 0);
    if (missed) {
      const facts = { releaseUs, startUs: start, endUs: end, deadlineUs: t.deadlineUs, typicalExecUs: t.jobsDone > 1 ? t.execMeanUs : exec };
      this.miss(t, classifyMiss(facts, this.wake()), 1, end - releaseUs - t.deadlineUs, job);
    }
    // the running mean stays a mean of ordinary jobs: a stalled job would hide the next stall
    if (!missed || t.jobsDone === 1) t.execMeanUs += (exec - t.execMeanUs) / Math.min(t.jobsDone, 64);
    if (t.spec.jobs !== undefined && t.jobsDone >= t.spec.jobs) t.stop();
    return true;
  }

  stats(): RtTaskStats[] {
    return this.tasks.map((t) => t.stats());
  }
}
