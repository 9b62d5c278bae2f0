/**
 * Lazy loader of the tz_shm addon (native/shm.cc, built by scripts/build-native.mjs during `npm install`).
 *
 * Nothing loads it until a process feature asks, so the in-process modes never depend on it. When it is missing or
 * does not load, `loadNative()` throws HostError(NATIVE_UNAVAILABLE) with the reason recorded by the build script
 * (or the loader's own error) and the command that rebuilds it.
 *
 * Once loaded by any thread the addon pins itself in the process (dlopen RTLD_NODELETE in its init), so a mapping that
 * outlives the worker that made it still finds its unmap code when V8 frees it.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HostError, HostErrorCode } from './errors.js';

/** The addon's functions, exactly as native/shm.cc exports them. */
export interface NativeShm {
  /** Maps `path` MAP_SHARED; size 0 = the whole existing file. flags: 1 create, 2 grow with ftruncate, 4 exclusive. */
  map(path: string, size: number, flags: number): SharedArrayBuffer;
  /** 0 woken, 1 value differed, 2 timed out, 3 interrupted by a signal. timeoutMs < 0 = no limit. */
  futexWait(sab: SharedArrayBuffer, byteOffset: number, expected: number, timeoutMs: number): 0 | 1 | 2 | 3;
  futexWake(sab: SharedArrayBuffer, byteOffset: number, count: number): number;
  unlink(path: string): void;
  /** ABI 2 and later: the kick-socket calls below (undefined in an ABI 1 build). */
  readonly abiVersion: number;
  /** A non-blocking listening AF_UNIX stream socket at `path`. */
  kickListen?(path: string): number;
  /** The accepted peer's fd (non-blocking), or -1 when none is waiting yet. */
  kickAccept?(listenFd: number): number;
  /** A connected non-blocking fd; throws with code ENOENT / ECONNREFUSED / EAGAIN while the server is not up. */
  kickConnect?(path: string): number;
  /** Sleeps in ppoll until kick bytes arrive or timeoutMs (< 0: no limit); drains them. > 0 bytes, 0 none, -1 peer closed. */
  pollKick?(fd: number, timeoutMs: number): number;
  /** One kick byte, never blocking: 1 sent, 0 coalesced (socket full of unread kicks), -1 peer gone. */
  sendKick?(fd: number): number;
  closeFd?(fd: number): void;
  /** ABI 3 and later: the vhost-user calls below (native/vhost.cc; undefined in older builds). */
  /** A connected AF_UNIX stream pair, both ends non-blocking and close-on-exec. */
  socketPair?(): [number, number];
  /**
   * recvmsg with SCM_RIGHTS into `buf`: [n, ctrunc, ...fds]; n > 0 bytes read, 0 peer closed, -1 nothing yet.
   * ctrunc is 1 when the peer sent more than `maxFds` fds (the kernel dropped the rest). Received fds are close-on-exec.
   */
  recvMsg?(fd: number, buf: Uint8Array, maxFds: number): number[];
  /** sendmsg of all of `buf` with `fds` attached (SCM_RIGHTS); waits up to ~5 s while the socket is full. -1 = peer gone. */
  sendMsg?(fd: number, buf: Uint8Array, fds: readonly number[]): number;
  /** mmap(MAP_SHARED) of [offset, offset+length) of the regular file behind `fd`; offset page-aligned; never past EOF. */
  mapFd?(fd: number, offset: number, length: number): SharedArrayBuffer;
  /** Drops the file behind a mapFd() buffer now (its pages become private zero pages); false for any other buffer. */
  releaseMapping?(sab: SharedArrayBuffer): boolean;
  /** eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC). */
  eventFd?(): number;
  /** One 8-byte write of `value` (default 1): 1 written, 0 would block, -1 peer gone. */
  writeU64?(fd: number, value?: number): number;
  /** Reads everything queued: bytes (> 0), 0 nothing, -1 peer closed. */
  drainFd?(fd: number): number;
  /** Watches `fd` on this thread's event loop: callback(1) when readable, callback(2) on error or hang-up. Returns an id. */
  watchFd?(fd: number, callback: (what: number) => void): number;
  /** Stops and frees a watcher; false when the id is unknown. */
  unwatchFd?(id: number): boolean;
  /**
   * ABI 4 and later: memmove of `length` bytes from src[srcOffset..] to dst[dstOffset..] (byte offsets into typed
   * arrays over an ArrayBuffer or a SharedArrayBuffer, overlap allowed). A range past either end throws a RangeError
   * with code ERR_TZ_COPY_OUT_OF_RANGE and copies nothing. Installed through native-copy.ts.
   */
  copyBytes?(dst: ArrayBufferView, dstOffset: number, src: ArrayBufferView, srcOffset: number, length: number): void;
}

/** The ABI this source tree builds; an addon of an older ABI still loads (its newer calls are undefined). */
export const NATIVE_ABI_VERSION = 4;
/** Oldest ABI the loader accepts (map, futexWait/futexWake, unlink). */
export const NATIVE_MIN_ABI_VERSION = 1;
export const REBUILD_HINT = 'rebuild it with `node scripts/build-native.mjs` (needs Linux, g++, make, python3, Node headers)';

let cached: NativeShm | undefined;
let failure: HostError | undefined;

/** The package root, found by walking up from this file (src/host or dist/src/host) to package.json. */
function packageRoot(): URL {
  let dir = new URL('./', import.meta.url);
  for (let i = 0; i < 6; i++) {
    if (existsSync(fileURLToPath(new URL('package.json', dir)))) return dir;
    dir = new URL('../', dir);
  }
  return new URL('../../', import.meta.url);
}

function buildReason(root: URL): string | undefined {
  try {
    const s = JSON.parse(readFileSync(fileURLToPath(new URL('build/tz_shm.status.json', root)), 'utf8')) as { ok?: boolean; reason?: string };
    return s.ok === false && typeof s.reason === 'string' ? s.reason : undefined;
  } catch {
    return undefined;
  }
}

/** Loads the addon once; throws HostError(NATIVE_UNAVAILABLE) saying why when it cannot. */
export function loadNative(): NativeShm {
  if (cached !== undefined) return cached;
  if (failure !== undefined) throw failure;
  const root = packageRoot();
  const file = fileURLToPath(new URL('build/Release/tz_shm.node', root));
  let reason: string;
  if (process.env['TZ_VIRTIO_NO_NATIVE'] !== undefined && process.env['TZ_VIRTIO_NO_NATIVE'] !== '') {
    reason = 'TZ_VIRTIO_NO_NATIVE is set (the addon is disabled on purpose)';
  } else if (process.platform !== 'linux') {
    reason = `platform ${process.platform} is not supported (the addon is Linux-only)`;
  } else if (!existsSync(file)) {
    const why = buildReason(root);
    reason = `${file} is missing${why !== undefined ? ` (the build failed: ${why})` : ' (it was never built)'}`;
  } else {
    try {
      const mod = createRequire(import.meta.url)(file) as NativeShm;
      if (typeof mod.abiVersion !== 'number' || mod.abiVersion < NATIVE_MIN_ABI_VERSION || mod.abiVersion > NATIVE_ABI_VERSION) {
        reason = `${file} has ABI version ${String(mod.abiVersion)}, expected ${NATIVE_MIN_ABI_VERSION}..${NATIVE_ABI_VERSION}`;
      } else {
        cached = mod;
        return mod;
      }
    } catch (e) {
      reason = `${file} does not load: ${(e as Error).message}`;
    }
  }
  failure = new HostError(
    HostErrorCode.NATIVE_UNAVAILABLE,
    `the native shared-memory addon is unavailable: ${reason}; ${REBUILD_HINT}`,
    { file, reason },
  );
  throw failure;
}

/** True when the addon loads (never throws). */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}
