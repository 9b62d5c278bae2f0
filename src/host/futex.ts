/**
 * Cross-process wait/wake on a 32-bit word of a mapped SharedArrayBuffer (Linux futex, *shared*, not private).
 *
 * Atomics.wait/notify only reach threads of the same process (V8 keeps its own waiter list), so a process that
 * sleeps on a word of a file mapped by another process needs the kernel's futex keyed by the page. The usual
 * protocol holds: the waker changes the word (Atomics.store / add) and then wakes; the waiter passes the value it
 * last saw, and the kernel returns at once ('not-equal') if the word has already changed, so no wake-up is lost.
 *
 * futexWait blocks the calling thread (like Atomics.wait): call it from a worker or a process that has nothing else
 * to do, never from a thread that must keep its event loop turning.
 */
import { HostError, HostErrorCode } from './errors.js';
import { loadNative } from './native.js';

export type FutexWaitResult = 'ok' | 'not-equal' | 'timed-out' | 'interrupted';
const RESULTS: readonly FutexWaitResult[] = ['ok', 'not-equal', 'timed-out', 'interrupted'];

function word(view: Int32Array | Uint32Array, index: number): { sab: SharedArrayBuffer; byteOffset: number } {
  if (!(view.buffer instanceof SharedArrayBuffer)) {
    throw new HostError(HostErrorCode.BAD_ARGUMENT, 'futex words must live in a SharedArrayBuffer');
  }
  if (!Number.isInteger(index) || index < 0 || index >= view.length) {
    throw new HostError(HostErrorCode.BAD_ARGUMENT, `futex index ${index} outside the view (${view.length} words)`, { index });
  }
  return { sab: view.buffer, byteOffset: view.byteOffset + index * 4 };
}

/**
 * Sleeps while view[index] === expected, until woken or `timeoutMs` passes (default: no limit). Spurious returns
 * ('ok' without a change, 'interrupted') are possible, as with any futex: re-check the word in a loop.
 */
export function futexWait(view: Int32Array | Uint32Array, index: number, expected: number, timeoutMs = Infinity): FutexWaitResult {
  const { sab, byteOffset } = word(view, index);
  const native = loadNative();
  try {
    return RESULTS[native.futexWait(sab, byteOffset, expected >>> 0, Number.isFinite(timeoutMs) ? Math.max(0, timeoutMs) : -1)]!;
  } catch (e) {
    throw new HostError(HostErrorCode.FUTEX_FAILED, `futex wait failed: ${(e as Error).message}`);
  }
}

/** Wakes up to `count` waiters (default all) sleeping on view[index], in any process; returns how many woke. */
export function futexWake(view: Int32Array | Uint32Array, index: number, count = 0x7fffffff): number {
  const { sab, byteOffset } = word(view, index);
  const native = loadNative();
  try {
    return native.futexWake(sab, byteOffset, count);
  } catch (e) {
    throw new HostError(HostErrorCode.FUTEX_FAILED, `futex wake failed: ${(e as Error).message}`);
  }
}
