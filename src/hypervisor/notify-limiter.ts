/**
 * The secure core's interrupt-storm defence: a token bucket over the non-secure notifications it accepts as
 * wake-ups. Each accepted notification takes a token; tokens come back at `perSec`, up to `burst`. With no token
 * left the line counts as masked: the secure core stops waking for non-secure notifications (see
 * SecureCore.waitForEvent) until a token is back, and serves the rings at its own next wake-up instead.
 *
 *   tokens ▲ burst ┤‾‾‾‾\        /‾‾‾‾‾
 *                  │     \      /          each notification: -1;  refill: +perSec per second
 *                0 ┤      \____/ ← masked while < 1
 */
export class NotifyLimiter {
  readonly perSec: number;
  readonly burst: number;
  private tokens: number;
  private at: number;
  /** Notifications taken while no token was left (coalesced into a later poll, no wake-up of their own). */
  limited = 0;

  constructor(perSec: number, burst: number, nowUs: number) {
    this.perSec = Math.max(1, perSec);
    this.burst = Math.max(1, burst);
    this.tokens = this.burst;
    this.at = nowUs;
  }

  private refill(t: number): void {
    if (t > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.at) * this.perSec) / 1e6);
      this.at = t;
    }
  }

  /** A notification was taken at time t (µs): spend a token, or count it as over the limit. */
  take(t: number): void {
    this.refill(t);
    if (this.tokens >= 1) this.tokens -= 1;
    else this.limited++;
  }

  /** Whether non-secure notifications are masked at time t. */
  masked(t: number): boolean {
    this.refill(t);
    return this.tokens < 1;
  }

  /** Time (µs) until the next token, at most. */
  get periodUs(): number {
    return 1e6 / this.perSec;
  }
}
