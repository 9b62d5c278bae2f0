/**
 * When spinning only delays the peer: the two processes of a pairing often run on ONE CPU (the kernel packs a pair
 * that hands work back and forth; or the other CPU is busy with other work). Then the peer we just notified cannot run
 * until we stop: a side that spins for its budget after every message delays every message by that budget (measured
 * on the 2-core VMs this runs on: round trips of ~215 µs = two 100 µs spins, against ~2 µs when the two sides sit on
 * different CPUs and ~4 µs for two C processes that always sleep at once).
 *
 * The signature, seen from the sleeping side: a spin ran out, the side went to sleep, and the peer's notification
 * came almost at once (within SHORT_SLEEP_US): the peer was runnable all along and ran as soon as we gave up the CPU.
 * After STRIKES such sleeps in a row the side YIELDS: it stops spinning and sleeps as soon as it is idle (through the
 * peer-aware Waiter: the peer is reported asleep, which cuts the spin). While yielding, sleeps that last longer than
 * SHORT_SLEEP_US (the peer did not need our CPU: it answers from another one, or is idle) count the other way, and
 * after STRIKES of them in a row the side spins again. The same code serves a C peer (no state of it visible: the
 * kick socket) and a linked tz-virtio peer (its doorbell's sleeper count is consulted too).
 */
import type { SleepResult, Sleeper } from '../sync/doorbell.js';
import type { PeerState } from '../sync/waiter.js';

/** A sleep shorter than this, ended by the peer, means the peer ran as soon as we stopped spinning, µs. */
export const SHORT_SLEEP_US = 30;
/** Consecutive sleeps of the same kind before the mode changes. */
export const STRIKES = 2;

export type CpuShareMode = 'spin' | 'yield';

/** The detector: fed with every idle sleep (duration, whether the peer ended it), it says whether to spin. */
export class CpuShareDetector {
  mode: CpuShareMode = 'spin';
  private strikes = 0;
  /** Mode changes so far (for the session's counters). */
  toYield = 0;
  toSpin = 0;

  /** One sleep of the idle loop: its length (µs) and whether the peer's notification ended it. */
  slept(us: number, rung: boolean): void {
    const short = rung && us < SHORT_SLEEP_US;
    if (this.mode === 'spin' ? short : !short) this.strikes++;
    else this.strikes = 0;
    if (this.strikes < STRIKES) return;
    this.strikes = 0;
    if (this.mode === 'spin') {
      this.mode = 'yield';
      this.toYield++;
    } else {
      this.mode = 'spin';
      this.toSpin++;
    }
  }

  get yielding(): boolean {
    return this.mode === 'yield';
  }

  /**
   * What the peer-aware Waiter should believe about the peer: asleep (spin cut at once) while yielding; otherwise
   * what `base` (a linked peer's doorbell) says, or awake when nothing is known (a C peer: spin the budget).
   */
  peerState(base?: PeerState): PeerState {
    const d = this;
    return {
      hasSleepers: () => d.mode === 'yield' || (base !== undefined && base.hasSleepers()),
      get lastWakeMs(): number | undefined {
        return d.mode === 'yield' ? undefined : base?.lastWakeMs;
      },
    };
  }

  /** A Sleeper that feeds this detector with every sleep it does (wrap the idle loop's sleeper with it). */
  watch(inner: Sleeper): Sleeper {
    const d = this;
    return {
      seq: () => inner.seq(),
      sleep(seen: number, timeoutMs?: number): SleepResult {
        const t0 = performance.now();
        const r = inner.sleep(seen, timeoutMs);
        // 'not-equal': it did not sleep (the peer rang before): no evidence either way
        if (r !== 'not-equal') d.slept((performance.now() - t0) * 1000, r === 'ok');
        return r;
      },
      get lastWakeUs(): number {
        return inner.lastWakeUs;
      },
    };
  }
}
