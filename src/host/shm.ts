/**
 * Files mapped MAP_SHARED into this process, exposed as real SharedArrayBuffers: usable with Atomics, passable to
 * worker_threads, and shared byte for byte with any other process (C or Node) that maps the same file. The
 * mapping lives as long as the SharedArrayBuffer does (munmap runs when V8 frees the last reference).
 *
 * On Linux, a path under /dev/shm is a POSIX shared-memory object: `shm_open("openamp.shm")` in C is the file
 * /dev/shm/openamp.shm here.
 */
import { ftruncateSync, openSync, unlinkSync } from 'node:fs';
import { HostError, HostErrorCode } from './errors.js';
import { loadNative } from './native.js';

export interface MapOptions {
  /** Bytes to map. Default: the file's current size (which must then be > 0). */
  readonly size?: number;
  /** Create the file (mode 0600) when it does not exist. Default true. */
  readonly create?: boolean;
  /** Fail when the file already exists. Default false. */
  readonly exclusive?: boolean;
  /** Grow a smaller file to `size` with ftruncate (new bytes read as zero; never shrinks). Default true. */
  readonly grow?: boolean;
}

const FLAG_CREATE = 1;
const FLAG_GROW = 2;
const FLAG_EXCLUSIVE = 4;

/** Maps `path` MAP_SHARED, read-write; throws HostError(MAP_FAILED) with the OS reason, or NATIVE_UNAVAILABLE. */
export function mapSharedFile(path: string, options: MapOptions = {}): SharedArrayBuffer {
  const size = options.size ?? 0;
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new HostError(HostErrorCode.BAD_ARGUMENT, `bad shared file path ${JSON.stringify(path)}`);
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new HostError(HostErrorCode.BAD_ARGUMENT, `bad map size ${size}`, { size });
  }
  const native = loadNative();
  let flags = 0;
  if (options.create ?? true) flags |= FLAG_CREATE;
  if (options.grow ?? true) flags |= FLAG_GROW;
  if (options.exclusive ?? false) flags |= FLAG_EXCLUSIVE;
  try {
    return native.map(path, size, flags);
  } catch (e) {
    const err = e as Error & { code?: string };
    throw new HostError(HostErrorCode.MAP_FAILED, `cannot map ${path}: ${err.message}`, { path, size, cause: err.code });
  }
}

/**
 * A shared file with no name: created under /dev/shm (mode 0600), unlinked at once, so nothing is left behind however
 * the process ends, then sized to `size` bytes (reading as zeros). Returns its fd, which the caller owns and closes.
 * It is what a vhost-user front-end passes by fd in SET_MEM_TABLE as guest memory (QEMU: a memfd, UML: a temp file).
 * `tag` starts the short-lived name, so a leak would say whose it was.
 */
export function createUnlinkedShmFile(size: number, tag: string): number {
  if (!Number.isSafeInteger(size) || size < 1) throw new HostError(HostErrorCode.BAD_ARGUMENT, `bad shared file size ${size}`, { size });
  const path = `/dev/shm/${tag}-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = openSync(path, 'w+', 0o600);
  unlinkSync(path);
  ftruncateSync(fd, size);
  return fd;
}

/** Removes a shared file; a missing file is not an error. Existing mappings stay valid. */
export function unlinkSharedFile(path: string): void {
  try {
    loadNative().unlink(path);
  } catch (e) {
    if (e instanceof HostError) throw e;
    const err = e as Error & { code?: string };
    throw new HostError(HostErrorCode.MAP_FAILED, `cannot unlink ${path}: ${err.message}`, { path, cause: err.code });
  }
}

/**
 * Clean-up that must run however the process ends: normal exit, process.exit(), or a signal turned into an exit
 * by the CLI's SIGINT/SIGTERM handlers (src/cli/signals.ts). The actions run synchronously from the 'exit' event, in
 * the reverse order of registration; each failure is swallowed (the process is going away). A default SIGKILL
 * cannot be caught: nothing runs then.
 */
const exitCleanups = new Set<() => void>();
let exitHookInstalled = false;

function runExitCleanups(): void {
  for (const fn of [...exitCleanups].reverse()) {
    exitCleanups.delete(fn);
    try {
      fn();
    } catch {
      // best effort at exit
    }
  }
}

/** Registers `fn` to run at process exit; returns a function that unregisters it (call it once cleaned up). */
export function cleanupOnExit(fn: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', runExitCleanups);
  }
  exitCleanups.add(fn);
  return () => void exitCleanups.delete(fn);
}

/** Clean-up actions registered and not yet run (for tests and for the CLI's "what was cleaned up" line). */
export function pendingExitCleanups(): number {
  return exitCleanups.size;
}
