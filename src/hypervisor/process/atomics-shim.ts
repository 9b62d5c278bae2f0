/**
 * Cross-process Atomics.wait/notify for the control blocks of a process-isolated machine.
 *
 * V8's Atomics.wait keeps its own in-process list of waiters, so an Atomics.notify in one OS process never wakes a
 * waiter in another, even on a SharedArrayBuffer that maps the same file. The partition code (SecureCore,
 * NonSecureCore, ring() in ../ctl.ts) waits and rings with Atomics on the control words. Rather than change that code,
 * the partition's worker installs this shim before it loads: for typed arrays over the listed buffers (the mapped
 * control blocks), Atomics.wait becomes a shared futex wait on the word and Atomics.notify additionally does a
 * shared futex wake (native/shm.cc: FUTEX_WAIT/FUTEX_WAKE without FUTEX_PRIVATE_FLAG, keyed by the file page, so
 * they meet across processes). Every other buffer keeps V8's behaviour.
 *
 * The futex wait checks `word === expected` atomically with going to sleep, so a ring between the caller's load of
 * the doorbell and the wait is never lost (the same contract as Atomics.wait).
 */
import { loadNative } from '../../host/native.js';

type WaitResult = 'ok' | 'not-equal' | 'timed-out';
type Waiter = (ta: Int32Array, index: number, value: number, timeout?: number) => WaitResult;
type Notifier = (ta: Int32Array, index: number, count?: number) => number;

const INSTALLED = Symbol.for('tz-virtio.crossProcessAtomics');

/** Routes Atomics.wait/notify on Int32Arrays over `buffers` through shared futexes. Idempotent per thread. */
export function installCrossProcessAtomics(buffers: readonly SharedArrayBuffer[]): void {
  const native = loadNative(); // throws HostError(NATIVE_UNAVAILABLE) with the reason
  const g = globalThis as unknown as Record<symbol, Set<SharedArrayBuffer> | undefined>;
  const existing = g[INSTALLED];
  if (existing !== undefined) {
    for (const b of buffers) existing.add(b);
    return;
  }
  const set = new Set<SharedArrayBuffer>(buffers);
  g[INSTALLED] = set;
  const A = Atomics as unknown as { wait: Waiter; notify: Notifier };
  const wait0 = A.wait.bind(Atomics);
  const notify0 = A.notify.bind(Atomics);
  A.wait = (ta, index, value, timeout) => {
    if (ta instanceof Int32Array && set.has(ta.buffer as SharedArrayBuffer)) {
      if (!Number.isInteger(index) || index < 0 || index >= ta.length) throw new RangeError('Atomics.wait: index out of range');
      const ms = timeout === undefined || Number.isNaN(timeout) || timeout === Infinity ? -1 : Math.max(0, timeout);
      const r = native.futexWait(ta.buffer as SharedArrayBuffer, ta.byteOffset + index * 4, Number(value) >>> 0, ms);
      // 3 = EINTR: a spurious wake-up, which every caller of Atomics.wait already tolerates (it re-checks its word).
      return r === 1 ? 'not-equal' : r === 2 ? 'timed-out' : 'ok';
    }
    return wait0(ta, index, value, timeout);
  };
  A.notify = (ta, index, count) => {
    const local = notify0(ta, index, count);
    if (ta instanceof Int32Array && set.has(ta.buffer as SharedArrayBuffer)) {
      const n = count === undefined || count === Infinity ? 0x7fffffff : Math.max(0, Math.floor(count));
      return local + native.futexWake(ta.buffer as SharedArrayBuffer, ta.byteOffset + index * 4, n);
    }
    return local;
  };
}

/** Rings a doorbell word of a mapped control block from a thread without the shim (the hypervisor process). */
export function ringShared(words: Int32Array, index: number): void {
  Atomics.add(words, index, 1);
  Atomics.notify(words, index);
  loadNative().futexWake(words.buffer as SharedArrayBuffer, words.byteOffset + index * 4, 0x7fffffff);
}
