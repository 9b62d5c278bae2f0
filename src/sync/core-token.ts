/**
 * The single-core (world-switch) mode: one core, two worlds, so only the holder of the core token runs.
 * The rules follow LTZVisor's single-core scheduling (ARCHITECTURE.md):
 *   - the secure world runs first and keeps the core until it is idle; idle = SMC yield = a world switch to the
 *     non-secure world;
 *   - a non-secure -> secure notification is an SMC (TZ-VirtIO notify) that switches to the secure world at once;
 *   - a secure -> non-secure notification only marks an IRQ pending: the non-secure world sees it when the secure
 *     world next goes idle (no switch);
 *   - the non-secure world also gives the core back when it is idle.
 * Every hand-over is counted as a world switch (SMC -> monitor -> switch).
 *
 * Layout (Int32Array words from `base`):  holder (0 or 1) | sleepers | switches | done[0] | done[1]
 * Only the holder writes `holder`, so the hand-over needs no compare-and-swap.
 *
 * The waiting world spins briefly (the spin-then-block budget), then sleeps: on a real single core the waiting world
 * does not run at all; here its CPU time is reported so the cost of the model itself is visible.
 */
import { SPIN_BUDGET_MS } from './spin-budget.js';

export const CORE_TOKEN_WORDS = 5;
const HOLDER = 0;
const SLEEPERS = 1;
const SWITCHES = 2;
const DONE = 3;

export class CoreToken {
  constructor(
    private readonly ctl: Int32Array,
    private readonly base: number,
    /** This world's number: 0 or 1. */
    readonly me: 0 | 1,
    /** How long acquire() spins before sleeping, ms. */
    private readonly spinMs: number = SPIN_BUDGET_MS,
  ) {}

  /** Sets the initial holder (call once, before any world starts). */
  static init(ctl: Int32Array, base: number, holder: 0 | 1): void {
    Atomics.store(ctl, base + HOLDER, holder);
  }

  get other(): 0 | 1 {
    return this.me === 0 ? 1 : 0;
  }

  get switches(): number {
    return Atomics.load(this.ctl, this.base + SWITCHES);
  }

  holds(): boolean {
    return Atomics.load(this.ctl, this.base + HOLDER) === this.me;
  }

  /** Waits until this world holds the core. */
  acquire(): void {
    const w = this.ctl;
    const h = this.base + HOLDER;
    if (Atomics.load(w, h) === this.me) return;
    const until = performance.now() + this.spinMs;
    let n = 0;
    while (Atomics.load(w, h) !== this.me) {
      if ((++n & 63) === 0 && performance.now() > until) {
        Atomics.add(w, this.base + SLEEPERS, 1);
        for (;;) {
          const v = Atomics.load(w, h);
          if (v === this.me) break;
          Atomics.wait(w, h, v);
        }
        Atomics.sub(w, this.base + SLEEPERS, 1);
        return;
      }
    }
  }

  /**
   * World switch: hands the core to the other world and waits until it comes back. Returns false (and keeps the
   * core) when the other world has finished.
   */
  switchToOther(): boolean {
    const w = this.ctl;
    if (Atomics.load(w, this.base + DONE + this.other) !== 0) return false;
    Atomics.add(w, this.base + SWITCHES, 1);
    Atomics.store(w, this.base + HOLDER, this.other);
    if (Atomics.load(w, this.base + SLEEPERS) !== 0) Atomics.notify(w, this.base + HOLDER);
    this.acquire();
    return true;
  }

  /** This world is done for good: marks it so and hands the core over without waiting for it. */
  finish(): void {
    const w = this.ctl;
    Atomics.store(w, this.base + DONE + this.me, 1);
    if (Atomics.load(w, this.base + DONE + this.other) !== 0) return;
    Atomics.store(w, this.base + HOLDER, this.other);
    Atomics.notify(w, this.base + HOLDER);
  }
}
