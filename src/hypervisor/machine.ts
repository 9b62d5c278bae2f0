/**
 * The machine: boots a configuration (platform, cores, two partitions, the RPMsg region), runs it and collects what
 * happened. Boot order as in LTZVisor: the secure partition first (it owns the core on a single-core machine), then
 * the non-secure one. The run ends when the non-secure partition's main ends (or it dies), plus `afterNsExitMs` of
 * secure-only time, or at `timeoutMs`; the secure partition is then stopped and both report.
 */
import { PhysicalMemory, hex } from '../virtio/memory.js';
import { planRpmsgRegion, writeResourceTable, type RpmsgLayout } from '../rpmsg/index.js';
import type { World } from '../guest/memory-map.js';
import type { FaultRecord } from '../guest/memory-port.js';
import type { MainOutcome } from '../guest/runtime.js';
import { allocateBacking, buildPlatform, describeMap, regionsFor, windowsFor, type Backing, type Platform, type PlatformConfig } from './platform.js';
import { Ctl, NsState, SecureCtl, allocateCtl, ring } from './ctl.js';
import { Partition } from './partition.js';
import { HypervisorError, HypervisorErrorCode } from './errors.js';

export interface PartitionConfig {
  /** Path (or file: URL) of the guest module (.js/.mjs). */
  readonly module: string;
  /** Free-form arguments handed to the guest as ctx.args. */
  readonly args?: Readonly<Record<string, unknown>>;
}

export interface RpmsgConfig {
  /** Total buffers (half per direction). Default 512. */
  readonly numBuffers?: number;
  /** Bytes per buffer. Default 512. */
  readonly bufferSize?: number;
  /** Which world is the RPMsg host (virtio driver). Default 'nonsecure' (as Linux with an OpenAMP remote). */
  readonly host?: World;
  /** Offered features (u32 bits); default NS | EVENT_IDX. */
  readonly features?: number;
}

/** The secure real-time executive (every field optional). */
export interface RtConfig {
  /** Sleep until this many µs before a release, then spin to it (and, on one core, take the core back then). Default 250. */
  readonly wakeLeadUs?: number;
  /** Margin kept free before a release when fitting service steps (µs). Default 20. */
  readonly guardUs?: number;
  /** Service steps per executive pass. Default 8. */
  readonly maxStepsPerPass?: number;
  /** Upper bound of a service step's cost estimate (µs). Default 300. */
  readonly maxEstimateUs?: number;
}

export interface MachineConfig {
  /** 1: one core token shared by both worlds (LTZVisor single-core); 2: one core per world. Default 1. */
  readonly cores?: 1 | 2;
  readonly platform?: PlatformConfig;
  readonly secure: PartitionConfig;
  readonly nonsecure: PartitionConfig;
  /** RPMsg vdev in the IPC window; false for none. Default {}. */
  readonly rpmsg?: RpmsgConfig | false;
  /** Longest wait of the secure core for the non-secure one to reach a preemption point. Default 20000 µs. */
  readonly preemptTimeoutUs?: number;
  /** Secure real-time executive settings. */
  readonly rt?: RtConfig;
  /** Secure-only time after the non-secure partition ended. Default 0. */
  readonly afterNsExitMs?: number;
  /** Whole-run limit. Default 60000 ms. */
  readonly timeoutMs?: number;
  /** Live log lines from the guests. */
  readonly onLog?: (world: World, text: string) => void;
}

export interface PartitionResult {
  readonly outcome: MainOutcome | undefined;
  readonly report: Record<string, unknown> | undefined;
  readonly crash: string | undefined;
  readonly logs: readonly string[];
}

export interface MachineResult {
  readonly cores: 1 | 2;
  readonly platform: Platform;
  readonly memoryMap: readonly string[];
  readonly rpmsg: (RpmsgLayout & { readonly host: World }) | undefined;
  readonly secure: PartitionResult;
  readonly nonsecure: PartitionResult;
  /** Security faults recorded by the hypervisor (at most 1000 kept), and their count. */
  readonly faults: readonly FaultRecord[];
  readonly faultCount: number;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** The backing buffers (for --dump-shm and tests); null after the run only if the caller drops them. */
  readonly backing: Backing;
}

export async function runMachine(cfg: MachineConfig): Promise<MachineResult> {
  const cores = cfg.cores ?? 1;
  if (cores !== 1 && cores !== 2) throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `cores must be 1 or 2, not ${String(cores)}`);
  const platform = buildPlatform(cfg.platform);
  const backing = allocateBacking(platform);
  const ctl = allocateCtl();
  const ctlShared = new Int32Array(ctl.shared);
  const ctlSecure = new Int32Array(ctl.secure);
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

  const faults: FaultRecord[] = [];
  const common = (world: World, p: PartitionConfig) => ({
    world,
    cores,
    module: p.module,
    args: { ...(p.args ?? {}) },
    map: platform.map,
    held: windowsFor(platform, world),
    regions: regionsFor(platform, backing, world),
    ctlShared: ctl.shared,
    numVqs: 2,
    ...(layout ? { rpmsg: { layout: stripHost(layout), role: layout.host === world ? ('host' as const) : ('remote' as const) } } : {}),
  });
  const t0 = performance.now();
  const secure = new Partition(
    {
      ...common('secure', cfg.secure),
      ctlSecure: ctl.secure,
      ...(cfg.preemptTimeoutUs !== undefined ? { preemptTimeoutUs: cfg.preemptTimeoutUs } : {}),
      ...(cfg.rt !== undefined ? { rt: cfg.rt } : {}),
    },
    cfg.onLog,
    (f) => faults.push(f),
  );
  const nonsecure = new Partition(common('nonsecure', cfg.nonsecure), cfg.onLog, (f) => faults.push(f));

  const timeoutMs = cfg.timeoutMs ?? 60_000;
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));

  // the non-secure side ends: its main returned/threw, it crashed, or the secure side died first
  const nsEnd = await Promise.race([nonsecure.mainDone.then(() => 'ns' as const), secure.finished.then(() => 'secure' as const), timeout]);
  if (nsEnd === 'timeout') timedOut = true;
  // make sure the secure core never waits for a non-secure core that is gone
  const markNsGone = () => {
    Atomics.store(ctlShared, Ctl.NS_STATE, NsState.EXITED);
    ring(ctlShared, Ctl.S_DOORBELL);
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
  // stop both
  Atomics.store(ctlShared, Ctl.NS_STOP, 1);
  ring(ctlShared, Ctl.NS_DOORBELL);
  Atomics.store(ctlSecure, SecureCtl.S_STOP, 1);
  ring(ctlShared, Ctl.S_DOORBELL);
  // a partition whose main never returned may be spinning without API calls: give it little time before terminate()
  const grace = async (p: Partition) => {
    let t: ReturnType<typeof setTimeout> | undefined;
    const ms = p.outcome === undefined && p.world === 'nonsecure' ? 300 : 3000;
    await Promise.race([p.finished, new Promise((r) => (t = setTimeout(r, ms)))]);
    clearTimeout(t);
  };
  await Promise.all([grace(secure), grace(nonsecure)]);
  if (timer) clearTimeout(timer);
  await Promise.all([secure.terminate(), nonsecure.terminate()]);
  const durationMs = performance.now() - t0;
  const res = (p: Partition): PartitionResult => ({
    outcome: p.outcome,
    report: p.report,
    crash: p.crash ?? (p.report === undefined ? 'no report (terminated)' : undefined),
    logs: p.logs,
  });
  return {
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
    backing,
  };
}

function stripHost(l: RpmsgLayout & { host: World }): RpmsgLayout {
  const { host: _h, ...rest } = l;
  void _h;
  return rest as RpmsgLayout;
}
