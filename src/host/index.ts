/** OS facilities for cross-process operation: mapped shared files, futex wake-ups, socket kicks. */
export * from './errors.js';
export { loadNative, nativeAvailable, REBUILD_HINT, NATIVE_ABI_VERSION, NATIVE_MIN_ABI_VERSION, type NativeShm } from './native.js';
export * from './shm.js';
export * from './futex.js';
export * from './kick-channel.js';
export * from './kick-socket.js';
export * from './native-kick.js';
export { nativeCopyBytes, nativeCopyStatus, NO_NATIVE_COPY_ENV, type NativeCopyFn } from './native-copy.js';
export { loadVhostNative, vhostNativeAvailable, type VhostNative } from './native-vhost.js';
