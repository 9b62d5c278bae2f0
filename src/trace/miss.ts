/**
 * Why a real-time job missed its deadline, from what the secure executive saw around it (rules in events.ts,
 * first match wins). `wake` describes the executive's last wait before the job started: when it meant to wake
 * (the release minus the wake lead), when the OS actually ended the wait, and (one core) when the monitor had the
 * core back from the non-secure world.
 */
import { MissCause, type MissCauseCode } from './events.js';

export interface WakeRecord {
  /** Absolute µs the wait was meant to end (release - lead); NaN when the executive did not wait. */
  readonly wantedUs: number;
  /** Absolute µs the wait ended. */
  readonly wokeUs: number;
  /** One core: absolute µs the secure world held the core again (after the non-secure world parked or timed out). */
  readonly coreBackUs: number;
  /** One core: the non-secure world did not park within the preemption timeout. */
  readonly preemptTimeout: boolean;
}

export interface MissFacts {
  readonly releaseUs: number;
  readonly startUs: number;
  readonly endUs: number;
  readonly deadlineUs: number;
  /** Typical execution time of this task's jobs (µs), e.g. the median so far. */
  readonly typicalExecUs: number;
}

/** A job whose execution took more than this many times its typical time plus STALL_SLACK_US is "stalled". */
const STALL_FACTOR = 3;
const STALL_SLACK_US = 50;

export function classifyMiss(f: MissFacts, wake: WakeRecord | undefined): MissCauseCode {
  const exec = f.endUs - f.startUs;
  if (exec > f.deadlineUs) return MissCause.OVERRUN;
  if (wake !== undefined && wake.wokeUs <= f.startUs) {
    // the wait that preceded this job
    if (wake.coreBackUs > f.releaseUs && wake.wokeUs <= f.releaseUs) return MissCause.NS_HELD_CORE;
    if (wake.preemptTimeout) return MissCause.NS_HELD_CORE;
    if (Number.isFinite(wake.wantedUs) && wake.wantedUs <= f.releaseUs && wake.wokeUs > f.releaseUs) return MissCause.DESCHEDULED;
    if (wake.wokeUs < f.releaseUs && f.startUs - f.releaseUs > exec) return MissCause.LATE_RELEASE;
  }
  if (exec > STALL_FACTOR * f.typicalExecUs + STALL_SLACK_US) return MissCause.STALLED;
  if (f.startUs - f.releaseUs > exec) return MissCause.LATE_RELEASE;
  return MissCause.UNKNOWN;
}
