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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { umlEnv, umlModuleDir } from '../../host/uml.js';
import { ProtocolFeature, protocolBit, VhostUserServer, type VhostUserStats } from '../../vhost-user/index.js';
import { bit, VirtioFeature } from '../../virtio/features.js';
import { VsockDevice, type VsockStats } from '../../vsock/index.js';
import { GuestCounter } from './guest-counter.js';
import { LineConsoleDevice } from './line-console.js';
import { LinuxMonitor, type MonitorCounters } from './one-core-monitor.js';
import { SecureSliceDevice } from './secure-slice-device.js';
import { Signer } from './signer.js';
import type { NonsecureOs } from './nonsecure-os.js';
import { buildQemuInitramfs, QemuProcess } from './qemu-process.js';
import { examplesDir, resolveLinuxConfig, type LinuxRunConfig } from './run-config.js';
import { UmlProcess } from './uml-process.js';
import { VsockLineService, type VsockLineStats } from './vsock-line-service.js';

export { linuxUnavailable, type LinuxRunConfig } from './run-config.js';

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

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

export async function runLinuxMachine(cfg: LinuxRunConfig = {}): Promise<LinuxRunResult> {
  const { cores, messages, frontend, kernel, init, ring, channel, vsockPort, guestCid, timeoutMs, guestEnv } = resolveLinuxConfig(cfg);
  const examples = examplesDir();

  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'tz-linux-'));
  // an interrupted run (SIGINT: the CLI exits at once) still removes its sockets and the QEMU initramfs
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
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
        env: { ...guestEnv, TZ_DIR: examples, TZ_PORT: String(vsockPort), TZ_MESSAGES: String(messages), TZ_MARKER: counter.markerHex },
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
        `TZ_DIR=${examples}`,
        `TZ_MESSAGES=${messages}`,
        `TZ_MARKER=${counter.markerHex}`,
        ...Object.entries(guestEnv).map(([n, v]) => `${n}=${v}`),
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
    process.removeListener('exit', removeDir);
    removeDir();
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
