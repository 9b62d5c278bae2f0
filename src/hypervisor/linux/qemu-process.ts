/**
 * The non-secure world as QEMU running Debian's own Linux 6.1 (qemu-system-x86 7.2, linux-image-amd64,
 * busybox-static): the second vhost-user front-end. Its RAM is a shared memfd that QEMU passes to our back-end in
 * SET_MEM_TABLE; its vsock device is `vhost-user-vsock-pci`, whose back-end is the secure world's vsock device.
 * QEMU 7.2 has no vhost-user console, so the guest's log is its serial console (our stdout pipe).
 *
 * The guest boots a busybox initramfs built per run in the run's temp dir (busybox, the kernel's virtio-pci, 9p and
 * vsock modules, examples/linux/qemu-init.sh as /init), mounts the host's root read-only over 9p (virtio-9p, QEMU's
 * own device) and runs the same Python client and ticker as the UML guest from there. Nothing built is kept.
 *
 * One core: QEMU is an ordinary process (nothing traces it), so SIGSTOP to it stops every vCPU and I/O thread.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { LinuxError, LinuxErrorCode } from './errors.js';
import type { NonsecureOs } from './nonsecure-os.js';
import { stopAndWait } from './process-stop.js';
import { superviseChild } from './child-output.js';

const QEMU = 'qemu-system-x86_64';
const BUSYBOX = '/bin/busybox';
/** Loaded in this order by the init script (dependencies first). */
export const QEMU_GUEST_MODULES = [
  'drivers/virtio/virtio_ring',
  'drivers/virtio/virtio',
  'drivers/virtio/virtio_pci_legacy_dev',
  'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci',
  'fs/netfs/netfs',
  'fs/fscache/fscache',
  'net/9p/9pnet',
  'net/9p/9pnet_virtio',
  'fs/9p/9p',
  'net/vmw_vsock/vsock',
  'net/vmw_vsock/vmw_vsock_virtio_transport_common',
  'net/vmw_vsock/vmw_vsock_virtio_transport',
] as const;
const APPLETS = ['sh', 'mount', 'insmod', 'chroot', 'cat', 'poweroff', 'sleep', 'echo', 'kill'];

const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** The newest /boot/vmlinuz-* whose /lib/modules tree holds every module the guest loads (uncompressed .ko). */
export function qemuGuestKernel(): { vmlinuz: string; modules: string } | undefined {
  if (!existsSync('/boot') || !existsSync('/lib/modules')) return undefined;
  for (const f of readdirSync('/boot').filter((x) => x.startsWith('vmlinuz-')).sort().reverse()) {
    const modules = join('/lib/modules', f.slice('vmlinuz-'.length), 'kernel');
    if (QEMU_GUEST_MODULES.every((m) => existsSync(join(modules, `${m}.ko`)))) return { vmlinuz: join('/boot', f), modules };
  }
  return undefined;
}

/** True when `path` is an ELF executable without a program interpreter (statically linked). */
function isStaticElf(path: string): boolean {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const h = Buffer.alloc(64);
    if (readSync(fd, h, 0, 64, 0) < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return false; // ELF64 only
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    if (phnum > 256 || phentsize < 4) return false;
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Why QEMU cannot be the non-secure world here (one line), or undefined. */
export function qemuUnavailable(): string | undefined {
  if (!onPath(QEMU)) return `${QEMU} is not installed (apt-get install qemu-system-x86)`;
  if (qemuGuestKernel() === undefined) return 'no /boot/vmlinuz-* with uncompressed virtio-pci, 9p and vsock modules in /lib/modules (apt-get install linux-image-amd64)';
  if (!isStaticElf(BUSYBOX)) return `${BUSYBOX} is missing or not statically linked (apt-get install busybox-static)`;
  if (!onPath('cpio')) return 'cpio is not installed (apt-get install cpio)';
  return undefined;
}

/** Builds the guest's initramfs in `dir` with `init` as /init; returns its path. */
export function buildQemuInitramfs(dir: string, init: string): string {
  const k = qemuGuestKernel();
  if (k === undefined) throw new LinuxError(LinuxErrorCode.UNAVAILABLE, qemuUnavailable() ?? 'no guest kernel');
  const root = join(dir, 'initramfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'host', 'lib/modules']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
  copyFileSync(init, join(root, 'init'));
  for (const m of QEMU_GUEST_MODULES) copyFileSync(join(k.modules, `${m}.ko`), join(root, 'lib', 'modules', `${m.slice(m.lastIndexOf('/') + 1)}.ko`));
  const out = join(dir, 'initramfs.cpio');
  const r = spawnSync('sh', ['-c', 'chmod +x init bin/busybox && find . | cpio -o -H newc --quiet > "$0"', out], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new LinuxError(LinuxErrorCode.SPAWN_FAILED, `cannot pack the initramfs: ${(r.stderr || '').trim()}`);
  return out;
}

export interface QemuOptions {
  readonly initrd: string;
  /** vhost-user socket of the secure world's vsock device (listening). */
  readonly vsockSocket: string;
  readonly packed: boolean;
  readonly memMiB: number;
  /** NAME=value words for init's environment (on the kernel command line; values without spaces). */
  readonly env: Readonly<Record<string, string>>;
  readonly onLine: (line: string) => void;
}

/**
 * TCG unless TZ_QEMU_ACCEL=kvm: where /dev/kvm exists but a KVM guest makes no progress (nested virtualisation, as on
 * the machine this was developed on), TCG still boots Debian's kernel in a few seconds.
 */
export function qemuAccelerators(): string[] {
  if (process.env['TZ_QEMU_ACCEL'] === 'kvm') {
    try {
      accessSync('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK);
      return ['-accel', 'kvm', '-accel', 'tcg'];
    } catch {
      // not usable
    }
  }
  return ['-accel', 'tcg'];
}

export class QemuProcess implements NonsecureOs {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<number | string>;
  readonly stopMethod = 'sigstop' as const;
  private gone = false;
  private isStopped = false;
  private readonly onExit = (): void => this.kill();

  constructor(o: QemuOptions) {
    const k = qemuGuestKernel();
    if (k === undefined) throw new LinuxError(LinuxErrorCode.UNAVAILABLE, qemuUnavailable() ?? 'no guest kernel');
    for (const [n, v] of Object.entries(o.env)) {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(n) || /\s/.test(v)) throw new LinuxError(LinuxErrorCode.BAD_CONFIG, `guest environment ${n}=${v}: names are upper-case words, values have no spaces`);
    }
    const append = ['console=ttyS0', 'panic=-1', 'quiet', ...Object.entries(o.env).map(([n, v]) => `${n}=${v}`)].join(' ');
    const args = [
      ...qemuAccelerators(),
      '-object', `memory-backend-memfd,id=mem,size=${o.memMiB}M,share=on`,
      '-machine', 'q35,memory-backend=mem',
      '-m', `${o.memMiB}M`,
      '-smp', '1',
      '-chardev', `socket,id=vsock,path=${o.vsockSocket}`,
      '-device', `vhost-user-vsock-pci,chardev=vsock${o.packed ? ',packed=on' : ''}`,
      '-virtfs', 'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
      '-kernel', k.vmlinuz,
      '-initrd', o.initrd,
      '-append', append,
      '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-nodefaults',
    ];
    this.child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (this.child.pid === undefined) throw new LinuxError(LinuxErrorCode.SPAWN_FAILED, `cannot start ${QEMU}`);
    this.pid = this.child.pid;
    process.once('exit', this.onExit);
    this.exited = superviseChild(this.child, o.onLine, {
      onGone: () => void (this.gone = true),
      onExit: () => void process.removeListener('exit', this.onExit),
    });
  }

  get alive(): boolean {
    return !this.gone;
  }

  get stopped(): boolean {
    return this.isStopped;
  }

  /**
   * SIGSTOP, then waits until every thread of QEMU is in the stopped state (process-stop.ts): the secure world owns the
   * core only once Linux is actually halted. Bounded: after 200 ms it goes on and counts the late stop.
   */
  stop(): number {
    if (this.gone || this.isStopped) return 0;
    const r = stopAndWait(this.pid, 200, (p) => readdirSync(p), (p) => readFileSync(p, 'latin1'));
    if (r === 'gone') return 0;
    if (r === 'late') this.lateStops++;
    this.isStopped = true;
    return 1;
  }

  /** Stops that did not reach every thread within the bound (reported; 0 expected). */
  lateStops = 0;

  cont(): void {
    if (!this.isStopped) return;
    this.isStopped = false;
    try {
      process.kill(this.pid, 'SIGCONT');
    } catch {
      // gone
    }
  }

  kill(): void {
    try {
      process.kill(-this.pid, 'SIGCONT');
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
