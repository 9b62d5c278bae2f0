/**
 * Worker bootstrap of a partition (compiled to dist/, since Node 20 workers cannot load .ts). It is the trusted boot
 * code of its core: it builds the partition's memory from the buffers it was given, the core (SecureCore or
 * NonSecureCore), the RPMsg link and the guest runtime, then loads the guest module and runs its main.
 *
 * Messages to the hypervisor (main thread): log, fault, main-done {outcome}, report {report}. The hypervisor
 * validates them; a non-secure worker could forge any of them, and what it forges only concerns itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { PhysicalMemory, type RegionSpec } from '../virtio/memory.js';
import { installThreadHooks } from '../transport/thread-hooks.js';
import type { RpmsgLayout } from '../rpmsg/index.js';
import { GuestRuntime, type MainOutcome } from '../guest/runtime.js';
import { GuestRpmsg } from '../guest/rpmsg.js';
import { RpmsgDevice } from '../rpmsg/device.js';
import { RpmsgDriver } from '../rpmsg/driver.js';
import { DEFAULT_BUFFER_SIZE } from '../rpmsg/constants.js';
import { GuestErrorCode, isGuestError } from '../guest/errors.js';
import type { MemoryMapDesc, WindowDesc, World } from '../guest/memory-map.js';
import type { FaultRecord } from '../guest/memory-port.js';
import type { BackgroundOptions } from '../guest/background.js';
import type { WaitPolicy } from '../sync/policy.js';
import { SecureCore } from './secure-core.js';
import { NonSecureCore } from './nonsecure-core.js';
import { Ctl, SecureCtl } from './ctl.js';
import { GcWatch } from './gc-watch.js';
import { buildDeviceBindings, type DeviceWiring } from './device-wiring.js';
import { installTracer, tracer } from '../trace/active.js';
import { TraceKind } from '../trace/events.js';
import { frameIn, loadGuestMain } from './guest-loader.js';

export interface PartitionWorkerData {
  readonly world: World;
  readonly cores: 1 | 2;
  /** Absolute path or file: URL of the guest module. */
  readonly module: string;
  readonly args: Record<string, unknown>;
  readonly map: MemoryMapDesc;
  readonly held: WindowDesc[];
  readonly regions: RegionSpec[];
  readonly ctlShared: SharedArrayBuffer;
  /** Secure partition only. */
  readonly ctlSecure?: SharedArrayBuffer;
  readonly numVqs: number;
  /** How this core waits for events (two cores; see ./wait-policy.ts). Default block. */
  readonly waitPolicy?: WaitPolicy;
  readonly preemptTimeoutUs?: number;
  /** Secure partition: RT executive settings (see RtConfig in machine.ts). */
  readonly rt?: BackgroundOptions & {
    readonly wakeLeadUs?: number;
    readonly maxWakeLeadUs?: number;
    readonly adaptiveWakeLead?: boolean;
    readonly idle?: 'sleep' | 'spin';
    readonly niceness?: number;
  };
  /** Secure partition: the interrupt-storm rate limit (SecureCoreOptions.notifyRatePerSec / notifyBurst). */
  readonly notifyRateLimit?: { readonly perSec?: number; readonly burst?: number };
  /** Boot counter (ctx.boot). Default 0. */
  readonly boot?: number;
  /** Fault injection (non-secure tests, --crash-at): die when the guest has sent `atMessage` RPMsg messages. */
  readonly crash?: CrashSpec;
  readonly rpmsg?: { readonly layout: RpmsgLayout; readonly role: 'host' | 'remote' };
  /** The channel's other VirtIO devices (this side: driver if non-secure, device if secure). */
  readonly devices?: readonly DeviceWiring[];
  /** This partition's trace buffer (--trace): its tracer records into it. */
  readonly trace?: SharedArrayBuffer;
}

/** How an injected crash kills the partition: its guest code throws, its worker exits, or the hypervisor terminates it. */
export type CrashMode = 'throw' | 'exit' | 'terminate';
export interface CrashSpec {
  readonly atMessage: number;
  readonly mode: CrashMode;
}

export type PartitionMessage =
  | { readonly type: 'crash-point'; readonly atMessage: number }
  | { readonly type: 'log'; readonly text: string }
  | { readonly type: 'fault'; readonly fault: FaultRecord }
  | { readonly type: 'main-done'; readonly outcome: MainOutcome }
  | { readonly type: 'report'; readonly report: Record<string, unknown> }
  | { readonly type: 'boot-error'; readonly error: string };

/** Period of the event-loop heartbeat (ms); the watchdog's limit is several times longer. */
const TICK_MS = 200;

const port = parentPort!;
const d = workerData as PartitionWorkerData;
const post = (m: PartitionMessage) => port.postMessage(m);

/** Sets this thread's nice value (Linux: setpriority on the thread id, from /proc/thread-self). Returns the error, if any. */
function setThreadNiceness(n: number): string | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return 'no thread id';
    setPriority(tid, n);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

async function boot(): Promise<void> {
  installTracer(d.trace);
  installThreadHooks(); // this thread's payload copy and load signal (transport/thread-hooks.ts)
  const gc = new GcWatch();
  const niceError = d.world === 'secure' && d.rt?.niceness !== undefined ? setThreadNiceness(d.rt.niceness) : undefined;
  const memory = new PhysicalMemory(d.regions);
  const log = (text: string) => post({ type: 'log', text });
  const reportFault = (fault: FaultRecord) => {
    if (tracer.enabled) tracer.emitAt(fault.timeUs, TraceKind.FAULT, d.world === 'secure' ? 0 : 1, fault.addr, fault.len, fault.access === 'write' ? 1 : 0);
    post({ type: 'fault', fault });
  };
  let core: SecureCore | NonSecureCore;
  if (d.world === 'secure') {
    if (d.ctlSecure === undefined) throw new Error('secure partition without its control block');
    core = new SecureCore({
      cores: d.cores,
      shared: d.ctlShared,
      secure: d.ctlSecure,
      numVqs: d.numVqs,
      ...(d.waitPolicy !== undefined ? { waitPolicy: d.waitPolicy } : {}),
      ...(d.preemptTimeoutUs !== undefined ? { preemptTimeoutUs: d.preemptTimeoutUs } : {}),
      ...(d.rt?.wakeLeadUs !== undefined ? { wakeLeadUs: d.rt.wakeLeadUs } : {}),
      ...(d.rt?.maxWakeLeadUs !== undefined ? { maxWakeLeadUs: d.rt.maxWakeLeadUs } : {}),
      ...(d.rt?.adaptiveWakeLead !== undefined ? { adaptiveWakeLead: d.rt.adaptiveWakeLead } : {}),
      ...(d.rt?.idle !== undefined ? { idle: d.rt.idle } : {}),
      ...(d.notifyRateLimit?.perSec !== undefined ? { notifyRatePerSec: d.notifyRateLimit.perSec } : {}),
      ...(d.notifyRateLimit?.burst !== undefined ? { notifyBurst: d.notifyRateLimit.burst } : {}),
      log,
      reportFault,
    });
  } else {
    core = new NonSecureCore({ cores: d.cores, shared: d.ctlShared, numVqs: d.numVqs, log, reportFault, ...(d.waitPolicy !== undefined ? { waitPolicy: d.waitPolicy } : {}) });
  }
  // The event loop's heartbeat for the hypervisor's progress watchdog (S_TICK / NS_TICK in ctl.ts): it moves while this
  // thread is not blocked in guest code, even when the guest makes no API call (it awaits a Node promise). The first
  // tick is now, so that a guest that blocks the thread from its first instruction has armed the watchdog.
  const tickWords = new Int32Array(d.world === 'secure' ? d.ctlSecure! : d.ctlShared);
  const tickIndex = d.world === 'secure' ? SecureCtl.S_TICK : Ctl.NS_TICK;
  Atomics.add(tickWords, tickIndex, 1);
  const ticker = setInterval(() => Atomics.add(tickWords, tickIndex, 1), TICK_MS);
  ticker.unref();
  let runtimeRef: GuestRuntime | undefined;
  const devices =
    d.devices && d.devices.length > 0
      ? buildDeviceBindings(d.devices, {
          world: d.world,
          regions: d.regions,
          notify: (id) => void core.smc(2 /* SmcCall.NOTIFY */, [id]),
          env: { wait: (us) => runtimeRef!.idle(us), now: () => core.now() },
        })
      : undefined;
  let rpmsg: GuestRpmsg | undefined;
  // RPMsg carried by a transport of the device seam (virtio-mmio): the registry's half is polled as a device binding,
  // ctx.rpmsg wraps its role
  const carriedHalf = devices?.half('rpmsg');
  const carried = carriedHalf instanceof RpmsgDevice || carriedHalf instanceof RpmsgDriver ? carriedHalf : undefined;
  if (d.rpmsg || carried) {
    const c = core;
    const crash = d.crash;
    const fire = (): void => {
      if (crash === undefined) return;
      if (crash.mode === 'exit') process.exit(70);
      if (crash.mode === 'terminate') {
        // the hypervisor kills this worker when it gets the message; the worker stops right here (message k is out,
        // its answer and everything after it are not), so that the crash point is exactly message k
        post({ type: 'crash-point', atMessage: crash.atMessage });
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
        return;
      }
      throw new Error(`injected crash at message ${crash.atMessage}`);
    };
    const crashOpt = crash !== undefined ? { crash: { atMessage: crash.atMessage, fire } } : {};
    const notify = (vq: number): void => void c.smc(2 /* SmcCall.NOTIFY */, [vq]);
    if (carried !== undefined) {
      const o = d.devices!.find((x) => x.type === 'rpmsg')!.options;
      const bufferSize = typeof o['bufferSize'] === 'number' ? o['bufferSize'] : DEFAULT_BUFFER_SIZE;
      rpmsg = new GuestRpmsg({ role: carried instanceof RpmsgDriver ? 'host' : 'remote', carried: { role: carried.role, bufferSize }, ...crashOpt, nowMs: () => performance.now(), notify });
    } else {
      const L = d.rpmsg!.layout;
      // the link sees the IPC window only (see guest/rpmsg.ts: no confused deputy)
      const ipc = new PhysicalMemory(d.regions.filter((r) => r.base <= L.base && L.base + L.size <= r.base + r.size));
      rpmsg = new GuestRpmsg({
        role: d.rpmsg!.role,
        ...crashOpt,
        ...(c instanceof NonSecureCore ? { resetPeer: () => c.requestDeviceReset() } : {}),
        memory: ipc,
        layout: L,
        nowMs: () => performance.now(),
        notify,
      });
    }
  }
  const background: BackgroundOptions | undefined = d.rt;
  const runtime = new GuestRuntime({
    port: core,
    map: d.map,
    memory,
    held: d.held,
    args: d.args,
    boot: d.boot ?? 0,
    ...(rpmsg ? { rpmsg } : {}),
    ...(devices ? { devices: devices.bindings } : {}),
    ...(background ? { background } : {}),
  });
  runtimeRef = runtime;
  rpmsg?.setWaiter((us) => runtime.idle(us));

  let outcome: MainOutcome;
  try {
    const main = await loadGuestMain(d.module);
    if (core instanceof NonSecureCore) {
      core.begin();
      devices?.start();
    }
    else if (d.ctlSecure !== undefined) Atomics.store(new Int32Array(d.ctlSecure), SecureCtl.S_STARTED, 1);
    // the driver side's DRIVER_OK and start-up kick, now that this core runs (see GuestRpmsg.start)
    rpmsg?.start();
    const file = d.module.startsWith('file:') ? fileURLToPath(d.module) : d.module;
    outcome = await runtime.runMain(main, (e) => frameIn(e, file));
  } catch (e) {
    // stopped while the core was still being handed over (begin, the start-up kick): not the guest's failure
    outcome = isGuestError(e, GuestErrorCode.STOPPED) ? { status: 'stopped' } : { status: 'threw', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  post({ type: 'main-done', outcome });
  if (core instanceof NonSecureCore) {
    // the non-secure partition is done when its main is: hand the core back for good
    core.exit();
  } else {
    gc.serving();
    await runtime.serveUntilStop();
  }
  gc.stop();
  clearInterval(ticker);
  const report = runtime.report();
  report['gc'] = gc.stats();
  if (d.world === 'secure' && d.rt?.niceness !== undefined) report['rtNiceness'] = niceError === undefined ? d.rt.niceness : `refused: ${niceError}`;
  post({ type: 'report', report: { outcome, ...report } });
}

boot().catch((e: unknown) => {
  post({ type: 'boot-error', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
});
