/**
 * The machine: boots a configuration (platform, cores, two partitions, the RPMsg region), runs it and collects what
 * happened. Boot order as in LTZVisor: the secure partition first (it owns the core on a single-core machine), then
 * the non-secure one. The run ends when the non-secure partition's main ends (or it dies), plus `afterNsExitMs` of
 * secure-only time, or at `timeoutMs`; the secure partition is then stopped and both report.
 *
 * Where partitions run and what backs their memory is the launcher's business (./launcher.ts): worker threads over
 * SharedArrayBuffers, or OS processes over mapped files (`isolation: 'process'`, ./process/launcher.ts). This
 * orchestration — boot order, reboots, stop, results — is the same for both.
 */
import { PhysicalMemory } from '../virtio/memory.js';
import type { RpmsgLayout } from '../rpmsg/index.js';
import type { World } from '../guest/memory-map.js';
import type { FaultRecord } from '../guest/memory-port.js';
import type { MainOutcome } from '../guest/runtime.js';
import { buildPlatform, describeMap, regionsFor, windowsFor, type Backing, type Platform, type PlatformConfig } from './platform.js';
import { Ctl, NsState, SecureCtl } from './ctl.js';
import { Partition } from './partition.js';
import { workerLauncher, type Isolation, type PartitionLauncher, type PartitionProcessInfo } from './launcher.js';
import { processLauncher } from './process/launcher.js';
import type { CrashMode } from './partition-worker.js';
import { HypervisorError, HypervisorErrorCode } from './errors.js';
import { planChannel, type ChannelTransport, type DeviceConfig, type PlannedDevice } from './channel-plan.js';
import { allocateTraceBuffer, readTraceBuffer } from '../trace/buffer.js';
import type { TraceSource } from '../trace/chrome.js';

/** Default --trace-limit: events in all (half for the secure partition, half for each non-secure boot). */
export const DEFAULT_TRACE_LIMIT = 1_000_000;
import { coreWaitPolicy, type WaitPolicyConfig } from './wait-policy.js';

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
  /** Upper bound of the adaptive lead (µs): the lead grows to cover the p99 OS wake-up lateness. Default 500 (two cores), 350 (one core). */
  readonly maxWakeLeadUs?: number;
  /** Adapt the lead to the measured wake-up lateness (wake-lead.ts). Default true. */
  readonly adaptiveWakeLead?: boolean;
  /** Two cores: 'spin' keeps the secure core polling between releases instead of sleeping (costs a host core). Default 'sleep'. */
  readonly idle?: 'sleep' | 'spin';
  /** Margin kept free before a release when fitting service steps (µs). Default 20. */
  readonly guardUs?: number;
  /** Service steps per executive pass. Default 8. */
  readonly maxStepsPerPass?: number;
  /** Upper bound of a service step's cost estimate (µs). Default 300. */
  readonly maxEstimateUs?: number;
  /**
   * Host scheduling priority (nice value, -20..19) of the secure partition's thread — the model's stand-in for a
   * real-time core: on a loaded host most deadline misses are the OS running something else. Lower than 0 needs
   * privileges (refused: reported as rtNiceError in the secure port stats). Default: unchanged.
   */
  readonly niceness?: number;
}

export interface MachineConfig {
  /** 1: one core token shared by both worlds (LTZVisor single-core); 2: one core per world. Default 1. */
  readonly cores?: 1 | 2;
  readonly platform?: PlatformConfig;
  readonly secure: PartitionConfig;
  readonly nonsecure: PartitionConfig;
  /** RPMsg vdev in the IPC window; false for none. Default {}. */
  readonly rpmsg?: RpmsgConfig | false;
  /**
   * The VirtIO devices of the channel between the two partitions, each its own vdev (vrings, pool, notifications):
   * e.g. [{ type: 'rpmsg' }, { type: 'rng' }]. Types: src/devices/index.ts. The secure side is always the device, the
   * non-secure side the driver (RPMsg: see `rpmsg.host`). Default: [{ type: 'rpmsg' }] (none when rpmsg is false).
   */
  readonly devices?: readonly DeviceConfig[];
  /** What carries the devices other than RPMsg: one resource table ('rsc-table', default) or virtio-mmio windows. */
  readonly transport?: ChannelTransport;
  /** Longest wait of the secure core for the non-secure one to reach a preemption point. Default 20000 µs. */
  readonly preemptTimeoutUs?: number;
  /** Secure real-time executive settings. */
  readonly rt?: RtConfig;
  /** Interrupt-storm defence of the secure core: non-secure notifications accepted as wake-ups (token bucket). Defaults 4000/s, burst 64. */
  readonly notifyRateLimit?: { readonly perSec?: number; readonly burst?: number };
  /** Reboots of the non-secure partition when it crashes or its main throws (0 = none: the run ends). Default 0. */
  readonly maxReboots?: number;
  /** Fault injection (tests, --crash-at). */
  readonly crash?: CrashConfig;
  /** Longest wait for the secure side to confirm a peer reset (ms). Default 2000. */
  readonly peerResetTimeoutMs?: number;
  /** Secure-only time after the non-secure partition ended. Default 0. */
  readonly afterNsExitMs?: number;
  /** Whole-run limit. Default 60000 ms. */
  readonly timeoutMs?: number;
  /** Live log lines from the guests. */
  readonly onLog?: (world: World, text: string) => void;
  /** 'worker' (default): partitions are worker threads of this process; 'process': each its own OS process over mapped files. */
  readonly isolation?: Isolation;
  /**
   * How the cores wait for events (src/sync policies): one for both, or `{ secure, nonsecure }` per core. Default
   * 'block'. Two cores only (./wait-policy.ts).
   */
  readonly waitPolicy?: WaitPolicyConfig;
  /** Process isolation: directory for the shared files; default a fresh one under /dev/shm, removed after the run. */
  readonly shmDir?: string;
  /** Process isolation: called once per partition process (reboots included) after it mapped its files. */
  readonly onProcess?: (info: PartitionProcessInfo) => void;
  /** Record a timeline trace (src/trace/): each partition boot gets a buffer of `limit / 2` events. Default off. */
  readonly trace?: { readonly limit?: number };
}

/** Fault injection: kill the non-secure partition after it sent `atMessage` RPMsg messages. */
export interface CrashConfig {
  readonly atMessage: number;
  /** 'throw' (its guest code throws), 'exit' (its worker calls process.exit) or 'terminate' (the hypervisor kills it). Default 'terminate'. */
  readonly mode?: CrashMode;
  /** Which boot of the partition dies (0 = the first). Default 0. */
  readonly boot?: number;
}

/** One reboot of the non-secure partition. */
export interface RebootRecord {
  /** The boot that died (0 = the first). */
  readonly boot: number;
  /** Milliseconds since the machine started. */
  readonly atMs: number;
  readonly reason: string;
  /** Whether the secure runtime confirmed it had reset its side of the link before the new boot. */
  readonly secureAcked: boolean;
  readonly ackMs: number;
  /** The dead partition's last log lines. */
  readonly logs: readonly string[];
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
  /** Every device of the channel, in table order (RPMsg included), with its transport and vdev placement. */
  readonly devices: readonly PlannedDevice[];
  readonly secure: PartitionResult;
  readonly nonsecure: PartitionResult;
  /** Security faults recorded by the hypervisor (at most 1000 kept), and their count. */
  readonly faults: readonly FaultRecord[];
  readonly faultCount: number;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** Reboots of the non-secure partition, in order; `nonsecure` is the last boot. */
  readonly reboots?: readonly RebootRecord[];
  /** The backing buffers (for --dump-shm and tests); null after the run only if the caller drops them. */
  readonly backing: Backing;
  readonly isolation: Isolation;
  /** Process isolation: every partition process started (secure first, then each non-secure boot), pid and mapped files. */
  readonly processes: readonly PartitionProcessInfo[];
  /** With `trace`: what each partition boot recorded (the secure partition first), for trace/chrome.ts. */
  readonly trace?: readonly TraceSource[];
}

export async function runMachine(cfg: MachineConfig): Promise<MachineResult> {
  const cores = cfg.cores ?? 1;
  if (cores !== 1 && cores !== 2) throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `cores must be 1 or 2, not ${String(cores)}`);
  const isolation = cfg.isolation ?? 'worker';
  if (isolation !== 'worker' && isolation !== 'process') throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `isolation must be worker or process, not ${String(isolation)}`);
  const platform = buildPlatform(cfg.platform);
  const launcher =
    isolation === 'process'
      ? processLauncher({ ...(cfg.shmDir !== undefined ? { shmDir: cfg.shmDir } : {}), ...(cfg.onProcess !== undefined ? { onProcess: cfg.onProcess } : {}) })
      : workerLauncher();
  const started: Partition[] = [];
  try {
    return await orchestrate(cfg, cores, platform, launcher, started);
  } finally {
    // on success every partition is gone already; after an error, none may outlive the machine
    await Promise.all(started.map((p) => p.terminate()));
    launcher.dispose();
  }
}

async function orchestrate(cfg: MachineConfig, cores: 1 | 2, platform: Platform, launcher: PartitionLauncher, started: Partition[]): Promise<MachineResult> {
  const ring = launcher.ring;
  const { backing, ctl } = launcher.allocate(platform);
  const ctlShared = new Int32Array(ctl.shared);
  const ctlSecure = new Int32Array(ctl.secure);
  Atomics.store(ctlShared, Ctl.NS_STATE, NsState.BOOT);

  const channel = planChannel(cfg, platform, new PhysicalMemory([backing.ipc]));
  const layout: (RpmsgLayout & { host: World }) | undefined = channel.rpmsg;

  const faults: FaultRecord[] = [];
  const traceBuffers: { world: World; sab: SharedArrayBuffer }[] = [];
  const traceFor = (world: World, name: string): { trace?: SharedArrayBuffer } => {
    if (cfg.trace === undefined) return {};
    const limit = cfg.trace.limit ?? DEFAULT_TRACE_LIMIT;
    if (!Number.isInteger(limit) || limit < 2) throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `trace limit must be an integer >= 2, not ${String(limit)}`);
    const sab = allocateTraceBuffer(Math.floor(limit / 2), (bytes) => launcher.allocateTrace(name, bytes));
    traceBuffers.push({ world, sab });
    return { trace: sab };
  };
  const common = (world: World, p: PartitionConfig) => ({
    world,
    cores,
    module: p.module,
    args: { ...(p.args ?? {}) },
    map: platform.map,
    held: windowsFor(platform, world),
    regions: regionsFor(platform, backing, world),
    ctlShared: ctl.shared,
    numVqs: channel.numVqs,
    waitPolicy: coreWaitPolicy(cfg.waitPolicy, world),
    ...(layout ? { rpmsg: { layout: stripHost(layout), role: layout.host === world ? ('host' as const) : ('remote' as const) } } : {}),
    ...(channel.wiring.length > 0 ? { devices: channel.wiring } : {}),
  });
  const t0 = performance.now();
  const secure = new Partition(
    launcher,
    {
      ...common('secure', cfg.secure),
      ctlSecure: ctl.secure,
      ...traceFor('secure', 'secure'),
      ...(cfg.preemptTimeoutUs !== undefined ? { preemptTimeoutUs: cfg.preemptTimeoutUs } : {}),
      ...(cfg.rt !== undefined ? { rt: cfg.rt } : {}),
      ...(cfg.notifyRateLimit !== undefined ? { notifyRateLimit: cfg.notifyRateLimit } : {}),
    },
    cfg.onLog,
    (f) => faults.push(f),
  );
  started.push(secure);
  // process isolation: the secure files are unlinked once the secure process has mapped them, before any non-secure boot
  await launcher.secureStarted(secure.channel);
  const timeoutMs = cfg.timeoutMs ?? 60_000;
  // The secure main threw (its module did not load, it has no main, or main failed): the run ends now, not at the
  // timeout. (The secure runtime would go on serving, but a secure world whose software failed is the run's result.)
  const secureFailed = secure.mainDone.then((o) => (o?.status === 'threw' ? ('secure' as const) : new Promise<never>(() => undefined)));
  // LTZVisor's boot order: the secure guest boots first, the non-secure one once the secure world's boot is done (its
  // main was called). The non-secure driver's DRIVER_OK and start-up kick then always reach a secure device that may
  // already sleep, so a wake-up the device depends on is never found only by luck of thread timing. Bounded.
  await secureBooted(ctlSecure, secure, secureFailed, t0, timeoutMs);
  const nsParts: Partition[] = [];
  const bootNonSecure = (boot: number): Partition => {
    const crash = cfg.crash !== undefined && (cfg.crash.boot ?? 0) === boot ? { atMessage: cfg.crash.atMessage, mode: cfg.crash.mode ?? 'terminate' } : undefined;
    const p = new Partition(launcher, { ...common('nonsecure', cfg.nonsecure), boot, ...traceFor('nonsecure', `ns-${boot}`), ...(crash ? { crash } : {}) }, cfg.onLog, (f) => faults.push(f));
    nsParts.push(p);
    started.push(p);
    return p;
  };
  let nonsecure = bootNonSecure(0);

  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const maxReboots = cfg.maxReboots ?? 0;
  const reboots: RebootRecord[] = [];
  let lastEnd: 'ns' | 'secure' | 'timeout' = 'ns';

  // make sure the secure core never waits for a non-secure core that is gone
  const markNsGone = () => {
    Atomics.store(ctlShared, Ctl.NS_STATE, NsState.EXITED);
    ring(ctlShared, Ctl.S_DOORBELL);
  };
  for (;;) {
    const ns = nonsecure;
    void ns.finished.then(() => {
      if (ns.crash !== undefined && ns === nonsecure) markNsGone();
    });
    // the non-secure side ends: its main returned/threw, it crashed, or the secure side died first
    const nsEnd = await Promise.race([ns.mainDone.then(() => 'ns' as const), secure.finished.then(() => 'secure' as const), secureFailed, timeout]);
    lastEnd = nsEnd;
    if (nsEnd === 'timeout') timedOut = true;
    if (nsEnd !== 'ns') break;
    const failed = ns.crash !== undefined || ns.outcome?.status === 'threw';
    if (!failed || reboots.length >= maxReboots || !secure.alive) break;
    // reboot: the dead partition is gone for good, the device is reset, the secure side told, a fresh worker booted
    const rec = await rebootNonSecure(ns);
    reboots.push(rec);
    nonsecure = bootNonSecure(reboots.length);
  }

  async function rebootNonSecure(dead: Partition): Promise<RebootRecord> {
    const atMs = performance.now() - t0;
    const reason = dead.crash ?? `main threw: ${dead.outcome?.error ?? 'unknown'}`;
    // 1. the old worker must be stopped before its control words are reused
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([dead.finished, new Promise((r) => (t = setTimeout(r, 200)))]);
    clearTimeout(t);
    await dead.terminate();
    await dead.finished;
    markNsGone();
    // 2. device reset: every vdev status byte to 0 (what a driver's reset writes), so each device detaches
    const ipc = backing.ipc;
    for (const addr of channel.statusAddrs) Atomics.store(new Uint8Array(ipc.buffer!), (ipc.byteOffset ?? 0) + addr - ipc.base, 0);
    // 3. tell the secure core (a secure-only word) and wait until its runtime has reset its RPMsg side
    const seq = Atomics.add(ctlSecure, SecureCtl.S_PEER_RESET, 1) + 1;
    ring(ctlShared, Ctl.S_DOORBELL);
    ring(ctlSecure, SecureCtl.S_WAKE);
    const tAck = performance.now();
    let acked = false;
    while (performance.now() - tAck < (cfg.peerResetTimeoutMs ?? 2000) && secure.alive) {
      if (Atomics.load(ctlSecure, SecureCtl.S_PEER_RESET_ACK) === seq) {
        acked = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    // 4. the non-secure control words as at power-on (GATE stays the secure core's business)
    for (const w of [Ctl.NS_REQ, Ctl.NS_REQ_VQ, Ctl.NS_IRQ0, Ctl.NS_IRQ1, Ctl.NS_STOP]) Atomics.store(ctlShared, w, 0);
    Atomics.store(ctlShared, Ctl.NS_STATE, NsState.BOOT);
    return { boot: nsParts.length - 1, atMs: Math.round(atMs * 10) / 10, reason, secureAcked: acked, ackMs: Math.round((performance.now() - tAck) * 10) / 10, logs: dead.logs.slice(-5) };
  }

  if (lastEnd === 'ns' && (cfg.afterNsExitMs ?? 0) > 0) {
    if (nonsecure.crash !== undefined) markNsGone();
    // the secure-only time counts from the secure guest's start (its boot may be slower than a short-lived non-secure guest)
    while (Atomics.load(ctlSecure, SecureCtl.S_STARTED) === 0 && secure.alive && performance.now() - t0 < timeoutMs) {
      await new Promise((r) => setTimeout(r, 1));
    }
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([new Promise((r) => (t = setTimeout(r, cfg.afterNsExitMs))), secure.finished]);
    clearTimeout(t);
  }
  // stop both
  Atomics.store(ctlShared, Ctl.NS_STOP, 1);
  ring(ctlShared, Ctl.NS_DOORBELL);
  Atomics.store(ctlSecure, SecureCtl.S_STOP, 1);
  ring(ctlShared, Ctl.S_DOORBELL);
  ring(ctlSecure, SecureCtl.S_WAKE);
  // a partition whose main never returned may be spinning without API calls: give it little time before terminate()
  const beatAtStop = { secure: Atomics.load(ctlSecure, SecureCtl.S_BEAT), nonsecure: Atomics.load(ctlShared, Ctl.NS_BEAT) };
  const grace = async (p: Partition) => {
    let t: ReturnType<typeof setTimeout> | undefined;
    const ms = p.outcome === undefined && p.world === 'nonsecure' ? 300 : 3000;
    await Promise.race([p.finished, new Promise((r) => (t = setTimeout(r, ms)))]);
    clearTimeout(t);
    if (p.alive && p.report === undefined) {
      // it did not answer stop: say why (a loop without ctx calls), not just that its worker was terminated
      const beat = p.world === 'secure' ? Atomics.load(ctlSecure, SecureCtl.S_BEAT) : Atomics.load(ctlShared, Ctl.NS_BEAT);
      p.crash ??= stuckReason(p, beat, beat !== beatAtStop[p.world], ms);
    }
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
    isolation: launcher.isolation,
    processes: [...launcher.processes],
    cores,
    platform,
    memoryMap: describeMap(platform),
    rpmsg: layout,
    devices: channel.devices,
    secure: res(secure),
    nonsecure: res(nonsecure),
    faults,
    faultCount: nsParts.reduce((a, p) => a + p.faultCount, 0) + secure.faultCount,
    reboots,
    timedOut,
    durationMs,
    backing,
    ...(cfg.trace !== undefined ? { trace: traceBuffers.map((b) => ({ world: b.world, ...readTraceBuffer(b.sab) })) } : {}),
  };
}

/** Waits until the secure guest's main was called (S_STARTED), its main failed, it died, or the run's time is up. */
async function secureBooted(ctlSecure: Int32Array, secure: Partition, failed: Promise<unknown>, t0: number, timeoutMs: number): Promise<void> {
  let over = false;
  void Promise.race([failed, secure.finished]).then(() => (over = true));
  while (!over && Atomics.load(ctlSecure, SecureCtl.S_STARTED) === 0 && performance.now() - t0 < timeoutMs) {
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Why a partition did not stop when asked: it never called into ctx, or stopped doing so. */
function stuckReason(p: Partition, beat: number, moved: boolean, graceMs: number): string {
  const w = p.world === 'secure' ? 'secure' : 'non-secure';
  if (beat === 0 && p.outcome === undefined) {
    return `the ${w} partition never called into ctx: its main runs without an API call (a busy loop?), which the hypervisor cannot stop or preempt; terminated after ${graceMs} ms`;
  }
  if (!moved) {
    return `the ${w} partition did not stop within ${graceMs} ms and made no call into ctx meanwhile (a loop without ctx calls cannot be stopped or preempted); terminated`;
  }
  return `the ${w} partition did not stop within ${graceMs} ms; terminated`;
}

function stripHost(l: RpmsgLayout & { host: World }): RpmsgLayout {
  const { host: _h, ...rest } = l;
  void _h;
  return rest as RpmsgLayout;
}
