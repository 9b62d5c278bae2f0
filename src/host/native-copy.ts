/**
 * The addon's bulk copy (native/shm.cc `copyBytes`, a bounds-checked memmove) for src/virtio/copy.ts.
 *
 * The host layer may not import src/virtio, so this module only hands the function out; an entry point installs it
 * (src/transport/thread-hooks.ts; see copy.ts for why). undefined, and so TypedArray.set
 * everywhere, when the addon is absent, of an ABI older than 4, or disabled: TZ_VIRTIO_NO_NATIVE_COPY=1 turns off
 * this copy only, TZ_VIRTIO_NO_NATIVE the whole addon.
 */
import { loadNative } from './native.js';

/** The environment variable that keeps the bulk copy on TypedArray.set (any non-empty value). */
export const NO_NATIVE_COPY_ENV = 'TZ_VIRTIO_NO_NATIVE_COPY';

/** Same shape as CopyBytesFn in src/virtio/copy.ts (bounds are checked again in C). */
export type NativeCopyFn = (dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number) => void;

/** Why the native copy is or is not used on this thread: 'native', or the reason it is not. */
export function nativeCopyStatus(): { readonly available: boolean; readonly reason: string } {
  const off = process.env[NO_NATIVE_COPY_ENV];
  if (off !== undefined && off !== '') return { available: false, reason: `${NO_NATIVE_COPY_ENV} is set` };
  try {
    const n = loadNative();
    if (typeof n.copyBytes !== 'function') return { available: false, reason: `the addon has ABI ${n.abiVersion}, copyBytes needs ABI 4` };
    return { available: true, reason: 'native' };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}

/** The addon's copyBytes, or undefined when it cannot or must not be used (never throws). */
export function nativeCopyBytes(): NativeCopyFn | undefined {
  if (!nativeCopyStatus().available) return undefined;
  return loadNative().copyBytes as NativeCopyFn;
}
