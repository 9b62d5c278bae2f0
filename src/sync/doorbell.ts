/**
 * A doorbell in shared memory: the interrupt line of the model (ARCHITECTURE.md "Waiting"). Three Int32 words,
 * anywhere in one Int32Array (a SharedArrayBuffer, or a mapped file shared by processes):
 *
 *   seq       incremented by every ring() that may have to wake someone
 *   sleepers  threads inside Atomics.wait on seq: ring() skips the wake-up (a futex syscall across processes)
 *             when nobody sleeps, so a busy peer costs no syscalls
 *   stamp     optional: when ring() wakes a sleeper it writes the time (µs, mod 2^31); the woken side measures its
 *             wake-up latency from it, which the spin-then-block policy uses as its spin budget (./spin-budget.ts)
 *
 * No lost wake-up: a waiter reads `seq` BEFORE it last checks for work, and sleeps only while seq still has that
 * value. A ringer publishes its work first, then increments seq, then reads `sleepers`. Atomics are sequentially
 * consistent, so either the waiter sees the new seq (and does not sleep), or the ringer sees sleepers > 0 and
 * notifies.
 *
 * Across OS processes (a mapped file) Atomics.wait/notify do not meet: V8 keeps its waiters per process. Pass
 * `FutexOps` (the host layer's shared futex, src/host/futex.ts) and the doorbell sleeps and wakes through the
 * kernel's futex keyed by the file page instead; everything else is the same.
 */

/** Sleep/wake on one Int32 word, for doorbells in memory shared by processes (the same contract as Atomics). */
export interface FutexOps {
  wait(words: Int32Array, index: number, expected: number, timeoutMs: number): SleepResult;
  wake(words: Int32Array, index: number): void;
}

/** What a Waiter sleeps on: a doorbell, or anything with the same no-lost-wake-up contract (a kick socket). */
export interface Sleeper {
  /** A sequence number read before the last look for work; sleep(seen) returns at once when it moved. */
  seq(): number;
  sleep(seen: number, timeoutMs?: number): SleepResult;
  /** The wake-up latency the last sleep measured, µs (-1 unknown). */
  readonly lastWakeUs: number;
}

/** Absolute time in µs modulo 2^31 (the same clock in every thread and process: timeOrigin + now). */
export function stampNowUs(): number {
  return ((performance.timeOrigin + performance.now()) * 1000) % 0x80000000 | 0;
}

export type SleepResult = 'ok' | 'not-equal' | 'timed-out';

export class Doorbell implements Sleeper {
  /** Times ring() was called / actually had to wake a sleeper. */
  rings = 0;
  wakes = 0;
  /** Times sleep() actually waited in Atomics.wait. */
  sleeps = 0;
  /** The wake-up latency the last sleep() measured (µs; -1 when unknown: no stamp word, timeout, stale stamp). */
  lastWakeUs = -1;
  /**
   * When this handle last woke a sleeper (performance.now(), ms; -Infinity never). A woken peer still counts as a
   * sleeper until the kernel has run it again (the futex wake-up latency), so a peer-aware waiter must not read
   * "sleepers > 0" just after ringing as "the peer is asleep" (./waiter.ts).
   */
  lastWakeMs = -Infinity;

  constructor(
    private readonly words: Int32Array,
    private readonly index: number,
    private readonly sleepersIndex: number = index + 1,
    /** Word for the ring time, or -1 for none. */
    private readonly stampIndex: number = -1,
    /** Cross-process sleep/wake (a mapped file); default Atomics.wait/notify (threads of one process). */
    private readonly futex?: FutexOps,
  ) {}

  /** Current sequence number; read it before the last check for work. */
  seq(): number {
    return Atomics.load(this.words, this.index);
  }

  /** True when a thread sleeps on this doorbell (a notifier must ring). */
  hasSleepers(): boolean {
    return Atomics.load(this.words, this.sleepersIndex) !== 0;
  }

  ring(): void {
    this.rings++;
    Atomics.add(this.words, this.index, 1);
    if (Atomics.load(this.words, this.sleepersIndex) !== 0) {
      this.wakes++;
      this.lastWakeMs = performance.now();
      if (this.stampIndex >= 0) Atomics.store(this.words, this.stampIndex, stampNowUs());
      if (this.futex !== undefined) this.futex.wake(this.words, this.index);
      else Atomics.notify(this.words, this.index);
    }
  }

  /** Wakes every sleeper without advancing seq (the caller advanced it, or wants a re-check). */
  wakeAll(): void {
    this.wakes++;
    this.lastWakeMs = performance.now();
    if (this.futex !== undefined) this.futex.wake(this.words, this.index);
    else Atomics.notify(this.words, this.index);
  }

  /**
   * Sleeps while seq is still `seen`. Without a timeout it returns only once seq moved ('not-equal' when it had
   * already moved, else 'ok'); with one it waits once, at most timeoutMs ('timed-out' when the time ran out).
   */
  sleep(seen: number, timeoutMs?: number): SleepResult {
    const w = this.words;
    Atomics.add(w, this.sleepersIndex, 1);
    let r: SleepResult = 'not-equal';
    if (timeoutMs !== undefined) {
      if (Atomics.load(w, this.index) !== seen) r = 'not-equal';
      else if (!(timeoutMs > 0)) r = 'timed-out';
      else {
        this.sleeps++;
        r = this.futex !== undefined ? this.futex.wait(w, this.index, seen, timeoutMs) : Atomics.wait(w, this.index, seen, timeoutMs);
      }
    } else {
      while (Atomics.load(w, this.index) === seen) {
        this.sleeps++;
        r = this.futex !== undefined ? this.futex.wait(w, this.index, seen, Infinity) : Atomics.wait(w, this.index, seen);
      }
    }
    Atomics.sub(w, this.sleepersIndex, 1);
    this.lastWakeUs = -1;
    if (r === 'ok' && this.stampIndex >= 0) {
      const d = (stampNowUs() - Atomics.load(w, this.stampIndex)) | 0;
      // a stamp older than a second belongs to an earlier ring (another sleeper's): no measurement
      if (d >= 0 && d < 1_000_000) this.lastWakeUs = d;
    }
    return r;
  }
}

/** Words a Doorbell occupies when laid out as seq, sleepers (the stamp word, when used, is placed separately). */
export const DOORBELL_WORDS = 2;
