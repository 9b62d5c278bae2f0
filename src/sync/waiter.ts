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
 *
 * What the waiter sleeps on is a Sleeper: a Doorbell (threads, or processes through futex ops), or a kick socket.
 */
import type { Doorbell, SleepResult, Sleeper } from './doorbell.js';
import { SpinBudget, type SpinBudgetOptions } from './spin-budget.js';
import type { WaitPolicy } from './policy.js';
import { runQueueNs } from './run-queue.js';

/**
 * What a peer-aware waiter knows of its peer: the peer's doorbell as seen by the side that rings it. The peer is
 * asleep when it has sleepers AND we did not wake it within the wake grace: a peer we just woke sleeps on in the
 * sleeper count until the kernel runs it (tens of µs), and treating that as "asleep" would put both sides to sleep
 * after every window: one futex round trip per window of messages instead of a continuous flow.
 */
export type PeerState = Pick<Doorbell, 'hasSleepers'> & { readonly lastWakeMs?: number };

export interface WaiterOptions extends SpinBudgetOptions {
  /**
   * The peer's doorbell (policy 'peer-aware'): its sleeper count tells whether the peer is awake. A peer that sleeps
   * (and that we did not just wake) waits for us and will produce nothing, so the waiter stops spinning at once.
   */
  readonly peer?: PeerState;
  /** Policy 'peer-aware': spin budget while the peer is awake, ms (e.g. IDLE_HOST_SPIN_CEILING_MS). Default: the normal budget. */
  readonly peerAwareCeilingMs?: number;
}

/** Idle passes between two clock reads while spinning (a power of two). */
const CLOCK_EVERY = 8;
/**
 * Policy 'peer-aware' on a crowded machine. Spinning on a CPU other threads want is the slowest policy there is:
 * the scheduler takes the CPU back in whole time slices (ms) while the peer waits for what we would have done, and a
 * spinner loses the wake-up preference a sleeper has. Measured on a 2-core VM with two busy loops (rpmsg and
 * virtqueue, 64 B and 4 KiB, multi-core): peer-aware 0.13-0.9 M msg/s against block's 1.3-4.2 M. So a peer-aware
 * waiter looks at the fraction of wall time its thread waited for a CPU (./run-queue.ts) at most every
 * LOAD_CHECK_MS; above CROWDED_ENTER in CROWDED_WINDOWS checks in a row it sleeps as soon as it is idle (block),
 * below CROWDED_LEAVE it spins again. The signal does not depend on what the waiter does (a woken sleeper waits on a
 * crowded machine too: 17-35 % under block with the busy loops, 2 % quiet), so no probing is needed to find the way
 * back. A quiet machine has bursts too: a fresh worker's first few hundred ms share the CPUs with V8's compiler
 * threads (20-47 % for up to five 20 ms windows in a row in quiet bench trials), hence eight windows in a row.
 */
export const LOAD_CHECK_MS = 20;
export const CROWDED_WINDOWS = 8;
export const CROWDED_ENTER = 0.15;
export const CROWDED_LEAVE = 0.08;
/** Longest wait for a peer we woke to run again before it counts as asleep, ms. */
export const WAKE_GRACE_CEILING_MS = 0.25;
const PEER_AWAKE = 0;
const PEER_WAKING = 1;
const PEER_ASLEEP = 2;

export class Waiter {
  readonly budget: SpinBudget;
  private spinUntil = -1;
  /** Idle passes in the current episode (the clock is read every CLOCK_EVERY of them). */
  private turns = 0;
  private readonly peer: PeerState | undefined;
  /** Idle episodes that ended while spinning (no sleep) / that slept. */
  spinHits = 0;
  spinMisses = 0;
  /** Spins cut short because the peer was asleep (policy 'peer-aware'). */
  peerAsleepCuts = 0;
  /** Policy 'peer-aware': the machine is crowded (sleep as soon as idle), and how often it became so. */
  crowded = false;
  crowdedSpells = 0;
  private nextLoadCheck = 0;
  /** Load checks in a row above CROWDED_ENTER. */
  private overWindows = 0;
  private loadAtNs = -1;
  private loadAtMs = 0;
  /** What the last sleep returned ('not-equal' also when it did not sleep). */
  lastSleep: SleepResult = 'not-equal';

  constructor(
    readonly bell: Sleeper,
    readonly policy: WaitPolicy,
    o: WaiterOptions = {},
  ) {
    this.peer = o.peer;
    // peer-aware: the same budget as spin-then-block unless `peerAwareCeilingMs` asks for a longer spin while the
    // peer runs (docs/benchmarks.md: a 500 µs ceiling lost 2-5x in multi-core throughput on a loaded host)
    this.budget = new SpinBudget(policy === 'peer-aware' && o.peer !== undefined && o.peerAwareCeilingMs !== undefined ? { ...o, minMs: o.peerAwareCeilingMs, maxMs: o.peerAwareCeilingMs } : o);
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
    if (this.crowded && this.stillCrowded(performance.now())) {
      // crowded machine: sleep at once, as 'block' does
    } else if (policy !== 'block') {
      // The clock (performance.now(), ~30-60 ns) is read every CLOCK_EVERY idle passes, the first time at the
      // CLOCK_EVERY-th pass of an episode (its deadline is set then): a spinning side looks at its rings more often
      // and sees new work sooner, and the many short episodes of a busy side never read the clock. A peer seen
      // asleep is looked at with the clock at once.
      const start = this.spinUntil < 0;
      if (start) {
        this.spinUntil = Number.POSITIVE_INFINITY;
        this.turns = 0;
      }
      if (start || (++this.turns & (CLOCK_EVERY - 1)) !== 0) {
        if (policy !== 'peer-aware' || this.peer === undefined || !this.peer.hasSleepers()) return false;
      }
      const now = performance.now();
      if (this.spinUntil === Number.POSITIVE_INFINITY) this.spinUntil = now + this.budget.ms;
      const phase = policy !== 'peer-aware' ? PEER_AWAKE : this.stillCrowded(now) ? PEER_ASLEEP : this.peerPhase(now);
      if (phase === PEER_WAKING) {
        // The peer we woke is on its way and brings the work we wait for: spin on, a full budget past this moment
        // (bounded by the wake grace). Sleeping now is how two sides lock into one futex round trip per window.
        const until = now + this.budget.ms;
        if (until > this.spinUntil) this.spinUntil = until;
        return false;
      }
      if (now < this.spinUntil) {
        if (phase === PEER_AWAKE) return false;
        this.peerAsleepCuts++;
      }
    }
    this.spinUntil = -1;
    if (!arm()) return false;
    this.spinMisses++;
    this.lastSleep = this.bell.sleep(seen, timeoutMs);
    this.budget.record(this.bell.lastWakeUs);
    disarm();
    return true;
  }

  /**
   * The spin phase alone, for loops that sleep by themselves (the hypervisor's cores): polls `ready()` until it
   * holds (true) or the policy's spin ends (false): never for 'block', the spin budget for 'spin-then-block', the
   * budget while the peer is awake for 'peer-aware', `deadlineMs` (a performance.now() time; Infinity: until ready)
   * for 'poll'. The clock is read every 64 turns, so the loop allocates nothing.
   */
  spinFor(ready: () => boolean, deadlineMs: number): boolean {
    const policy = this.policy;
    if (policy === 'block') return false;
    const t0 = performance.now();
    const until = policy === 'poll' ? deadlineMs : Math.min(deadlineMs, t0 + this.budget.ms);
    const aware = policy === 'peer-aware';
    const peer = aware ? this.peer : undefined;
    for (let n = 1; ; n++) {
      if (ready()) {
        this.spinHits++;
        return true;
      }
      if (n === 1 && aware && this.stillCrowded(t0)) break;
      if ((n & 63) === 0) {
        const now = performance.now();
        if (now >= until || (aware && this.stillCrowded(now))) break;
        if (peer !== undefined && this.peerAsleep(now)) {
          this.peerAsleepCuts++;
          break;
        }
      }
    }
    this.spinMisses++;
    return false;
  }

  /**
   * Policy 'peer-aware': whether the machine is crowded, from this thread's run-queue wait since the last check (at
   * most every LOAD_CHECK_MS; between checks the last answer). Other policies never ask.
   */
  private stillCrowded(now: number): boolean {
    if (now < this.nextLoadCheck || this.policy !== 'peer-aware') return this.crowded;
    this.nextLoadCheck = now + LOAD_CHECK_MS;
    const q = runQueueNs();
    if (q < 0) {
      this.crowded = false;
      this.nextLoadCheck = Number.POSITIVE_INFINITY; // no probe on this thread: never crowded
      return false;
    }
    if (this.loadAtNs >= 0) {
      const f = (q - this.loadAtNs) / ((now - this.loadAtMs) * 1e6);
      this.overWindows = f > CROWDED_ENTER ? this.overWindows + 1 : 0;
      if (this.crowded) this.crowded = f > CROWDED_LEAVE;
      else if (this.overWindows >= CROWDED_WINDOWS) {
        this.crowded = true;
        this.crowdedSpells++;
      }
    }
    this.loadAtNs = q;
    this.loadAtMs = now;
    return this.crowded;
  }

  /** Policy 'peer-aware': the peer sleeps and was not woken by us within the wake grace (see peerPhase). */
  private peerAsleep(now: number): boolean {
    return this.peerPhase(now) === PEER_ASLEEP;
  }

  /**
   * Policy 'peer-aware': the peer runs, sleeps, or sleeps in the count but was woken by us within the wake grace:
   * twice the wake-up latency this side measures (a woken peer needs about as long as we do to run again), at least
   * the spin budget, at most WAKE_GRACE_CEILING_MS.
   */
  private peerPhase(now: number): number {
    const peer = this.peer;
    if (peer === undefined || !peer.hasSleepers()) return PEER_AWAKE;
    const woke = peer.lastWakeMs;
    if (woke === undefined) return PEER_ASLEEP;
    const b = this.budget;
    const twice = (2 * b.estimateUs) / 1000;
    const grace = twice > WAKE_GRACE_CEILING_MS ? WAKE_GRACE_CEILING_MS : twice > b.ms ? twice : b.ms;
    return now - woke < grace ? PEER_WAKING : PEER_ASLEEP;
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
