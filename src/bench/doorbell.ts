/**
 * A doorbell word in shared memory: the interrupt line of the model (ARCHITECTURE.md "Waiting").
 *
 *   ctl[i]     seq      incremented by every ring()
 *   ctl[i+1]   sleepers number of threads inside Atomics.wait on seq (so ring() skips the futex when nobody sleeps)
 *
 * No lost wake-up: a waiter reads `seq` BEFORE it last checks for work, and sleeps only while seq still has that
 * value. A ringer publishes its work first, then increments seq, then reads `sleepers`. Atomics are sequentially
 * consistent, so either the waiter sees the new seq (and does not sleep), or the ringer sees sleepers > 0 and
 * notifies.
 */
export class Doorbell {
  /** Times ring() was called / actually had to wake a sleeper. */
  rings = 0;
  wakes = 0;
  /** Times sleep() actually waited in Atomics.wait. */
  sleeps = 0;

  constructor(
    private readonly ctl: Int32Array,
    private readonly index: number,
  ) {}

  /** Current sequence number; read it before the last check for work. */
  seq(): number {
    return Atomics.load(this.ctl, this.index);
  }

  ring(): void {
    this.rings++;
    Atomics.add(this.ctl, this.index, 1);
    if (Atomics.load(this.ctl, this.index + 1) !== 0) {
      this.wakes++;
      Atomics.notify(this.ctl, this.index);
    }
  }

  /** Sleeps while seq is still `seen` (returns at once when it moved), or for at most timeoutMs when given. */
  sleep(seen: number, timeoutMs?: number): void {
    Atomics.add(this.ctl, this.index + 1, 1);
    if (timeoutMs !== undefined) {
      if (Atomics.load(this.ctl, this.index) === seen && timeoutMs > 0) {
        this.sleeps++;
        Atomics.wait(this.ctl, this.index, seen, timeoutMs);
      }
    } else {
      while (Atomics.load(this.ctl, this.index) === seen) {
        this.sleeps++;
        Atomics.wait(this.ctl, this.index, seen);
      }
    }
    Atomics.sub(this.ctl, this.index + 1, 1);
  }
}

/** Words a Doorbell occupies in its control array. */
export const DOORBELL_WORDS = 2;

/**
 * How long a spin-then-block waiter spins before it sleeps, in ms (performance.now units). About the cost of two
 * sleeping wake-ups on the target VMs (~50 µs round trip, ARCHITECTURE.md), so a spin never costs more than the
 * sleep it tries to avoid by more than a factor of two.
 */
export const SPIN_BUDGET_MS = 0.05;
