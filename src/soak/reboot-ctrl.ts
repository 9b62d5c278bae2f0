/** The control words and worker data shared by reboot.ts and reboot-worker.ts (kept apart: importing the worker
 * module would run it). */
import type { RpmsgLayout } from '../rpmsg/index.js';

/** Control words. */
export const R_STOP = 0;
export const R_SECURE_BELL = 1;
export const R_NS_BELL = 2;
/** Highest cumulative acknowledgement the (current) sender has seen: what "acknowledged" means for the checker. */
export const R_ACKED = 3;
/** Secure loop iterations (its heartbeat). */
export const R_SECURE_BEAT = 4;
export const R_WORDS = 8;

export const KIND_RESUME = 3;

export interface RebootWorkerData {
  readonly role: 'secure' | 'nonsecure';
  readonly region: SharedArrayBuffer;
  readonly layout: RpmsgLayout;
  readonly ctrl: SharedArrayBuffer;
  readonly messages: number;
  readonly window: number;
  readonly seed: number;
  /** Boot number of the non-secure partition (0 first boot). */
  readonly boot: number;
}

