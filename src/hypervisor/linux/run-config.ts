/**
 * The settings of `run --nonsecure-linux` (runLinuxMachine), their defaults, and their checks: every bad value is a
 * LinuxError naming the rule (BAD_CONFIG, BAD_INIT) or saying what is missing on this host (UNAVAILABLE).
 */
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findUml, umlModuleDir, umlUnavailable } from '../../host/uml.js';
import { LinuxError, LinuxErrorCode } from './errors.js';
import { qemuGuestKernel, qemuUnavailable } from './qemu-process.js';

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
  /** More NAME=value words for the guest init's environment (names upper-case, values without spaces). Default none. */
  readonly guestEnv?: Readonly<Record<string, string>>;
  /** Ring layout offered: packed (Linux picks it when offered) or split. Default packed. */
  readonly ring?: 'split' | 'packed';
  /** Linux's RAM (MiB). Default 128 (uml) or 512 (qemu). */
  readonly memMiB?: number;
  /** Period of the secure world's own tick (ms): a secure slice that stops Linux on one core. Default 20. */
  readonly secureTickMs?: number;
  /** Every line of the guest console (kernel messages and init's output). */
  readonly onConsole?: (line: string) => void;
}

/** The settings with their defaults applied, checked. */
export interface ResolvedLinuxConfig {
  readonly cores: 1 | 2;
  readonly messages: number;
  readonly frontend: 'uml' | 'qemu';
  /** linux.uml (uml) or the /boot/vmlinuz-* QEMU boots. */
  readonly kernel: string;
  readonly init: string;
  readonly ring: 'split' | 'packed';
  readonly channel: 'vsock' | 'console';
  readonly vsockPort: number;
  readonly guestCid: number;
  readonly timeoutMs: number;
  readonly guestEnv: Readonly<Record<string, string>>;
}

/** examples/linux of this package (src/hypervisor/linux in tests, dist/src/hypervisor/linux built). */
export function examplesDir(): string {
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

/** Guest environment the run sets itself. */
const RESERVED_ENV = new Set(['TZ_DIR', 'TZ_PORT', 'TZ_MESSAGES', 'TZ_MARKER', 'TZ_CHANNEL', 'TZ_MODDIR']);

const bad = (message: string): LinuxError => new LinuxError(LinuxErrorCode.BAD_CONFIG, message);

export function resolveLinuxConfig(cfg: LinuxRunConfig): ResolvedLinuxConfig {
  const cores = cfg.cores ?? 1;
  if (cores !== 1 && cores !== 2) throw bad(`cores must be 1 or 2, not ${String(cores)}`);
  const messages = cfg.messages ?? 200;
  if (!Number.isInteger(messages) || messages < 1 || messages > 1e7) throw bad(`messages must be 1..10^7, not ${messages}`);
  const frontend = cfg.frontend ?? 'uml';
  if (frontend !== 'uml' && frontend !== 'qemu') throw bad(`frontend must be uml or qemu, not ${String(frontend)}`);
  if (frontend === 'qemu' && cfg.kernel !== undefined) throw bad('kernel applies to the uml front-end (QEMU boots /boot/vmlinuz-*)');
  if (frontend === 'qemu' && cfg.channel === 'console') throw bad('channel console needs the uml front-end (QEMU 7.2 has no vhost-user console device)');
  const ring = cfg.ring ?? 'packed';
  if (ring !== 'split' && ring !== 'packed') throw bad(`ring must be split or packed, not ${String(ring)}`);
  const channel = cfg.channel ?? 'vsock';
  if (channel !== 'vsock' && channel !== 'console') throw bad(`channel must be vsock or console, not ${String(channel)}`);
  const vsockPort = cfg.vsockPort ?? 1234;
  if (!Number.isInteger(vsockPort) || vsockPort < 1 || vsockPort >= 0xffffffff) throw bad(`vsockPort must be 1..2^32-2, not ${vsockPort}`);
  const guestCid = cfg.guestCid ?? 3;
  if (!Number.isInteger(guestCid) || guestCid < 3 || guestCid >= 0xffffffff) throw bad(`guestCid must be 3..2^32-2, not ${guestCid}`);
  const timeoutMs = cfg.timeoutMs ?? 120_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw bad(`timeoutMs must be an integer of at least 100, not ${timeoutMs}`);
  const guestEnv = cfg.guestEnv ?? {};
  for (const [n, v] of Object.entries(guestEnv)) {
    if (RESERVED_ENV.has(n)) throw bad(`guestEnv ${n}: set by the run itself`);
    if (!/^[A-Z][A-Z0-9_]*$/.test(n) || typeof v !== 'string' || !/^[\x21-\x7e]*$/.test(v)) throw bad(`guestEnv ${n}: names are upper-case words, values printable without spaces`);
  }
  const why = linuxUnavailable(cfg.kernel, frontend);
  if (why !== undefined) throw new LinuxError(LinuxErrorCode.UNAVAILABLE, why);
  const kernel = frontend === 'qemu' ? qemuGuestKernel()!.vmlinuz : (cfg.kernel ?? findUml()!);
  const init = resolve(cfg.init ?? join(examplesDir(), frontend === 'qemu' ? 'qemu-init.sh' : 'signer-client.sh'));
  try {
    accessSync(init, fsConstants.X_OK);
  } catch {
    throw new LinuxError(LinuxErrorCode.BAD_INIT, `${init} is missing or not executable`, { init });
  }
  return { cores, messages, frontend, kernel, init, ring, channel, vsockPort, guestCid, timeoutMs, guestEnv };
}
