/**
 * The LTZVisor machine with a real Linux as the non-secure OS: user-mode Linux (Linux 6.1, an OS process) whose own
 * virtio drivers use two devices of the secure world through our vhost-user back-end, one socket each:
 *   - vsock (device 19, src/vsock): the secure Ed25519 signer listens on AF_VSOCK port 1234 of the host CID 2; the
 *     guest client (examples/linux/signer_client.py, python3 socket.AF_VSOCK) asks it for N signatures and verifies
 *     each with Linux's own vmw_vsock_virtio_transport underneath;
 *   - console (device 3): /dev/hvc0, the guest's log and result lines, printed by the host.
 * With channel 'console' the signer is served as lines on /dev/hvc0 instead, and there is no vsock device.
 * With frontend 'qemu' the non-secure world is QEMU running Debian's own Linux 6.1 (qemu-process.ts): the same vsock
 * device and back-end, driven by Linux's virtio_pci + vmw_vsock_virtio_transport; its log is the serial console.
 *
 * Trust: Linux shares its RAM (one file, passed by fd in SET_MEM_TABLE) and the secure side maps it; the secure RAM
 * (the signer's key) is a buffer of this process that no fd, file or message ever hands to Linux, so a Linux process
 * reading the secure window is impossible by construction: there is no address in Linux that reaches it. The report
 * says so (securityFaults.byConstruction) and checks the consequence: the key's seed is searched for in Linux's RAM
 * at the end (keyLeaked).
 *
 * One core: every secure slice (a kick, a periodic secure tick) stops Linux (one-core-monitor.ts); the guest's
 * progress counter (guest-counter.ts), read from Linux's RAM inside long secure slices, shows it made no progress.
 */
import { existsSync, accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findUml, umlEnv, umlModuleDir, umlUnavailable } from '../../host/uml.js';
import { ProtocolFeature, protocolBit, VhostUserServer, type VhostUserStats } from '../../vhost-user/index.js';
import { bit, VirtioFeature } from '../../virtio/features.js';
import { VsockDevice, type VsockStats } from '../../vsock/index.js';
import { LinuxError, LinuxErrorCode } from './errors.js';
import { GuestCounter } from './guest-counter.js';
import { LineConsoleDevice } from './line-console.js';
import { LinuxMonitor, type MonitorCounters } from './one-core-monitor.js';
import { SecureSliceDevice } from './secure-slice-device.js';
import { Signer } from './signer.js';
import type { NonsecureOs } from './nonsecure-os.js';
import { buildQemuInitramfs, QemuProcess, qemuGuestKernel, qemuUnavailable } from './qemu-process.js';
import { UmlProcess } from './uml-process.js';
import { VsockLineService, type VsockLineStats } from './vsock-line-service.js';

export interface LinuxRunConfig {
  readonly cores?: 1 | 2;
  /** Who runs Linux: user-mode Linux (default) or QEMU (Debian's own kernel, vsock only: QEMU 7.2 has no vhost-user console). */
  readonly frontend?: 'uml' | 'qemu';
  /** linux.uml to boot (frontend uml); default /usr/bin/linux.uml. */
  readonly kernel?: string;
  /** Guest init script; default examples/linux/signer-client.sh (uml) or examples/linux/qemu-init.sh (qemu). */
  readonly init?: string;
  /** Signatures the default client asks for. Default 200. */
  readonly messages?: number;
  /** Whole-run limit (ms). Default 120000. */
  readonly timeoutMs?: number;
  /** Where the signer is served: an AF_VSOCK port (the console then carries the guest's log) or /dev/hvc0. Default vsock. */
  readonly channel?: 'vsock' | 'console';
  /** The signer's AF_VSOCK port (on CID 2). Default 1234. */
  readonly vsockPort?: number;
  /** The guest's CID (vsock config space). Default 3. */
  readonly guestCid?: number;
  /** Offer in-band notifications (kicks as VRING_KICK messages, calls as BACKEND_VRING_CALL) instead of eventfds. Default false. */
  readonly inband?: boolean;
  /** Ring layout offered: packed (Linux picks it when offered) or split. Default packed. */
  readonly ring?: 'split' | 'packed';
  /** Linux's RAM (MiB). Default 128 (uml) or 512 (qemu). */
  readonly memMiB?: number;
  /** Period of the secure world's own tick (ms): a secure slice that stops Linux on one core. Default 20. */
  readonly secureTickMs?: number;
  /** Every line of the guest console (kernel messages and init's output). */
  readonly onConsole?: (line: string) => void;
}

export interface GuestResult {
  sent: number;
  answered: number;
  verified: number;
  badSignatures: number;
  lost: number;
  messageBytes: number;
  elapsedS: number;
  bytesMoved: number;
  rttUs: { p50: number; p99: number; mean: number; max: number };
}

export interface LinuxRunResult {
  readonly ok: boolean;
  readonly problems: string[];
  readonly cores: 1 | 2;
  readonly frontend: 'uml' | 'qemu';
  readonly kernel: string;
  readonly ring: 'split' | 'packed';
  /** The layout Linux's drivers chose, per device (undefined: the device never went live). */
  readonly ringNegotiated: { console?: 'split' | 'packed' | undefined; vsock?: 'split' | 'packed' | undefined };
  readonly channel: 'vsock' | 'console';
  /** Notifications offered in-band (messages on the vhost-user sockets) rather than through eventfds. */
  readonly inband: boolean;
  /** Whether each front-end session negotiated in-band notifications (VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS). */
  readonly inbandNegotiated: Record<string, boolean>;
  readonly guest: GuestResult | undefined;
  /** Where the guest's result line came from: its kernel console (UML's stdout, QEMU's serial) or /dev/hvc0 (our console device). */
  readonly resultVia: 'kernel' | 'hvc0' | undefined;
  readonly monitor: MonitorCounters;
  /** The guest's progress counter: how far it moved while the secure world held the core, and while Linux ran. */
  readonly guestCounter: { found: boolean; address: string | undefined; probes: number; whileSecureHeldCore: number; whileLinuxRan: number; pageMoves: number };
  readonly keyLeaked: boolean | undefined;
  readonly signer: { signed: number; refused: number };
  readonly console: LineConsoleDevice['stats'];
  /** The vsock device and the signer's port (channel 'vsock'). */
  readonly vsock: { port: number; guestCid: number; service: VsockLineStats; endpoint: Omit<VsockStats, 'lastError'>; ringErrors: number } | undefined;
  /** Both vhost-user sessions summed, and each by device. */
  readonly vhostUser: VhostUserStats & { lastErrors: string[]; byDevice: Record<string, VhostUserStats> };
  readonly linuxExit: number | string | undefined;
  /** How the monitor stops Linux on one core: SIGSTOP of the UML kernel, plus the cgroup freezer for its ptraced guest processes where the host offers one. */
  readonly stopMethod: 'sigstop+freezer' | 'sigstop' | undefined;
  /** QEMU: stops not seen complete on every thread within 200 ms (the secure slice went on regardless). */
  readonly lateStops: number | undefined;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** The guest console's last lines (kernel and init). */
  readonly consoleTail: string[];
}

/** examples/linux of this package (src/hypervisor/linux in tests, dist/src/hypervisor/linux built). */
function examplesDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return join(d, 'examples', 'linux');
}

/** Why the Linux machine cannot run here (one line), or undefined. */
export function linuxUnavailable(kernel?: string, frontend: 'uml' | 'qemu' = 'uml'): string | undefined {
  if (frontend === 'qemu') return qemuUnavailable();
  if (kernel !== undefined) {
    try {
      accessSync(kernel, fsConstants.X_OK);
    } catch {
      return `${kernel} is not an executable file`;
    }
    return umlModuleDir() === undefined ? '/usr/lib/uml/modules is missing (apt-get install user-mode-linux)' : undefined;
  }
  return umlUnavailable();
}

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

export async function runLinuxMachine(cfg: LinuxRunConfig = {}): Promise<LinuxRunResult> {
  const cores = cfg.cores ?? 1;
  if (cores !== 1 && cores !== 2) throw new LinuxError(LinuxErrorCode.BAD_CONFIG, `cores must be 1 or 2, not ${String(cores)}`);
  const messages = cfg.messages ?? 200;
  if (!Number.isInteger(messages) || messages < 1 || messages > 1e7) throw new LinuxError(LinuxErrorCode.BAD_CONFIG, `messages must be 1..10^7, not ${messages}`);
  const frontend = cfg.frontend ?? 'uml';
  if (frontend !== 'uml' && frontend !== 'qemu') throw new LinuxError(LinuxErrorCode.BAD_CONFIG, `frontend must be uml or qemu, not ${String(frontend)}`);
  if (frontend === 'qemu' && cfg.kernel !== undefined) throw new LinuxError(LinuxErrorCode.BAD_CONFIG, 'kernel applies to the uml front-end (QEMU boots /boot/vmlinuz-*)');
  if (frontend === 'qemu' && cfg.channel === 'console') throw new LinuxError(LinuxErrorCode.BAD_CONFIG, "channel console needs the uml front-end (QEMU 7.2 has no vhost-user console device)");
  const why = linuxUnavailable(cfg.kernel, frontend);
  if (why !== undefined) throw new LinuxError(LinuxErrorCode.UNAVAILABLE, why);
  const kernel = frontend === 'qemu' ? qemuGuestKernel()!.vmlinuz : (cfg.kernel ?? findUml()!);
  const init = resolve(cfg.init ?? join(examplesDir(), frontend === 'qemu' ? 'qemu-init.sh' : 'signer-client.sh'));
  try {
    accessSync(init, fsConstants.X_OK);
  } catch {
    throw new LinuxError(LinuxErrorCode.BAD_INIT, `${init} is missing or not executable`, { init });
  }
  const ring = cfg.ring ?? 'packed';
  if (ring !== 'split' && ring !== 'packed') throw new LinuxError(LinuxErrorCode.BAD_CONFIG, `ring must be split or packed, not ${String(ring)}`);
  const channel = cfg.channel ?? 'vsock';
  if (channel !== 'vsock' && channel !== 'console') throw new LinuxError(LinuxErrorCode.BAD_CONFIG, `channel must be vsock or console, not ${String(channel)}`);
  const vsockPort = cfg.vsockPort ?? 1234;
  if (!Number.isInteger(vsockPort) || vsockPort < 1 || vsockPort >= 0xffffffff) throw new LinuxError(LinuxErrorCode.BAD_CONFIG, `vsockPort must be 1..2^32-2, not ${vsockPort}`);
  const guestCid = cfg.guestCid ?? 3;
  if (!Number.isInteger(guestCid) || guestCid < 3 || guestCid >= 0xffffffff) throw new LinuxError(LinuxErrorCode.BAD_CONFIG, `guestCid must be 3..2^32-2, not ${guestCid}`);
  const timeoutMs = cfg.timeoutMs ?? 120_000;

  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'tz-linux-'));
  const sock = join(dir, 'console.sock');
  const vsockSock = join(dir, 'vsock.sock');
  let os: NonsecureOs | undefined;
  const monitor = new LinuxMonitor(cores, () => os);
  const signer = new Signer();
  const counter = new GuestCounter();
  const probe = { probes: 0, whileSecureHeldCore: 0n, whileLinuxRan: 0n, lastExit: undefined as bigint | undefined };
  let tickerReady = false;
  let keyLeaked: boolean | undefined;
  let guest: GuestResult | undefined;
  let resultVia: 'kernel' | 'hvc0' | undefined;
  const problems: string[] = [];
  const tail: string[] = [];

  const withheldFeatures = ring === 'split' ? bit(VirtioFeature.RING_PACKED) : 0n;
  const inband = cfg.inband === true;
  // The console: the signer's lines (channel console), or the guest's log, printed by the host (channel vsock).
  const device = new LineConsoleDevice((line) => (channel === 'console' ? signer.handle(line) : void onLine(line, 'hvc0')), monitor);
  const consoleSlice = new SecureSliceDevice(device, monitor);
  const server = frontend === 'uml' ? new VhostUserServer(sock, consoleSlice, { withheldFeatures, inband }) : undefined;
  // vsock: the signer on (CID 2, vsockPort). A flush asked for outside a kick (an answer written later) is a slice too.
  const vsock = channel === 'vsock' ? new VsockDevice({ guestCid, schedule: (fn) => queueMicrotask(() => monitor.run('send', fn)) }) : undefined;
  const service = vsock !== undefined ? new VsockLineService(vsock, vsockPort, (line) => signer.handle(line)) : undefined;
  const vsockSlice = vsock !== undefined ? new SecureSliceDevice(vsock, monitor) : undefined;
  const vsockServer = vsockSlice !== undefined ? new VhostUserServer(vsockSock, vsockSlice, { withheldFeatures, inband }) : undefined;

  // A long secure slice every fifth tick: Linux is stopped (one core); after one UML tick of grace (a guest program
  // on the host CPU runs until its next trap), the counter is read twice 20 ms apart: it must not move.
  const sharedMemory = () => consoleSlice.memory ?? vsockSlice?.memory;
  const probeSlice = (): void => {
    const mem = sharedMemory();
    if (mem === undefined || !tickerReady) return;
    monitor.run('probe', () => {
      if (!counter.found && !counter.find(mem)) return;
      sleepSync(12);
      const c1 = counter.read();
      sleepSync(20);
      const c2 = counter.read();
      // the page moved (or was re-found) in between: this probe proves nothing, the next one starts afresh
      if (c1 === undefined || c2 === undefined || c2 < c1 || (probe.lastExit !== undefined && c1 < probe.lastExit)) {
        probe.lastExit = undefined;
        return;
      }
      if (probe.lastExit !== undefined) probe.whileLinuxRan += c1 - probe.lastExit;
      probe.whileSecureHeldCore += c2 - c1;
      probe.probes++;
      probe.lastExit = c2;
    });
  };
  let ticks = 0;
  const tick = setInterval(() => {
    if (++ticks % 5 === 0) probeSlice();
    else
      monitor.run('tick', () => {
        device.poll();
        vsock?.poll();
      });
  }, cfg.secureTickMs ?? 20);

  /** A line of the guest: its kernel console (UML's stdout) or /dev/hvc0 (channel vsock). */
  function onLine(line: string, from: 'kernel' | 'hvc0' = 'kernel'): void {
    const shown = from === 'hvc0' ? `hvc0: ${line}` : line;
    cfg.onConsole?.(shown);
    tail.push(shown);
    if (tail.length > 40) tail.shift();
    if (line.startsWith('TZ ticker ready')) tickerReady = true;
    else if (line.startsWith('TZ result ')) {
      try {
        guest = JSON.parse(line.slice('TZ result '.length)) as GuestResult;
        resultVia = from;
      } catch {
        problems.push(`the guest's result line is not JSON: ${line.slice(0, 120)}`);
      }
      // the end of the scenario: one last probe, then look for the key in Linux's RAM while it is still mapped
      probeSlice();
      const mem = sharedMemory();
      if (mem !== undefined) keyLeaked = monitor.run('audit', () => signer.keyLeaked(mem));
    } else if (line.startsWith('TZ error ')) problems.push(`guest: ${line.slice(9)}`);
  }

  let timedOut = false;
  let exit: number | string | undefined;
  try {
    server?.listen();
    vsockServer?.listen();
    service?.listen();
    if (frontend === 'qemu') {
      const initrd = buildQemuInitramfs(dir, init);
      os = new QemuProcess({
        initrd,
        vsockSocket: vsockSock,
        packed: ring === 'packed',
        memMiB: cfg.memMiB ?? 512,
        env: { TZ_DIR: examplesDir(), TZ_PORT: String(vsockPort), TZ_MESSAGES: String(messages), TZ_MARKER: counter.markerHex },
        onLine: (l) => onLine(l),
      });
    } else {
      const args = [
        `mem=${cfg.memMiB ?? 128}M`,
        'rootfstype=hostfs',
        'rootflags=/',
        'rw',
        `init=${init}`,
        'con=null',
        'con0=null,fd:1',
        'quiet',
        `virtio_uml.device=${sock}:3`,
        ...(vsockServer !== undefined ? [`virtio_uml.device=${vsockSock}:19`] : []),
        `TZ_CHANNEL=${channel}`,
        `TZ_PORT=${vsockPort}`,
        `TZ_MODDIR=${umlModuleDir()}`,
        `TZ_DIR=${examplesDir()}`,
        `TZ_MESSAGES=${messages}`,
        `TZ_MARKER=${counter.markerHex}`,
      ];
      os = new UmlProcess({ kernel, args, env: umlEnv(), onLine: (l) => onLine(l) });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([os.exited, new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    if (r === 'timeout') {
      timedOut = true;
      problems.push(`Linux did not finish within ${timeoutMs} ms`);
    } else exit = r;
  } finally {
    clearInterval(tick);
    os?.kill();
    if (os !== undefined) await os.exited;
    monitor.finish();
    service?.close();
    vsockServer?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const b = server?.backend;
  const vb = vsockServer?.backend;
  if (guest === undefined) problems.push('the guest printed no result (see the console tail)');
  else {
    if (guest.verified !== messages) problems.push(`${guest.verified} of ${messages} signatures verified in Linux`);
    if (guest.badSignatures > 0) problems.push(`${guest.badSignatures} signatures did not verify`);
    if (guest.lost > 0) problems.push(`${guest.lost} requests got no answer`);
  }
  if (keyLeaked === true) problems.push("the signer's key seed was found in Linux's RAM");
  if (cores === 1 && probe.whileSecureHeldCore > 0n) problems.push(`Linux made progress (${probe.whileSecureHeldCore}) while the secure world held the core`);
  if (cores === 1 && monitor.counters.worldSwitches === 0) problems.push('no world switch was counted');
  for (const [name, d] of [['console', server !== undefined ? consoleSlice : undefined], ['vsock', vsockSlice]] as const) {
    if (d !== undefined && d.ringNegotiated !== ring) problems.push(`Linux's ${name} driver used ${d.ringNegotiated ?? 'no'} rings, not ${ring}`);
  }
  for (const x of [b, vb]) {
    if (x !== undefined && x.stats.errors > 0) problems.push(`${x.stats.errors} vhost-user errors (${x === b ? 'console' : 'vsock'}): ${x.recentErrors.slice(-3).map((e) => e.code).join(', ')}`);
  }
  if (vsock !== undefined && vsock.stats.ringErrors > 0) problems.push(`vsock ring errors: ${vsock.stats.lastRingError ?? ''}`);
  if (channel === 'vsock' && service !== undefined && service.stats.connections === 0) problems.push('no vsock connection reached the signer');
  const sum = (k: keyof VhostUserStats): number => (b?.stats[k] ?? 0) + (vb?.stats[k] ?? 0);
  let endpoint: Omit<VsockStats, 'lastError'> | undefined;
  if (vsock !== undefined) {
    const { lastError, ...rest } = vsock.endpoint.stats;
    void lastError;
    endpoint = rest;
  }
  return {
    ok: problems.length === 0,
    problems,
    cores,
    frontend,
    kernel,
    ring,
    ringNegotiated: { ...(server !== undefined ? { console: consoleSlice.ringNegotiated } : {}), ...(vsockSlice !== undefined ? { vsock: vsockSlice.ringNegotiated } : {}) },
    channel,
    inband,
    inbandNegotiated: Object.fromEntries(
      ([['console', b], ['vsock', vb]] as const).filter(([, x]) => x !== undefined).map(([n, x]) => [n, (x!.lastSession.protocolFeatures & protocolBit(ProtocolFeature.INBAND_NOTIFICATIONS)) !== 0n]),
    ),
    guest,
    resultVia,
    monitor: monitor.counters,
    guestCounter: {
      found: counter.found || counter.address !== undefined,
      address: counter.address !== undefined ? `0x${counter.address.toString(16)}` : undefined,
      probes: probe.probes,
      whileSecureHeldCore: Number(probe.whileSecureHeldCore),
      whileLinuxRan: Number(probe.whileLinuxRan),
      pageMoves: counter.moves,
    },
    keyLeaked,
    signer: { signed: signer.signed, refused: signer.refused },
    console: device.stats,
    vsock: vsock !== undefined && service !== undefined && endpoint !== undefined ? { port: vsockPort, guestCid, service: service.stats, endpoint, ringErrors: vsock.stats.ringErrors } : undefined,
    vhostUser: {
      connections: sum('connections'),
      messages: sum('messages'),
      activations: sum('activations'),
      kicks: sum('kicks'),
      calls: sum('calls'),
      errors: sum('errors'),
      lastErrors: [...(b?.recentErrors ?? []), ...(vb?.recentErrors ?? [])].slice(-3).map((e) => e.code),
      byDevice: { ...(b !== undefined ? { console: { ...b.stats } } : {}), ...(vb !== undefined ? { vsock: { ...vb.stats } } : {}) },
    },
    linuxExit: exit,
    stopMethod: os?.stopMethod,
    lateStops: os?.lateStops,
    timedOut,
    durationMs: Math.round(performance.now() - t0),
    consoleTail: tail.slice(-15),
  };
}
