/**
 * Bulk byte copies between typed arrays: every payload copy of a hot path (into or out of shared memory) goes through
 * `copyBytes`.
 *
 * Why: V8 copies a SharedArrayBuffer with a relaxed-atomic word loop (TypedArray.prototype.set, Buffer.copy,
 * copyWithin alike), about 10 GB/s on our 2-core Xeon VMs, where the C library's memmove reaches 20+ GB/s. The
 * native addon (native/shm.cc `copyBytes`) is a bounds-checked memmove; this module decides when to use it.
 *
 * How it reaches this layer: src/virtio imports nothing of ours but src/errors, and the devices (rpmsg, vsock,
 * console) may not import the platform (src/host). So the lowest layer owns "copy bytes" with a default that needs
 * nothing (TypedArray.set), and `installCopyBytes` is the one installation point: the entry points of a thread or
 * process (CLI, partition and bench workers, partition processes, the OpenAMP session) install it once through
 * src/transport/thread-hooks.ts: `installCopyBytes(nativeCopyBytes())` (src/host/native-copy.ts loads the addon, or
 * returns undefined when it is absent or disabled with TZ_VIRTIO_NO_NATIVE_COPY=1). A module-level slot per thread (each worker has its own
 * module instance, so each installs for itself), set once at start-up: the hot path reads one variable.
 *
 * Ordering: a payload in shared memory is published by its writer with an Atomics store of a ring index (or flag)
 * and read after an Atomics.load of it (VIRTIO 1.2 §2.7.13, §2.7.8 via memory.ts); the copy itself is plain loads and
 * stores either way, as V8's own copy is.
 */
import { VirtioError, VirtioErrorCode } from './errors.js';

/** A memmove of `length` bytes from src[srcOffset..] to dst[dstOffset..], overlap allowed; bounds already checked. */
export type CopyBytesFn = (dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number) => void;

/**
 * Copies shorter than this go through TypedArray.set even when the native copy is installed: the crossover measured
 * on this project's 2-core Xeon VM (Node 20, glibc 2.36; copies out of a SharedArrayBuffer another thread has just
 * written, medians of 7 x 64 copies, ns per copy; docs/benchmarks.md "Copying shared memory"):
 *
 *   bytes               256   512   1 KiB  2 KiB  4 KiB  64 KiB
 *   subarray + set      111   127   206    351    318    4225
 *   set of a made view   54    90   175    333    274    4207
 *   addon memmove        77   100   161    199    272    3132
 *
 * One addon call costs ~50 ns. From 1 KiB on the memmove is never slower than either form of set (2 KiB 1.7x,
 * 64 KiB 1.35x); below it, set of a view the caller already holds wins. So: 1 KiB.
 */
export const NATIVE_COPY_MIN_BYTES = 1024;

/** The installed native copy, or undefined (TypedArray.set only). */
let nativeCopy: CopyBytesFn | undefined;

/**
 * Installs (or with undefined, removes) the native copy for this thread. Returns the previous one, so that tests can
 * restore it.
 */
export function installCopyBytes(fn: CopyBytesFn | undefined): CopyBytesFn | undefined {
  const prev = nativeCopy;
  nativeCopy = fn;
  return prev;
}

/** Which copy large payloads take on this thread: 'native' (memmove in the addon) or 'typed-array-set'. */
export function copyBytesImplementation(): 'native' | 'typed-array-set' {
  return nativeCopy === undefined ? 'typed-array-set' : 'native';
}

/**
 * Copies src[srcOffset, srcOffset+length) to dst[dstOffset..] (byte offsets; dst and src may be views of the same
 * buffer with overlapping ranges: the result is as if the source were copied out first, as TypedArray.set does).
 * A range that is not wholly inside its array throws VirtioError(COPY_OUT_OF_RANGE) and copies nothing.
 */
export function copyBytes(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  if (
    !(Number.isInteger(length) && Number.isInteger(dstOffset) && Number.isInteger(srcOffset)) ||
    length < 0 ||
    dstOffset < 0 ||
    srcOffset < 0 ||
    dstOffset + length > dst.length ||
    srcOffset + length > src.length
  ) {
    throw outOfRange(dst, dstOffset, src, srcOffset, length);
  }
  const fn = nativeCopy;
  if (fn !== undefined && length >= NATIVE_COPY_MIN_BYTES) fn(dst, dstOffset, src, srcOffset, length);
  else if (srcOffset === 0 && length === src.length) dst.set(src, dstOffset);
  else dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
}

function outOfRange(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): VirtioError {
  return new VirtioError(
    VirtioErrorCode.COPY_OUT_OF_RANGE,
    `copy of ${String(length)} bytes from offset ${String(srcOffset)} of ${src.length} to offset ${String(dstOffset)} of ${dst.length}: ` +
      'offsets and length must be integers >= 0 and both ranges inside their arrays',
    { length, srcOffset, srcLength: src.length, dstOffset, dstLength: dst.length },
  );
}
