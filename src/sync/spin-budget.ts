/**
 * How long a spin-then-block waiter spins before it sleeps. Competitive spinning (Karlin, Manasse, McGeoch, Owicki,
 * SOSP 1991): spinning for as long as one sleep-and-wake-up costs is never worse than twice the better of "spin"
 * and "sleep at once". The cost of a wake-up is the host's, not ours: 10-100 µs on the 2-core VMs this runs on,
 * more under load. A fixed budget below the host's wake-up latency locks two peers into a slow mode: each side,
 * woken by the other, finds the other already asleep again and has to wake it (one futex round trip per window of
 * messages). So the budget can follow the wake-up latency the doorbell measures (ring time stamp -> woken), between
 * a floor and a ceiling.
 *
 * The default ceiling equals the floor (a fixed 50 µs, as before): on an oversubscribed host the measured wake-up
 * latency is CPU contention, not the futex, and spinning longer then keeps the peer off the core it needs
 * (docs/benchmarks.md, "The gap": spin-then-block round trips went from ~0.1 ms to ~1 ms at load 8-12 with a
 * 500 µs ceiling). Raise `maxMs` per endpoint where the host is known to have idle cores.
 */

/** Default floor of the spin budget, ms (50 µs: two sleeping wake-ups on a quiet VM of this kind). */
export const SPIN_BUDGET_MS = 0.05;
/** Default ceiling, ms (= the floor: a fixed budget unless an endpoint asks for more). */
export const MAX_SPIN_BUDGET_MS = SPIN_BUDGET_MS;
/** A ceiling for hosts with idle cores, where wake-ups are slow but spinning steals nothing: 500 µs. */
export const IDLE_HOST_SPIN_CEILING_MS = 0.5;

export interface SpinBudgetOptions {
  /** Floor, ms. Default SPIN_BUDGET_MS. */
  readonly minMs?: number;
  /** Ceiling, ms. Default MAX_SPIN_BUDGET_MS. Equal to minMs: a fixed budget. */
  readonly maxMs?: number;
  /** Budget = factor x the wake-up latency estimate. Default 2 (spin through a peer's wake-up, with margin). */
  readonly factor?: number;
}

export class SpinBudget {
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  /** Wake-up latency estimate, µs: rises at once to a larger sample, decays by 1/16 towards smaller ones. */
  private estUs = 0;
  /** The current budget, ms. */
  ms: number;

  constructor(o: SpinBudgetOptions = {}) {
    this.minMs = o.minMs ?? SPIN_BUDGET_MS;
    this.maxMs = Math.max(this.minMs, o.maxMs ?? MAX_SPIN_BUDGET_MS);
    this.factor = o.factor ?? 2;
    this.ms = this.minMs;
  }

  /** A measured wake-up latency (µs; negative = unknown, ignored). */
  record(us: number): void {
    if (!(us >= 0)) return;
    this.estUs = us > this.estUs ? us : this.estUs + (us - this.estUs) / 16;
    const ms = (this.factor * this.estUs) / 1000;
    this.ms = ms < this.minMs ? this.minMs : ms > this.maxMs ? this.maxMs : ms;
  }

  get estimateUs(): number {
    return this.estUs;
  }
}
