/**
 * `--isolation process`: the PartitionLauncher (../launcher.ts) that puts each partition in its own OS process.
 *
 * Memory: every backed window and both control blocks are files in a private directory under /dev/shm (mode 0700,
 * files 0600), mapped MAP_SHARED (src/host/shm.ts). This process (the hypervisor) maps all of them; a partition
 * process is told only the files behind the buffers of its PartitionWorkerData — the secure one: secure RAM, the IPC
 * window and both control blocks; the non-secure one: the IPC window, non-secure RAM and the shared control block.
 * Once the secure process has mapped its files the secure files are unlinked (secureStarted), before the first
 * non-secure boot — so no secure file name exists while a non-secure process runs, reboots included (a process of the
 * same user could still reach the secure process through ptrace or /proc/<pid>/mem; use distinct users for that).
 *
 * Wake-ups: the partitions ring and wait on the control words with Atomics as in-process; in a partition process
 * those calls on the mapped control blocks become shared futex operations (./atomics-shim.ts), and this process rings
 * with ringShared.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RegionSpec } from '../../virtio/memory.js';
import type { WindowDesc } from '../../guest/memory-map.js';
import { cleanupOnExit, mapSharedFile, unlinkSharedFile } from '../../host/shm.js';
import { loadNative } from '../../host/native.js';
import { HostError } from '../../host/errors.js';
import { SHARED_CTL_BYTES, SECURE_CTL_BYTES } from '../ctl.js';
import { HypervisorError, HypervisorErrorCode } from '../errors.js';
import type { PartitionLauncher, PartitionProcessInfo } from '../launcher.js';
import { ringShared } from './atomics-shim.js';
import type { ChildToParent, MappedFile, PartitionProcessSpec } from './protocol.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
const FILES = { secureRam: 'secure-ram', ipc: 'ipc', nsRam: 'ns-ram', ctlShared: 'ctl-shared', ctlSecure: 'ctl-secure' } as const;

export interface ProcessLauncherOptions {
  /** Directory for the shared files; default a fresh one under /dev/shm (or the OS temp dir without /dev/shm), removed by dispose(). */
  readonly shmDir?: string;
  /** Called once per partition process after it mapped its files (e.g. to inspect /proc/<pid>/maps). */
  readonly onProcess?: (info: PartitionProcessInfo) => void;
}

/** Throws HypervisorError(BAD_CONFIG) saying why when the native addon (mmap, futex) is unavailable. */
export function assertProcessIsolationAvailable(): void {
  try {
    loadNative();
  } catch (e) {
    const why = e instanceof HostError ? e.message : String(e);
    throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `--isolation process needs the native shared-memory addon (mmap of shared files, cross-process futex): ${why}`);
  }
}

export function processLauncher(o: ProcessLauncherOptions = {}): PartitionLauncher {
  assertProcessIsolationAvailable();
  const dir = o.shmDir ?? mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tz-virtio-'));
  const ownDir = o.shmDir === undefined;
  const path = (f: string): string => join(dir, f);
  // which file backs which buffer: a partition's spec names files, never buffers
  const fileOf = new Map<SharedArrayBuffer, MappedFile>();
  const mapNew = (name: string, size: number): SharedArrayBuffer => {
    const buf = mapSharedFile(path(name), { size, exclusive: true });
    fileOf.set(buf, { path: path(name), size });
    return buf;
  };
  const file = (buf: SharedArrayBuffer | ArrayBuffer | undefined): MappedFile => {
    const f = buf instanceof SharedArrayBuffer ? fileOf.get(buf) : undefined;
    if (f === undefined) throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, 'process isolation: a partition buffer that is not a mapped file of this machine');
    return f;
  };
  const processes: PartitionProcessInfo[] = [];
  let disposed = false;
  // An exit that skips dispose() (Ctrl-C, SIGTERM, process.exit) still kills the partitions and removes the files.
  const children = new Set<ReturnType<typeof fork>>();
  const dropExitCleanup = cleanupOnExit(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    isolation: 'process',
    processes,
    allocate(platform) {
      // each file is created exactly at its window's size
      const spec = (w: WindowDesc, name: string): RegionSpec => ({ name: w.name, base: w.base, size: w.size, buffer: mapNew(name, w.size), attrs: { secure: w.secure } });
      return {
        backing: {
          secureRam: spec(platform.secureRam, FILES.secureRam),
          ipc: spec(platform.ipc, FILES.ipc),
          nsRam: platform.nsRam ? spec(platform.nsRam, FILES.nsRam) : undefined,
        },
        ctl: { shared: mapNew(FILES.ctlShared, SHARED_CTL_BYTES), secure: mapNew(FILES.ctlSecure, SECURE_CTL_BYTES) },
      };
    },
    allocateTrace(name, bytes) {
      return mapNew(`trace-${name}`, bytes);
    },
    ring: ringShared,
    start(data, on) {
      const { regions, ctlShared, ctlSecure, trace, ...rest } = data;
      const spec: PartitionProcessSpec = {
        ...rest,
        regions: regions.map(({ buffer, ...r }) => ({ ...r, file: file(buffer) })),
        ctlShared: file(ctlShared),
        ...(ctlSecure !== undefined ? { ctlSecure: file(ctlSecure) } : {}),
        ...(trace !== undefined ? { trace: file(trace) } : {}),
      };
      // guest console output goes to stderr (as in-process), so that --json on stdout stays clean
      const child = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
      children.add(child);
      child.stdout!.pipe(process.stderr, { end: false });
      child.stderr!.pipe(process.stderr, { end: false });
      let resolveStarted!: (v: PartitionProcessInfo | undefined) => void;
      const started = new Promise<PartitionProcessInfo | undefined>((r) => (resolveStarted = r));
      let workerExit: number | undefined;
      let mapped = false;
      let exited = false;
      const gone = new Promise<void>((resolve) => {
        child.on('exit', (code, signal) => {
          exited = true;
          children.delete(child);
          resolveStarted(undefined);
          // the worker's own exit code when it told us (an 'exit'-mode crash), else how the process ended
          on.exit(workerExit !== undefined ? `worker exited with code ${workerExit}` : `partition process exited (${signal ?? `code ${code}`})`);
          resolve();
        });
      });
      child.on('message', (m: ChildToParent) => {
        if (typeof m !== 'object' || m === null) return on.message(m);
        switch (m.type) {
          case 'mapped': {
            // once per process: the child is as untrusted as its partition, a repeat is malformed
            if (mapped) return on.message(m);
            mapped = true;
            const info: PartitionProcessInfo = { world: data.world, pid: Number(m.pid), files: Array.isArray(m.files) ? m.files.map(String) : [] };
            processes.push(info);
            o.onProcess?.(info);
            resolveStarted(info);
            return;
          }
          case 'partition':
            return on.message(m.msg);
          case 'error':
            return on.error(`partition process: ${String(m.error)}`);
          case 'exit':
            workerExit = Number(m.code);
            return;
          default:
            // not a relay message: let the partition handle count it as malformed
            return on.message(m);
        }
      });
      child.on('error', (e) => on.error(`partition process: ${e.message}`));
      child.send({ type: 'boot', spec });
      return {
        started,
        async terminate() {
          // a power cut: the process gets no chance to run anything more
          if (!exited) child.kill('SIGKILL');
          await gone;
        },
      };
    },
    async secureStarted(secure) {
      await secure.started;
      // no secure file name exists from here on (the mappings stay)
      unlinkSharedFile(path(FILES.secureRam));
      unlinkSharedFile(path(FILES.ctlSecure));
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      dropExitCleanup();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
