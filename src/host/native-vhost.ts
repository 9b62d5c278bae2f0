/**
 * The vhost-user calls of the native addon (ABI 3, native/vhost.cc), checked once: a back-end asks for them and gets
 * either all of them or HostError(NATIVE_UNAVAILABLE) saying why (addon missing, or built from an older tree).
 */
import { HostError, HostErrorCode } from './errors.js';
import { loadNative, REBUILD_HINT, type NativeShm } from './native.js';

export type VhostNative = Required<
  Pick<NativeShm, 'socketPair' | 'recvMsg' | 'sendMsg' | 'mapFd' | 'releaseMapping' | 'eventFd' | 'writeU64' | 'drainFd' | 'watchFd' | 'unwatchFd' | 'closeFd' | 'kickListen' | 'kickAccept'>
>;

export function loadVhostNative(): VhostNative {
  const n = loadNative();
  if (typeof n.recvMsg !== 'function' || typeof n.watchFd !== 'function' || typeof n.mapFd !== 'function' || typeof n.kickListen !== 'function') {
    throw new HostError(HostErrorCode.NATIVE_UNAVAILABLE, `the native addon (ABI ${n.abiVersion}) has no vhost-user calls (ABI 3); ${REBUILD_HINT}`, { abi: n.abiVersion });
  }
  return n as VhostNative;
}

/** True when the vhost-user calls load (never throws). */
export function vhostNativeAvailable(): boolean {
  try {
    loadVhostNative();
    return true;
  } catch {
    return false;
  }
}
