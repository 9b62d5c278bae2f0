/**
 * The hypervisor's progress watchdog (main thread): a partition whose thread runs guest code without ever calling into
 * ctx cannot be stopped or preempted (JavaScript has no way to interrupt it), so on one core it would hold the core
 * until the run's timeout. The watchdog samples a probe of the partition's control words every `periodMs` and calls
 * `onStuck` once when the probe has not moved for `limitMs` while the partition was not waiting inside ctx.
 *
 * The probe returns 'waiting' while the partition sleeps in the executive (a legitimate long wait moves nothing), or
 * a number that moves while it makes progress: API calls (S_BEAT / NS_BEAT) plus event-loop turns (S_TICK / NS_TICK,
 * so that a guest awaiting a Node promise is not taken for a stuck one). The watchdog arms at the first non-zero
 * sample (a partition still starting up, a slow process spawn, is not stuck) and does not count time during which
 * this thread itself was not scheduled (a starved hypervisor would otherwise blame the partition for its own gap).
 */

/** Default limit: 2 s without progress. */
export const DEFAULT_PROGRESS_WATCHDOG_MS = 2000;

export type ProgressSample = number | 'waiting';

export class ProgressWatchdog {
  private timer: ReturnType<typeof setInterval> | undefined;
  private last: ProgressSample | undefined;
  private lastMoveMs = 0;
  private lastCheckMs = 0;
  private fired = false;

  constructor(
    private readonly probe: () => ProgressSample,
    private readonly limitMs: number,
    private readonly onStuck: (stalledMs: number) => void,
    private readonly periodMs = Math.max(10, Math.min(100, Math.floor(limitMs / 10))),
  ) {}

  /** Starts sampling (a no-op for limitMs 0: the watchdog is off). */
  start(): this {
    if (this.limitMs <= 0 || this.timer !== undefined || this.fired) return this;
    this.lastCheckMs = performance.now();
    this.timer = setInterval(() => this.check(performance.now()), this.periodMs);
    return this;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  get hasFired(): boolean {
    return this.fired;
  }

  /** One sample at time `nowMs` (exposed for tests: a deterministic clock). */
  check(nowMs: number): void {
    if (this.fired) return;
    // this thread was not scheduled for a while: whatever the partition did meanwhile, start counting afresh
    const gap = nowMs - this.lastCheckMs;
    this.lastCheckMs = nowMs;
    const v = this.probe();
    if (v === 'waiting' || v !== this.last || gap > Math.max(4 * this.periodMs, this.limitMs / 2)) {
      this.last = v;
      this.lastMoveMs = nowMs;
      return;
    }
    if (v === 0) return; // not armed: the partition has not started to run yet
    if (nowMs - this.lastMoveMs >= this.limitMs) {
      this.fired = true;
      this.stop();
      this.onStuck(nowMs - this.lastMoveMs);
    }
  }
}
