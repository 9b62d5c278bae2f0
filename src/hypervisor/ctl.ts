/**
 * Control words shared between threads (Int32 words in SharedArrayBuffers; Atomics only).
 *
 * Two blocks, so that the trust boundary follows the buffers:
 *
 *   shared block  (main, secure worker, non-secure worker) — the non-secure world's mailbox and doorbells:
 *     word 0  S_DOORBELL   sequence the secure core waits on; anyone who wants it to look (NS request, NS park,
 *                          stop) increments it and notifies. A spurious increment costs the secure side one look.
 *     word 1  NS_DOORBELL  sequence the non-secure core waits on (IRQ raised, core given back, stop).
 *     word 2  GATE         single core: the world the core was given to (0 secure, 1 non-secure). Written by the
 *                          secure monitor; the non-secure runtime reads it at every API boundary. It is writable by
 *                          the non-secure worker, and that is harmless: the secure side never reads it to decide
 *                          anything (its own ownership state is private), so forging it only lets the non-secure
 *                          guest run in secure time — which a guest that makes no API call does anyway.
 *     word 3  NS_STATE     written by the non-secure runtime: BOOT, RUNNING, PARKED, WFI, EXITED.
 *     word 4  NS_REQ       mailbox request bits (NOTIFY, YIELD), set with Atomics.or, taken by the secure side
 *                          with Atomics.exchange and validated there.
 *     word 5  NS_REQ_VQ    virtqueue bits of NOTIFY requests.
 *     word 6,7 NS_IRQ      pending group-1 lines 0..31 / 32..63 for the non-secure GIC (set by trusted code).
 *     word 8  NS_STOP      main → non-secure: stop.
 *     word 9  NS_PARKS     number of times the non-secure core parked.
 *     word 10 NS_RESET_ACK secure → non-secure: sequence, incremented when the secure device finished a reset the
 *                          non-secure driver asked for (mailbox RESET: the model's trapped device-reset write).
 *     word 20 S_SLEEPERS   threads sleeping on S_DOORBELL (src/sync Doorbell): the non-secure NOTIFY skips the
 *                          wake-up while the secure core runs. Writable by the non-secure worker: forging it only
 *                          delays that worker's own notifications (trusted rings, ring() below, always wake).
 *     word 21 NS_SLEEPERS  threads sleeping on NS_DOORBELL: the secure side's IRQ skips the wake-up while the
 *                          non-secure core runs (a busy peer costs no futex syscall across processes).
 *     word 22,23 S_STAMP, NS_STAMP  ring time of the doorbell that woke a sleeper (µs mod 2^31, src/sync).
 *     word 11 NS_BEAT      written by the non-secure runtime: its count of guest API calls (informative only: the
 *                          hypervisor names a partition that stopped calling into ctx when it does not stop).
 *     word 12 NS_TICK      written by the non-secure partition's boot code on its event loop (every ~200 ms): the
 *                          thread is not blocked in guest code even when the guest makes no API call (it awaits a
 *                          Node promise). With NS_BEAT and NS_STATE it feeds the hypervisor's progress watchdog;
 *                          forging it only hides the non-secure partition's own hang until the run's timeout.
 *     f64 16  NS_PARK_US   time of the last park (µs).
 *
 *   secure block  (main and secure worker only):
 *     word 0  S_STOP       main → secure: stop.
 *     word 1  S_PEER_RESET main → secure: sequence, incremented when the hypervisor reset the non-secure partition
 *                          (it died and is rebooted; the vdev status was reset). The secure core answers at its next
 *                          poll: its RPMsg device forgets the rings and waits for the new driver's DRIVER_OK.
 *     word 2  S_PEER_RESET_ACK  secure → main: the last S_PEER_RESET sequence handled.
 *     word 3  S_WAKE       a doorbell only trusted threads can ring: the secure core waits on it instead of
 *                          S_DOORBELL while non-secure notifications are masked (rate limit), so that a storm of
 *                          them cannot wake it; main rings it with stop and peer reset.
 *     word 4  S_STARTED    secure → main: 1 once the secure guest's main has been called (boot done).
 *     word 5  S_BEAT       secure → main: count of guest API boundaries and executive waits (the hypervisor names a
 *                          secure partition that stopped calling into ctx when it does not stop).
 *     word 6  S_TICK       secure → main: the secure partition's event loop turns (see NS_TICK).
 *     word 7  S_WAITING    secure → main: 1 while the secure core sleeps or spins in the executive's wait for an
 *                          event (a long legitimate wait moves no beat). The progress watchdog (machine.ts) sees a
 *                          secure partition stuck in guest code when none of S_BEAT, S_TICK moves and S_WAITING is 0.
 */
import { Doorbell } from '../sync/doorbell.js';

export const SHARED_CTL_BYTES = 256;
export const SECURE_CTL_BYTES = 64;

export const Ctl = {
  S_DOORBELL: 0,
  NS_DOORBELL: 1,
  GATE: 2,
  NS_STATE: 3,
  NS_REQ: 4,
  NS_REQ_VQ: 5,
  NS_IRQ0: 6,
  NS_IRQ1: 7,
  NS_STOP: 8,
  NS_PARKS: 9,
  NS_RESET_ACK: 10,
  S_SLEEPERS: 20,
  NS_SLEEPERS: 21,
  S_STAMP: 22,
  NS_STAMP: 23,
  NS_BEAT: 11,
  NS_TICK: 12,
} as const;

/** Float64 indices in the shared block. */
export const CtlF64 = {
  NS_PARK_US: 16,
} as const;

export const SecureCtl = {
  S_STOP: 0,
  S_PEER_RESET: 1,
  S_PEER_RESET_ACK: 2,
  S_WAKE: 3,
  S_STARTED: 4,
  S_BEAT: 5,
  S_TICK: 6,
  S_WAITING: 7,
} as const;

export const Gate = { SECURE: 0, NONSECURE: 1 } as const;
export const NsState = { BOOT: 0, RUNNING: 1, PARKED: 2, WFI: 3, EXITED: 4 } as const;
export const NsReq = { NOTIFY: 1, YIELD: 2, RESET: 4 } as const;
export const NS_REQ_KNOWN = NsReq.NOTIFY | NsReq.YIELD | NsReq.RESET;

export interface CtlBlocks {
  readonly shared: SharedArrayBuffer;
  readonly secure: SharedArrayBuffer;
}

export function allocateCtl(): CtlBlocks {
  return { shared: new SharedArrayBuffer(SHARED_CTL_BYTES), secure: new SharedArrayBuffer(SECURE_CTL_BYTES) };
}

/** The secure core's doorbell (S_DOORBELL with its sleeper count), as both cores see it. */
export function secureBell(ctl: Int32Array): Doorbell {
  return new Doorbell(ctl, Ctl.S_DOORBELL, Ctl.S_SLEEPERS, Ctl.S_STAMP);
}

/** The non-secure core's doorbell (NS_DOORBELL with its sleeper count). */
export function nonSecureBell(ctl: Int32Array): Doorbell {
  return new Doorbell(ctl, Ctl.NS_DOORBELL, Ctl.NS_SLEEPERS, Ctl.NS_STAMP);
}

/**
 * Increments a doorbell sequence and always wakes its waiter: for trusted rings (stop, peer reset, the monitor
 * giving the core away), which must not depend on a sleeper count the non-secure worker can write.
 */
export function ring(words: Int32Array, index: number): void {
  Atomics.add(words, index, 1);
  Atomics.notify(words, index);
}

/** Machine time in µs: CLOCK_MONOTONIC, the same clock in every worker of the process. */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}
