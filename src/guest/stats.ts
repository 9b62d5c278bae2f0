/** Small sample statistics for reports: count, mean, percentiles, max. Samples are kept (bounded) and sorted once. */
export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export const EMPTY_SUMMARY: Summary = { count: 0, mean: 0, p50: 0, p99: 0, max: 0 };

export class Samples {
  private data: Float64Array;
  private n = 0;
  /** Total seen (may exceed the kept samples; the mean and max cover all of them). */
  private total = 0;
  private sum = 0;
  private maxSeen = 0;

  constructor(private readonly limit = 1 << 20) {
    this.data = new Float64Array(Math.min(1024, limit));
  }

  add(v: number): void {
    this.total++;
    this.sum += v;
    if (v > this.maxSeen || this.total === 1) this.maxSeen = v;
    if (this.n === this.data.length) {
      if (this.n >= this.limit) {
        // reservoir: keep a uniform sample once the limit is reached
        const j = Math.floor(Math.random() * this.total);
        if (j < this.n) this.data[j] = v;
        return;
      }
      const next = new Float64Array(Math.min(this.limit, this.n * 2));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = v;
  }

  get count(): number {
    return this.total;
  }

  summary(): Summary {
    if (this.total === 0) return EMPTY_SUMMARY;
    const s = this.data.slice(0, this.n).sort();
    const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
    return { count: this.total, mean: this.sum / this.total, p50: at(0.5), p99: at(0.99), max: this.maxSeen };
  }
}

/** Rounds for JSON/text reports (µs figures to 0.1, MB/s to 0.01). */
export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
