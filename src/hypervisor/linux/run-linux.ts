/**
 * The LTZVisor machine with a real Linux as the non-secure OS: user-mode Linux (Linux 6.1, an OS process) whose own
 * virtio_console driver uses a device of the secure world through our vhost-user back-end, and the secure Ed25519
 * signer behind it. The default guest (examples/linux/signer-client.sh) asks for N signatures and verifies each.
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
import { VhostUserServer } from '../../vhost-user/index.js';
import { bit, VirtioFeature } from '../../virtio/features.js';
import { ConsoleSigner } from './console-signer.js';
import { LinuxError, LinuxErrorCode } from './errors.js';
import { GuestCounter } from './guest-counter.js';
import { LineConsoleDevice } from './line-console.js';
import { LinuxMonitor, type MonitorCounters } from './one-core-monitor.js';
import { UmlProcess } from './uml-process.js';

export interface LinuxRunConfig {
  readonly cores?: 1 | 2;
  /** linux.uml to boot; default /usr/bin/linux.uml. */
  readonly kernel?: string;
  /** Guest init script; default examples/linux/signer-client.sh. */
  readonly init?: string;
  /** Signatures the default client asks for. Default 200. */
  readonly messages?: number;
  /** Whole-run limit (ms). Default 120000. */
  readonly timeoutMs?: number;
  /** Ring layout offered: packed (Linux picks it when offered) or split. Default packed. */
  readonly ring?: 'split' | 'packed';
  /** UML's RAM (MiB). Default 128. */
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
  readonly kernel: string;
  readonly ring: 'split' | 'packed';
  readonly guest: GuestResult | undefined;
  readonly monitor: MonitorCounters;
  /** The guest's progress counter: how far it moved while the secure world held the core, and while Linux ran. */
  readonly guestCounter: { found: boolean; address: string | undefined; probes: number; whileSecureHeldCore: number; whileLinuxRan: number };
  readonly keyLeaked: boolean | undefined;
  readonly signer: { signed: number; refused: number };
  readonly console: LineConsoleDevice['stats'];
  readonly vhostUser: { connections: number; messages: number; activations: number; kicks: number; calls: number; errors: number; lastErrors: string[] };
  readonly linuxExit: number | string | undefined;
  /** How the monitor stops Linux on one core: SIGSTOP of the UML kernel, plus the cgroup freezer for its ptraced guest processes where the host offers one. */
  readonly stopMethod: 'sigstop+freezer' | 'sigstop' | undefined;
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
export function linuxUnavailable(kernel?: string): string | undefined {
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
  const why = linuxUnavailable(cfg.kernel);
  if (why !== undefined) throw new LinuxError(LinuxErrorCode.UNAVAILABLE, why);
  const kernel = cfg.kernel ?? findUml()!;
  const init = resolve(cfg.init ?? join(examplesDir(), 'signer-client.sh'));
  try {
    accessSync(init, fsConstants.X_OK);
  } catch {
    throw new LinuxError(LinuxErrorCode.BAD_INIT, `${init} is missing or not executable`, { init });
  }
  const ring = cfg.ring ?? 'packed';
  const timeoutMs = cfg.timeoutMs ?? 120_000;

  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'tz-linux-'));
  const sock = join(dir, 'console.sock');
  let uml: UmlProcess | undefined;
  const monitor = new LinuxMonitor(cores, () => uml);
  const signer = new ConsoleSigner();
  const counter = new GuestCounter();
  const probe = { probes: 0, whileSecureHeldCore: 0n, whileLinuxRan: 0n, lastExit: undefined as bigint | undefined };
  let tickerReady = false;
  let keyLeaked: boolean | undefined;
  let guest: GuestResult | undefined;
  const problems: string[] = [];
  const tail: string[] = [];

  const device = new LineConsoleDevice((line) => signer.handle(line), monitor);
  const server = new VhostUserServer(sock, device, { withheldFeatures: ring === 'split' ? bit(VirtioFeature.RING_PACKED) : 0n });

  // A long secure slice every fifth tick: Linux is stopped (one core); after one UML tick of grace (a guest program
  // on the host CPU runs until its next trap), the counter is read twice 20 ms apart: it must not move.
  const probeSlice = (): void => {
    const mem = device.memory;
    if (mem === undefined || !tickerReady) return;
    monitor.run('probe', () => {
      if (!counter.found && !counter.find(mem)) return;
      sleepSync(12);
      const c1 = counter.read()!;
      if (probe.lastExit !== undefined) probe.whileLinuxRan += c1 - probe.lastExit;
      sleepSync(20);
      const c2 = counter.read()!;
      probe.whileSecureHeldCore += c2 - c1;
      probe.probes++;
      probe.lastExit = c2;
    });
  };
  let ticks = 0;
  const tick = setInterval(() => {
    if (++ticks % 5 === 0) probeSlice();
    else monitor.run('tick', () => device.poll());
  }, cfg.secureTickMs ?? 20);

  const onLine = (line: string): void => {
    cfg.onConsole?.(line);
    tail.push(line);
    if (tail.length > 40) tail.shift();
    if (line.startsWith('TZ ticker ready')) tickerReady = true;
    else if (line.startsWith('TZ result ')) {
      try {
        guest = JSON.parse(line.slice('TZ result '.length)) as GuestResult;
      } catch {
        problems.push(`the guest's result line is not JSON: ${line.slice(0, 120)}`);
      }
      // the end of the scenario: one last probe, then look for the key in Linux's RAM while it is still mapped
      probeSlice();
      const mem = device.memory;
      if (mem !== undefined) keyLeaked = monitor.run('audit', () => signer.keyLeaked(mem));
    } else if (line.startsWith('TZ error ')) problems.push(`guest: ${line.slice(9)}`);
  };

  let timedOut = false;
  let exit: number | string | undefined;
  try {
    server.listen();
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
      `TZ_MODDIR=${umlModuleDir()}`,
      `TZ_DIR=${examplesDir()}`,
      `TZ_MESSAGES=${messages}`,
      `TZ_MARKER=${counter.markerHex}`,
    ];
    uml = new UmlProcess({ kernel, args, env: umlEnv(), onLine });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([uml.exited, new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    if (r === 'timeout') {
      timedOut = true;
      problems.push(`Linux did not finish within ${timeoutMs} ms`);
    } else exit = r;
  } finally {
    clearInterval(tick);
    uml?.kill();
    if (uml !== undefined) await uml.exited;
    monitor.finish();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const b = server.backend;
  if (guest === undefined) problems.push('the guest printed no result (see the console tail)');
  else {
    if (guest.verified !== messages) problems.push(`${guest.verified} of ${messages} signatures verified in Linux`);
    if (guest.badSignatures > 0) problems.push(`${guest.badSignatures} signatures did not verify`);
    if (guest.lost > 0) problems.push(`${guest.lost} requests got no answer`);
  }
  if (keyLeaked === true) problems.push("the signer's key seed was found in Linux's RAM");
  if (cores === 1 && probe.whileSecureHeldCore > 0n) problems.push(`Linux made progress (${probe.whileSecureHeldCore}) while the secure world held the core`);
  if (cores === 1 && monitor.counters.worldSwitches === 0) problems.push('no world switch was counted');
  if (b.stats.errors > 0) problems.push(`${b.stats.errors} vhost-user errors: ${b.recentErrors.slice(-3).map((e) => e.code).join(', ')}`);
  return {
    ok: problems.length === 0,
    problems,
    cores,
    kernel,
    ring,
    guest,
    monitor: monitor.counters,
    guestCounter: {
      found: counter.found || counter.address !== undefined,
      address: counter.address !== undefined ? `0x${counter.address.toString(16)}` : undefined,
      probes: probe.probes,
      whileSecureHeldCore: Number(probe.whileSecureHeldCore),
      whileLinuxRan: Number(probe.whileLinuxRan),
    },
    keyLeaked,
    signer: { signed: signer.signed, refused: signer.refused },
    console: device.stats,
    vhostUser: { ...b.stats, lastErrors: b.recentErrors.slice(-3).map((e) => e.code) },
    linuxExit: exit,
    stopMethod: uml?.stopMethod,
    timedOut,
    durationMs: Math.round(performance.now() - t0),
    consoleTail: tail.slice(-15),
  };
}
