/**
 * `--isolation process`: the machine of ../machine.ts with each partition in its own OS process.
 *
 * Memory: every backed window and both control blocks are files in a private directory under /dev/shm (mode 0700,
 * files 0600), mapped MAP_SHARED (src/host/shm.ts). This process (the hypervisor) maps all of them; the secure
 * partition's process maps the secure RAM, the IPC window and both control blocks; the non-secure partition's process
 * is told only the non-secure files (IPC window, non-secure RAM, shared control block). Boot order as in LTZVisor:
 * the secure process first; once it has mapped its files the secure files are unlinked, and only then does the
 * non-secure process start — so no secure file name exists while it runs (a process of the same user could still
 * reach the secure process through ptrace or /proc/<pid>/mem; use distinct users for a boundary against that).
 *
 * Wake-ups: the partitions ring and wait on the control words with Atomics as in-process; in a partition process
 * those calls on the mapped control blocks become shared futex operations (./atomics-shim.ts).
 *
 * Life cycle, stop and results: identical to runMachine (the logic is mirrored here, over ProcessPartition).
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { PhysicalMemory, hex, type RegionSpec } from '../../virtio/memory.js';
import { planRpmsgRegion, writeResourceTable, type RpmsgLayout } from '../../rpmsg/index.js';
import type { World } from '../../guest/memory-map.js';
import type { FaultRecord } from '../../guest/memory-port.js';
import { mapSharedFile, unlinkSharedFile } from '../../host/shm.js';
import { loadNative } from '../../host/native.js';
import { HostError } from '../../host/errors.js';
import { buildPlatform, describeMap, windowsFor, type Backing, type Platform } from '../platform.js';
import { Ctl, NsState, SecureCtl, SHARED_CTL_BYTES, SECURE_CTL_BYTES } from '../ctl.js';
import { HypervisorError, HypervisorErrorCode } from '../errors.js';
import type { MachineConfig, MachineResult, PartitionConfig, PartitionResult } from '../machine.js';
import { ProcessPartition } from './partition.js';
import { ringShared } from './atomics-shim.js';
import type { MappedRegionSpec, PartitionProcessSpec } from './protocol.js';

export interface PartitionProcessInfo {
  readonly world: World;
  readonly pid: number;
  /** The files the process mapped (its whole view of the machine's memory). */
  readonly files: readonly string[];
}

export interface ProcessMachineConfig extends MachineConfig {
  /** Directory for the shared files; default a fresh one under /dev/shm (or the OS temp dir without /dev/shm). */
  readonly shmDir?: string;
  /** Called once per partition process after it mapped its files (e.g. to inspect /proc/<pid>/maps). */
  readonly onProcess?: (info: PartitionProcessInfo) => void;
}

export interface ProcessMachineResult extends MachineResult {
  readonly isolation: 'process';
  /** Secure and non-secure process ids and mapped files. */
  readonly processes: readonly PartitionProcessInfo[];
}

const FILES = { secureRam: 'secure-ram', ipc: 'ipc', nsRam: 'ns-ram', ctlShared: 'ctl-shared', ctlSecure: 'ctl-secure' } as const;

/** Throws HypervisorError(BAD_CONFIG) saying why when the native addon (mmap, futex) is unavailable. */
export function assertProcessIsolationAvailable(): void {
  try {
    loadNative();
  } catch (e) {
    const why = e instanceof HostError ? e.message : String(e);
    throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `--isolation process needs the native shared-memory addon (mmap of shared files, cross-process futex): ${why}`);
  }
}

export async function runMachineInProcesses(cfg: ProcessMachineConfig): Promise<ProcessMachineResult> {
  assertProcessIsolationAvailable();
  const cores = cfg.cores ?? 1;
  if (cores !== 1 && cores !== 2) throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `cores must be 1 or 2, not ${String(cores)}`);
  const platform = buildPlatform(cfg.platform);
  const dir = cfg.shmDir ?? mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tz-virtio-'));
  const ownDir = cfg.shmDir === undefined;
  const path = (f: string): string => join(dir, f);
  const partitions: ProcessPartition[] = [];
  try {
    // the hypervisor maps everything; each file is created exactly at its window's size
    const spec = (w: Platform['secureRam'], file: string): RegionSpec & { path: string } => ({
      name: w.name,
      base: w.base,
      size: w.size,
      buffer: mapSharedFile(path(file), { size: w.size, exclusive: true }),
      attrs: { secure: w.secure },
      path: path(file),
    });
    const backing = {
      secureRam: spec(platform.secureRam, FILES.secureRam),
      ipc: spec(platform.ipc, FILES.ipc),
      nsRam: platform.nsRam ? spec(platform.nsRam, FILES.nsRam) : undefined,
    };
    const ctlSharedBuf = mapSharedFile(path(FILES.ctlShared), { size: SHARED_CTL_BYTES, exclusive: true });
    const ctlSecureBuf = mapSharedFile(path(FILES.ctlSecure), { size: SECURE_CTL_BYTES, exclusive: true });
    const ctlShared = new Int32Array(ctlSharedBuf);
    const ctlSecure = new Int32Array(ctlSecureBuf);
    Atomics.store(ctlShared, Ctl.NS_STATE, NsState.BOOT);

    let layout: (RpmsgLayout & { host: World }) | undefined;
    if (cfg.rpmsg !== false) {
      const r = cfg.rpmsg ?? {};
      const ipcMem = new PhysicalMemory([backing.ipc]);
      const plan = planRpmsgRegion({
        base: platform.ipc.base,
        ...(r.numBuffers !== undefined ? { numBuffers: r.numBuffers } : {}),
        ...(r.bufferSize !== undefined ? { bufferSize: r.bufferSize } : {}),
        ...(r.features !== undefined ? { features: r.features } : {}),
      });
      if (plan.base + plan.size > platform.ipc.base + platform.ipc.size) {
        throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `the RPMsg region needs ${plan.size} bytes; the ipc window at ${hex(platform.ipc.base)} has ${platform.ipc.size}`);
      }
      writeResourceTable(ipcMem, plan);
      layout = { ...plan, host: r.host ?? 'nonsecure' };
    }

    const regionsOf = (world: World): MappedRegionSpec[] => {
      const rs = world === 'secure' ? [backing.secureRam, backing.ipc] : [backing.ipc, ...(backing.nsRam ? [backing.nsRam] : [])];
      return rs.map((r) => ({ name: r.name, base: r.base, size: r.size, attrs: { secure: r.attrs?.['secure'] === true }, path: r.path }));
    };
    const common = (world: World, p: PartitionConfig): PartitionProcessSpec => ({
      world,
      cores,
      module: p.module,
      args: { ...(p.args ?? {}) },
      map: platform.map,
      held: windowsFor(platform, world),
      regions: regionsOf(world),
      ctlSharedPath: path(FILES.ctlShared),
      ctlSharedSize: SHARED_CTL_BYTES,
      numVqs: 2,
      ...(layout ? { rpmsg: { layout: stripHost(layout), role: layout.host === world ? ('host' as const) : ('remote' as const) } } : {}),
    });

    const faults: FaultRecord[] = [];
    const processes: PartitionProcessInfo[] = [];
    const started = async (p: ProcessPartition): Promise<void> => {
      const m = await p.mapped;
      if (m === undefined) return;
      const info = { world: p.world, pid: m.pid, files: m.files };
      processes.push(info);
      cfg.onProcess?.(info);
    };
    const t0 = performance.now();
    const secure = new ProcessPartition(
      {
        ...common('secure', cfg.secure),
        ctlSecurePath: path(FILES.ctlSecure),
        ctlSecureSize: SECURE_CTL_BYTES,
        ...(cfg.preemptTimeoutUs !== undefined ? { preemptTimeoutUs: cfg.preemptTimeoutUs } : {}),
      },
      cfg.onLog,
      (f) => faults.push(f),
    );
    partitions.push(secure);
    await started(secure);
    // no secure file name exists from here on (the mappings stay)
    unlinkSharedFile(path(FILES.secureRam));
    unlinkSharedFile(path(FILES.ctlSecure));
    const nonsecure = new ProcessPartition(common('nonsecure', cfg.nonsecure), cfg.onLog, (f) => faults.push(f));
    partitions.push(nonsecure);
    const nsStarted = started(nonsecure);

    const timeoutMs = cfg.timeoutMs ?? 60_000;
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));

    const nsEnd = await Promise.race([nonsecure.mainDone.then(() => 'ns' as const), secure.finished.then(() => 'secure' as const), timeout]);
    if (nsEnd === 'timeout') timedOut = true;
    const markNsGone = (): void => {
      Atomics.store(ctlShared, Ctl.NS_STATE, NsState.EXITED);
      ringShared(ctlShared, Ctl.S_DOORBELL);
    };
    void nonsecure.finished.then(() => {
      if (nonsecure.crash !== undefined) markNsGone();
    });
    if (nsEnd === 'ns' && (cfg.afterNsExitMs ?? 0) > 0) {
      if (nonsecure.crash !== undefined) markNsGone();
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([new Promise((r) => (t = setTimeout(r, cfg.afterNsExitMs))), secure.finished]);
      clearTimeout(t);
    }
    Atomics.store(ctlShared, Ctl.NS_STOP, 1);
    ringShared(ctlShared, Ctl.NS_DOORBELL);
    Atomics.store(ctlSecure, SecureCtl.S_STOP, 1);
    ringShared(ctlShared, Ctl.S_DOORBELL);
    const grace = async (p: ProcessPartition): Promise<void> => {
      let t: ReturnType<typeof setTimeout> | undefined;
      const ms = p.outcome === undefined && p.world === 'nonsecure' ? 300 : 3000;
      await Promise.race([p.finished, new Promise((r) => (t = setTimeout(r, ms)))]);
      clearTimeout(t);
    };
    await Promise.all([grace(secure), grace(nonsecure)]);
    if (timer) clearTimeout(timer);
    await nsStarted;
    await Promise.all([secure.terminate(), nonsecure.terminate()]);
    const durationMs = performance.now() - t0;
    const res = (p: ProcessPartition): PartitionResult => ({
      outcome: p.outcome,
      report: p.report,
      crash: p.crash ?? (p.report === undefined ? 'no report (terminated)' : undefined),
      logs: p.logs,
    });
    const plain = (r: RegionSpec & { path: string }): RegionSpec => {
      const { path: _p, ...rest } = r;
      void _p;
      return rest;
    };
    const backingOut: Backing = { secureRam: plain(backing.secureRam), ipc: plain(backing.ipc), nsRam: backing.nsRam ? plain(backing.nsRam) : undefined };
    return {
      isolation: 'process',
      processes,
      cores,
      platform,
      memoryMap: describeMap(platform),
      rpmsg: layout,
      secure: res(secure),
      nonsecure: res(nonsecure),
      faults,
      faultCount: nonsecure.faultCount + secure.faultCount,
      timedOut,
      durationMs,
      backing: backingOut,
    };
  } finally {
    await Promise.all(partitions.map((p) => p.terminate(200)));
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  }
}

function stripHost(l: RpmsgLayout & { host: World }): RpmsgLayout {
  const { host: _h, ...rest } = l;
  void _h;
  return rest as RpmsgLayout;
}
