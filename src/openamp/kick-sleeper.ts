/**
 * What the OpenAMP session loop sleeps on (a src/sync Sleeper): the futex doorbell of a linked tz-virtio peer
 * (./futex-link.ts), else the kick socket (ppoll in the addon). It also counts where the side slept, for the
 * question "where does our remote sleep while the C host kicks".
 *
 * On the futex the peer's departure is not seen (the socket closes, nobody rings): a futex sleep lasts at most
 * FUTEX_SLICE_MS, after which the socket is looked at without blocking; a leaving tz-virtio peer also rings once.
 */
import type { SleepResult, Sleeper } from '../sync/doorbell.js';
import type { BlockingKickChannel } from '../host/kick-channel.js';
import type { FutexLink } from './futex-link.js';

/** Longest single futex sleep before the socket is checked for a departed peer, ms. */
export const FUTEX_SLICE_MS = 50;

/** Where and how the session slept (counters since it opened). */
export interface SessionWaitStats {
  /** Sleeps on the kick socket / on the futex doorbell. */
  readonly socketSleeps: number;
  readonly futexSleeps: number;
  /** Socket sleeps ended by a kick / by their timeout. */
  readonly kickWakes: number;
  readonly socketTimeouts: number;
  /** Futex sleeps ended by the peer's ring / by their time slice or timeout / at once (seq had moved). */
  readonly futexWakes: number;
  readonly futexTimeouts: number;
  readonly futexNotEqual: number;
  /** Time spent asleep, µs, and the kick bytes read. */
  readonly asleepUs: number;
  readonly kicksRead: number;
}

export class KickSleeper implements Sleeper {
  lastWakeUs = -1;
  /** Set when a look at the socket found the peer gone. */
  peerGone = false;
  private futex = false;
  socketSleeps = 0;
  futexSleeps = 0;
  kickWakes = 0;
  socketTimeouts = 0;
  futexWakes = 0;
  futexTimeouts = 0;
  futexNotEqual = 0;
  asleepUs = 0;
  kicksRead = 0;

  constructor(
    private readonly kicks: BlockingKickChannel,
    private readonly link: FutexLink | undefined,
  ) {}

  /** Whether the sleeps go to the futex doorbell (decided in seq(), before the last look for work). */
  get onFutex(): boolean {
    return this.futex;
  }

  seq(): number {
    const link = this.link;
    if (link === undefined) return 0;
    if (!this.futex) this.futex = link.enterFutexMode();
    return this.futex ? link.bell.seq() : 0;
  }

  sleep(seen: number, timeoutMs = Number.POSITIVE_INFINITY): SleepResult {
    const t0 = performance.now();
    let r: SleepResult;
    if (this.futex) {
      const bell = this.link!.bell;
      this.futexSleeps++;
      r = bell.sleep(seen, Math.min(timeoutMs, FUTEX_SLICE_MS));
      this.lastWakeUs = bell.lastWakeUs;
      if (r === 'ok') this.futexWakes++;
      else if (r === 'not-equal') this.futexNotEqual++;
      else {
        this.futexTimeouts++;
        this.look(0);
      }
    } else {
      this.socketSleeps++;
      this.lastWakeUs = -1;
      const k = this.look(timeoutMs);
      r = k > 0 ? 'ok' : 'timed-out';
      if (k > 0) this.kickWakes++;
      else if (k === 0) this.socketTimeouts++;
    }
    this.asleepUs += (performance.now() - t0) * 1000;
    return r;
  }

  /** Reads the socket (waiting up to timeoutMs): kick bytes, 0, or -1 when the peer has gone. */
  private look(timeoutMs: number): number {
    const k = this.kicks.waitKicks(timeoutMs);
    if (k < 0) this.peerGone = true;
    else this.kicksRead += k;
    return k;
  }

  stats(): SessionWaitStats {
    return {
      socketSleeps: this.socketSleeps,
      futexSleeps: this.futexSleeps,
      kickWakes: this.kickWakes,
      socketTimeouts: this.socketTimeouts,
      futexWakes: this.futexWakes,
      futexTimeouts: this.futexTimeouts,
      futexNotEqual: this.futexNotEqual,
      asleepUs: Math.round(this.asleepUs),
      kicksRead: this.kicksRead,
    };
  }
}
