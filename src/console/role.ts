/**
 * What the two console roles (device and driver) keep the same way, so it is written once:
 *
 * - the receiver of each port's data and its pause flag (onData() replaces the receiver, a receiver that returns
 *   false pauses the port, resume() un-pauses it and runs the work loop again);
 * - the error record: every error the peer caused is counted in stats.errors by code, kept as lastError and passed
 *   to onError, never thrown; a broken virtqueue rule is recorded as QUEUE_BROKEN;
 * - the work loop: rounds run until no re-entrant call (a receiver that writes) asks for another, at most 64, so a
 *   peer that keeps answering cannot hold the caller forever.
 */
import type { VirtioError } from '../virtio/index.js';
import { ConsoleError, ConsoleErrorCode } from './errors.js';
import { countError, emptyStats, type ConsoleStats } from './stats.js';

/** Rounds of the work loop per call (a re-entrant call only marks one more). */
const MAX_ROUNDS = 64;

/** The part of a port both roles keep alike: who takes its data, and whether that receiver is full. */
export interface PortReceiver {
  /** Gets a view into shared memory, valid only during the call; returns false when the reader is full. */
  sink: (data: Uint8Array) => boolean;
  /** The receiver is full: the role stops consuming the port's queue until resume. */
  paused: boolean;
}

export class ConsoleRoleCore {
  readonly stats: ConsoleStats = emptyStats();
  lastError: ConsoleError | undefined;
  /** Buffers and messages handled so far; run() returns how many a call handled. */
  handled = 0;
  private inService = false;
  private again = false;

  /**
   * @param round one pass over the role's queues
   * @param active whether the role is still activated (a round may reset it)
   */
  constructor(
    private readonly onError: ((e: ConsoleError) => void) | undefined,
    private readonly round: () => void,
    private readonly active: () => boolean,
  ) {}

  /** Runs rounds (none while not activated) until nothing moves; a re-entrant call only marks another round. Returns what was handled. */
  run(): number {
    if (!this.active()) return 0;
    if (this.inService) {
      this.again = true;
      return 0;
    }
    this.inService = true;
    const before = this.handled;
    try {
      let rounds = 0;
      do {
        this.again = false;
        this.round();
      } while (this.again && ++rounds < MAX_ROUNDS && this.active());
    } finally {
      this.inService = false;
    }
    return this.handled - before;
  }

  /** onData(): `fn` replaces the port's receiver. */
  setReceiver(p: PortReceiver, fn: (data: Uint8Array) => boolean): void {
    p.sink = fn;
  }

  /** resume(): a port paused by its receiver takes data again; the work loop runs to consume what waited. */
  resume(p: PortReceiver): void {
    if (!p.paused) return;
    p.paused = false;
    this.run();
  }

  /** A virtqueue rule the peer broke (thrown by pop / popUsed), recorded as QUEUE_BROKEN. */
  queueBroken(queue: number, e: VirtioError): void {
    this.fail(ConsoleErrorCode.QUEUE_BROKEN, `queue ${queue}: ${e.message}`, { queue, virtio: e.code });
  }

  fail(code: ConsoleErrorCode, message: string, details: Record<string, unknown> = {}): void {
    this.record(new ConsoleError(code, message, details));
  }

  record(e: ConsoleError): void {
    countError(this.stats, e.code);
    this.lastError = e;
    this.onError?.(e);
  }
}
