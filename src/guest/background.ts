/**
 * Background (service) work of the secure partition's real-time executive.
 *
 * A background step is one bounded unit of service work (e.g. answer one request) that returns whether it did
 * anything. The executive runs steps only in the slack before the next RT release: a step starts only when
 *
 *     now + estimate(step) + guardUs  <=  next release
 *
 * where estimate = mean + 4 x mean deviation of the step's recent durations (exponentially weighted), clamped to
 * [costUs, maxEstimateUs]. So a release never waits behind service work, except when a step overruns its estimate
 * (counted). The clamp keeps one outlier (a GC pause, the OS preempting the worker) from pricing the service out of
 * every slot: with an estimate above the slack between releases the service would starve.
 * At most maxStepsPerPass steps run per pass; the executive then looks at interrupts and releases again.
 *
 *   time ──────────────────────────────────────────────────────────►
 *        │ step │ step │ step │ (next step would cross) ·· spin ·· │ RT job │ step ...
 *                                                                  ▲ release
 */
import { GuestError, GuestErrorCode } from './errors.js';

export interface BackgroundSpec {
  readonly name: string;
  /** One bounded unit of work; resolves true when it did something, false when it has nothing to do. */
  readonly step: () => boolean | Promise<boolean>;
  /** Declared cost of one step (µs), the floor of the estimate. Default 50. */
  readonly costUs?: number;
}

export interface BackgroundOptions {
  /** Safety margin kept free before a release (µs). Default 20. */
  readonly guardUs?: number;
  /** Steps per pass before interrupts and releases are looked at again. Default 8. */
  readonly maxStepsPerPass?: number;
  /** Weight of the newest duration in the running mean and deviation (0..1). Default 0.05. */
  readonly alpha?: number;
  /** Upper bound of a step's estimate (µs). Default 300. */
  readonly maxEstimateUs?: number;
}

export interface BackgroundStats {
  readonly name: string;
  readonly steps: number;
  /** Passes in which a step was ready but held back because the next release was too close. */
  readonly deferred: number;
  /** Steps that took longer than their estimate at start (they may have delayed a release). */
  readonly overruns: number;
  readonly estimateUs: number;
  readonly maxStepUs: number;
  readonly errors: number;
}

export interface BackgroundHandle {
  readonly name: string;
  stop(): void;
  stats(): BackgroundStats;
}

class Work implements BackgroundHandle {
  readonly name: string;
  readonly cost: number;
  estimate: number;
  mean: number;
  dev: number;
  steps = 0;
  deferred = 0;
  overruns = 0;
  maxStep = 0;
  errors = 0;
  stopped = false;
  /** Whether the last step reported work (an idle step is retried only after an event). */
  busy = true;

  constructor(readonly spec: BackgroundSpec) {
    if (typeof spec.step !== 'function') throw new GuestError(GuestErrorCode.BAD_ARGUMENT, `background ${spec.name}: step must be a function`);
    const c = spec.costUs ?? 50;
    if (!(c >= 0) || !Number.isFinite(c)) throw new GuestError(GuestErrorCode.BAD_ARGUMENT, `background ${spec.name}: costUs must be >= 0`);
    this.name = String(spec.name);
    this.cost = c;
    this.estimate = c;
    this.mean = c;
    this.dev = 0;
  }

  stop(): void {
    this.stopped = true;
  }

  stats(): BackgroundStats {
    return { name: this.name, steps: this.steps, deferred: this.deferred, overruns: this.overruns, estimateUs: this.estimate, maxStepUs: this.maxStep, errors: this.errors };
  }
}

export class BackgroundWork {
  private readonly list: Work[] = [];
  private readonly guardUs: number;
  private readonly maxSteps: number;
  private readonly alpha: number;
  private readonly maxEstimate: number;

  constructor(private readonly now: () => number, private readonly onError: (name: string, e: unknown) => void, o: BackgroundOptions = {}) {
    this.guardUs = o.guardUs ?? 20;
    this.maxSteps = Math.max(1, o.maxStepsPerPass ?? 8);
    this.alpha = Math.min(1, Math.max(0.001, o.alpha ?? 0.05));
    this.maxEstimate = o.maxEstimateUs ?? 300;
  }

  add(spec: BackgroundSpec): BackgroundHandle {
    const w = new Work(spec);
    this.list.push(w);
    return w;
  }

  get size(): number {
    return this.list.length;
  }

  /** Something happened (an interrupt was handled): idle steps get another chance. */
  wake(): void {
    for (const w of this.list) w.busy = true;
  }

  /**
   * One pass: runs steps (round robin over the works that are busy) while the next release leaves room for them.
   * `nextRelease` is re-read before every step (a step may create work or tasks). Returns the steps that ran.
   */
  async pass(nextRelease: () => number): Promise<number> {
    let ran = 0;
    for (let i = 0; i < this.maxSteps; i++) {
      let progressed = false;
      for (const w of this.list) {
        if (w.stopped || !w.busy) continue;
        const t0 = this.now();
        const next = nextRelease();
        if (t0 + w.estimate + this.guardUs > next) {
          w.deferred++;
          return ran;
        }
        let did = false;
        try {
          const r = w.spec.step();
          did = typeof r === 'boolean' ? r : await r;
        } catch (e) {
          w.errors++;
          this.onError(w.name, e);
          did = true;
        }
        const dt = this.now() - t0;
        if (dt > w.estimate) w.overruns++;
        if (dt > w.maxStep) w.maxStep = dt;
        const a = this.alpha;
        w.dev += a * (Math.abs(dt - w.mean) - w.dev);
        w.mean += a * (dt - w.mean);
        w.estimate = Math.min(Math.max(w.cost, w.mean + 4 * w.dev), Math.max(w.cost, this.maxEstimate));
        if (!did) {
          w.busy = false;
          continue;
        }
        w.steps++;
        ran++;
        progressed = true;
        if (this.now() >= nextRelease()) return ran;
      }
      if (!progressed) break;
    }
    return ran;
  }

  /** True when some work reported work at its last step (it will be run again without waiting for an event). */
  hasBusy(): boolean {
    for (const w of this.list) if (!w.stopped && w.busy) return true;
    return false;
  }

  stats(): BackgroundStats[] {
    return this.list.map((w) => w.stats());
  }
}
