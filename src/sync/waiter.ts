/**
 * The one wait loop: what a side does when a pass over its work found nothing. Every waiting side of the project
 * (bench sides and rtt clients, the hypervisor's cores, the guest idle path, the OpenAMP session loop) goes through
 * a Waiter, so a policy means the same everywhere.
 *
 * The caller's loop:
 *
 *     for (;;) {
 *       const seen = bell.seq();          // before the last look: a ring after this is never lost
 *       if (work()) { waiter.progressed(); continue; }
 *       waiter.idle(seen, arm, disarm);   // spin (return at once), or arm + sleep + disarm
 *     }
 *
 * `arm()` asks the peer for a notification (enable callbacks / notifications, a "want" word) and returns false when
 * work is already pending (then the loop looks again instead of sleeping); `disarm()` turns notifications off again
 * once the side runs (a running side sees new work by itself, so the peer need not notify it).
 */
import type { Doorbell } from './doorbell.js';
import { SpinBudget, type SpinBudgetOptions } from './spin-budget.js';
import type { WaitPolicy } from './policy.js';

export class Waiter {
  readonly budget: SpinBudget;
  private spinUntil = -1;
  /** Idle episodes that ended while spinning (no sleep) / that slept. */
  spinHits = 0;
  spinMisses = 0;

  constructor(
    readonly bell: Doorbell,
    readonly policy: WaitPolicy,
    o: SpinBudgetOptions = {},
  ) {
    this.budget = new SpinBudget(o);
  }

  /** The pass found work: ends an idle episode. */
  progressed(): void {
    if (this.spinUntil >= 0) {
      this.spinUntil = -1;
      this.spinHits++;
    }
  }

  /**
   * The pass found no work (`seen` = bell.seq() read before it). Returns at once while spinning; otherwise arms,
   * sleeps until the doorbell rings (or `timeoutMs`), disarms. Returns true when it slept.
   */
  idle(seen: number, arm: () => boolean, disarm: () => void, timeoutMs?: number): boolean {
    const policy = this.policy;
    if (policy === 'poll') return false;
    if (policy === 'spin-then-block') {
      const now = performance.now();
      if (this.spinUntil < 0) this.spinUntil = now + this.budget.ms;
      if (now < this.spinUntil) return false;
    }
    this.spinUntil = -1;
    if (!arm()) return false;
    this.spinMisses++;
    this.bell.sleep(seen, timeoutMs);
    this.budget.record(this.bell.lastWakeUs);
    disarm();
    return true;
  }

  /** Waits for one condition: `ready()` is polled, with arm/disarm around each sleep. */
  until(ready: () => boolean, arm: () => boolean, disarm: () => void): void {
    for (;;) {
      const seen = this.bell.seq();
      if (ready()) {
        this.progressed();
        return;
      }
      this.idle(seen, arm, disarm);
    }
  }
}
