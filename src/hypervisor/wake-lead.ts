/**
 * The secure executive's adaptive wake-up lead.
 *
 * The executive sleeps (Atomics.wait) until `lead` µs before a release and spins the rest of the way. When the host
 * OS ends the sleep late by more than the lead (the thread was descheduled at its wake-up time), the release starts
 * late. This keeps the lateness of the last `window` timed waits (how long after the requested wake-up time the
 * wait really returned) and sets the lead to their `quantile` (p99) plus a margin, never below the configured base
 * lead and never above `maxUs` (on one core every µs of lead is taken from the non-secure world, so its bound is
 * smaller). It is recomputed every `every` samples from a sorted copy of the window: no allocation per wait.
 */
export interface WakeLeadOptions {
  /** The configured lead (µs): the minimum, and the lead while there are no samples. */
  readonly baseUs: number;
  /** Upper bound of the lead (µs). */
  readonly maxUs: number;
  /** false: the lead stays at baseUs (lateness is still recorded). Default true. */
  readonly adaptive?: boolean;
  /** Number of recent waits considered. Default 256. */
  readonly window?: number;
  /** Recompute the lead every this many samples. Default 16. */
  readonly every?: number;
  /** Quantile of the lateness the lead must cover. Default 0.99. */
  readonly quantile?: number;
  /** Added to the quantile (µs). Default 30. */
  readonly marginUs?: number;
}

export interface WakeLeadStats {
  readonly adaptive: boolean;
  readonly baseUs: number;
  readonly maxUs: number;
  /** The lead in force now. */
  readonly leadUs: number;
  /** Largest lead used, and the mean lead over the waits that used it. */
  readonly peakUs: number;
  readonly meanUs: number;
  /** Recomputations whose target (quantile + margin) was above maxUs: the lateness did not fit. */
  readonly capped: number;
}

export class AdaptiveWakeLead {
  readonly adaptive: boolean;
  readonly baseUs: number;
  readonly maxUs: number;
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private readonly every: number;
  private readonly quantile: number;
  private readonly marginUs: number;
  private n = 0;
  private head = 0;
  private sinceUpdate = 0;
  private lead: number;
  private peak: number;
  private leadSum = 0;
  private leadUses = 0;
  private cappedCount = 0;

  constructor(o: WakeLeadOptions) {
    const base = Number.isFinite(o.baseUs) ? Math.max(0, o.baseUs) : 250;
    this.baseUs = base;
    this.maxUs = Number.isFinite(o.maxUs) ? Math.max(base, o.maxUs) : base;
    this.adaptive = o.adaptive !== false;
    const window = Math.max(8, Math.floor(o.window ?? 256));
    this.ring = new Float64Array(window);
    this.sorted = new Float64Array(window);
    this.every = Math.max(1, Math.floor(o.every ?? 16));
    this.quantile = Math.min(1, Math.max(0, o.quantile ?? 0.99));
    this.marginUs = Math.max(0, o.marginUs ?? 30);
    this.lead = base;
    this.peak = base;
  }

  /**
   * The lead for a wait with `leftUs` to go (µs); counted in the mean. Above the base lead it is at most half of
   * `leftUs`, so that a wait keeps a sleep phase however late the OS has been.
   */
  take(leftUs = Infinity): number {
    const l = Math.max(this.baseUs, Math.min(this.lead, leftUs / 2));
    this.leadSum += l;
    this.leadUses++;
    return l;
  }

  get leadUs(): number {
    return this.lead;
  }

  /** One timed wait returned `lateUs` after the time it asked for (negative values count as 0). */
  record(lateUs: number): void {
    if (!Number.isFinite(lateUs)) return;
    this.ring[this.head] = Math.max(0, lateUs);
    this.head = (this.head + 1) % this.ring.length;
    if (this.n < this.ring.length) this.n++;
    if (++this.sinceUpdate >= this.every) {
      this.sinceUpdate = 0;
      this.update();
    }
  }

  private update(): void {
    if (!this.adaptive || this.n === 0) return;
    const s = this.sorted.subarray(0, this.n);
    s.set(this.ring.subarray(0, this.n));
    s.sort();
    const q = s[Math.min(this.n - 1, Math.max(0, Math.ceil(this.quantile * this.n) - 1))]!;
    const target = q + this.marginUs;
    if (target > this.maxUs) this.cappedCount++;
    this.lead = Math.min(this.maxUs, Math.max(this.baseUs, Math.round(target)));
    if (this.lead > this.peak) this.peak = this.lead;
  }

  stats(): WakeLeadStats {
    return {
      adaptive: this.adaptive,
      baseUs: this.baseUs,
      maxUs: this.maxUs,
      leadUs: this.lead,
      peakUs: this.peak,
      meanUs: this.leadUses > 0 ? Math.round(this.leadSum / this.leadUses) : this.lead,
      capped: this.cappedCount,
    };
  }
}
