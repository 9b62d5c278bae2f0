/**
 * Whether spinning pays, for the OpenAMP session loop. A side that finds no work may spin (poll its rings for a
 * budget) or sleep at once; spinning pays only when the peer answers within the budget from ANOTHER CPU. It does not:
 *
 *  1. When the two processes share one CPU (the kernel packs a pair that hands work back and forth, or the other
 *     CPU is busy): the peer we just notified cannot run until we stop, so every spin delays every message by the
 *     budget (measured on the 2-core VMs this runs on: round trips of ~215 µs = two 100 µs spins, against ~2 µs
 *     on two CPUs and ~4 µs for two C processes that always sleep at once). The signature, seen from the sleeping
 *     side: the spin ran out, the side went to sleep, and the peer's notification came almost at once (within
 *     SHORT_SLEEP_US): the peer was runnable all along and ran as soon as we gave up the CPU.
 *  2. When the machine is loaded (both CPUs busy with other work): a woken peer waits 60-200 µs on a run queue, so
 *     the spin runs out before the peer answers anyway, and the CPU time it burnt is taken from the peer and the
 *     other work. Measured tz-virtio ↔ tz-virtio at load 3-4, 20000 messages in windows of 64: both sides slept
 *     once per window either way, the spinning pair used 1.7-1.9 µs of CPU per message against 0.5 for a pair that
 *     slept at once, and took 4.5-5.3 µs per message against 2.3-3.1. The signature: spins that end in a sleep.
 *
 * So the detector starts in 'yield' (sleep as soon as idle, through the peer-aware Waiter: the peer is reported
 * asleep, which cuts the spin) and spins only while spinning is seen to pay. Whether it would pay cannot be read from
 * a yielding side's sleeps (their length is the peer's answer plus our own wake-up, and spinning would have taken CPU
 * time the peer or the other work may need), so a yielding side PROBES: after every PROBE_EVERY sleeps, one idle
 * episode spins its budget. PROBE_HITS probes in a row that the peer's work ended while spinning switch to 'spin';
 * a probe that runs out ends the series. While spinning, it yields again after STRIKES evidences in a row: a spin
 * that ran its whole budget and ended in a sleep (2), or a sleep ended by the peer within SHORT_SLEEP_US (1); a spin
 * the peer's work ends (a hit) clears the count. Measured tz-virtio ↔ tz-virtio at load 3-4 (20000 messages,
 * medians of 6 interleaved runs): a detector that went back to spinning on short sleeps 2.7 µs/message, one that
 * never spun again 1.4, the 'block' policy 2.7 in the same runs. The same code serves a C peer (no state of it
 * visible: the kick socket) and a linked tz-virtio peer (its doorbell's sleeper count is consulted too: a peer
 * asleep is not spun for, probe or not).
 */
import type { SleepResult, Sleeper } from '../sync/doorbell.js';
import type { PeerState } from '../sync/waiter.js';

/** A sleep shorter than this, ended by the peer, means the peer ran as soon as we stopped spinning, µs. */
export const SHORT_SLEEP_US = 30;
/** Consecutive evidences before the side yields. */
export const STRIKES = 2;
/**
 * Sleeps of a yielding side between two probes (an idle episode that spins its budget). A probe against a peer on our
 * CPU delays that peer by the budget: one round trip in PROBE_EVERY / 2 pays it (both sides probe), so this keeps it
 * out of the p99 (every 32 and every 128 sleeps put tz ↔ tz round trips' p99 at 106-112 µs = the 100 µs budget).
 */
export const PROBE_EVERY = 512;
/** Consecutive probes that the peer's work ended before a yielding side spins again. */
export const PROBE_HITS = 2;

export type CpuShareMode = 'spin' | 'yield';

/** The detector: fed with every idle sleep and every spin that paid, it says whether to spin (or probe). */
export class CpuShareDetector {
  mode: CpuShareMode = 'yield';
  private strikes = 0;
  /** Yielding: sleeps since the last probe (the first probe comes after two sleeps); whether an episode probes. */
  private sinceProbe = PROBE_EVERY - 2;
  probing = false;
  /** Mode changes so far, and probes made (for the session's counters). */
  toYield = 0;
  toSpin = 0;
  probes = 0;

  /**
   * One sleep of the idle loop: its length (µs), whether the peer's notification ended it, and whether a spin ran
   * its whole budget before it (false: the spin was cut because the peer sleeps, or the policy never spins).
   */
  slept(us: number, rung: boolean, afterFullSpin = false): void {
    if (this.mode === 'spin') {
      if (afterFullSpin || (rung && us < SHORT_SLEEP_US)) this.strike();
      else this.strikes = 0;
      return;
    }
    if (this.probing) {
      // the probe ran out (or was cut: the peer sleeps): spinning did not pay this time
      this.probing = false;
      this.strikes = 0;
    }
    if (++this.sinceProbe >= PROBE_EVERY) {
      this.sinceProbe = 0;
      this.probing = true;
      this.probes++;
    }
  }

  /** An idle episode ended while spinning (the peer's work arrived within the budget): spinning paid. */
  hit(): void {
    if (this.mode === 'spin') {
      this.strikes = 0;
      return;
    }
    if (!this.probing) return;
    this.probing = false;
    if (++this.strikes >= PROBE_HITS) this.change();
    else {
      // probe again at once: PROBE_HITS in a row are needed
      this.probing = true;
      this.probes++;
    }
  }

  private strike(): void {
    if (++this.strikes >= STRIKES) this.change();
  }

  private change(): void {
    this.strikes = 0;
    this.probing = false;
    this.sinceProbe = 0;
    if (this.mode === 'spin') {
      this.mode = 'yield';
      this.toYield++;
    } else {
      this.mode = 'spin';
      this.toSpin++;
    }
  }

  /** Whether the idle loop should sleep at once now (yielding and not probing). */
  get yielding(): boolean {
    return this.mode === 'yield' && !this.probing;
  }

  /**
   * What the peer-aware Waiter should believe about the peer: asleep (spin cut at once) while yielding and not
   * probing; otherwise what `base` (a linked peer's doorbell) says, or awake when nothing is known (a C peer: spin
   * the budget).
   */
  peerState(base?: PeerState): PeerState {
    const d = this;
    return {
      hasSleepers: () => d.yielding || (base !== undefined && base.hasSleepers()),
      get lastWakeMs(): number | undefined {
        return d.yielding ? undefined : base?.lastWakeMs;
      },
    };
  }

  /**
   * A Sleeper that feeds this detector with every sleep it does (wrap the idle loop's sleeper with it);
   * `fullSpin()` tells whether the spin before the sleep ran its whole budget.
   */
  watch(inner: Sleeper, fullSpin: () => boolean = () => false): Sleeper {
    const d = this;
    return {
      seq: () => inner.seq(),
      sleep(seen: number, timeoutMs?: number): SleepResult {
        const t0 = performance.now();
        const r = inner.sleep(seen, timeoutMs);
        // 'not-equal': it did not sleep (the peer rang before): no evidence either way
        if (r !== 'not-equal') d.slept((performance.now() - t0) * 1000, r === 'ok', fullSpin());
        return r;
      },
      get lastWakeUs(): number {
        return inner.lastWakeUs;
      },
    };
  }
}
