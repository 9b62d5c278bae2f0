/**
 * QEMU as a second vhost-user front-end (Debian's qemu-system-x86 7.2, linux-image-amd64 and busybox-static): finding
 * what it needs, building a busybox initramfs at test time in a temp dir (the guest's virtio-pci and vsock modules
 * from /lib/modules, test/linux/qemu/init.sh, and vsock-echo.c compiled with gcc -static), and starting QEMU with
 * its RAM in a shared memfd and a vhost-user-vsock-pci device whose back-end is ours. Nothing built is committed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = join(dirname(fileURLToPath(import.meta.url)), 'qemu');
const QEMU = 'qemu-system-x86_64';
const MODULES = [
  'drivers/virtio/virtio_ring',
  'drivers/virtio/virtio',
  'drivers/virtio/virtio_pci_legacy_dev',
  'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci',
  'net/vmw_vsock/vsock',
  'net/vmw_vsock/vmw_vsock_virtio_transport_common',
  'net/vmw_vsock/vmw_vsock_virtio_transport',
];
const APPLETS = ['sh', 'mount', 'insmod', 'cat', 'tr', 'poweroff', 'echo', 'sleep'];

const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** The installed kernel (vmlinuz) whose modules directory holds the vsock modules, or undefined. */
export function guestKernel(): { vmlinuz: string; modules: string } | undefined {
  if (!existsSync('/boot') || !existsSync('/lib/modules')) return undefined;
  for (const f of readdirSync('/boot').filter((x) => x.startsWith('vmlinuz-')).sort().reverse()) {
    const ver = f.slice('vmlinuz-'.length);
    const modules = join('/lib/modules', ver, 'kernel');
    if (MODULES.every((m) => existsSync(join(modules, `${m}.ko`)))) return { vmlinuz: join('/boot', f), modules };
  }
  return undefined;
}

/** Why the QEMU front-end cannot run here (one line), or undefined. */
export function qemuUnavailable(): string | undefined {
  if (!onPath(QEMU)) return `${QEMU} is not installed (apt-get install qemu-system-x86)`;
  if (guestKernel() === undefined) return 'no /boot/vmlinuz-* with uncompressed virtio-pci and vsock modules in /lib/modules (apt-get install linux-image-amd64)';
  if (!existsSync('/bin/busybox') || spawnSync('sh', ['-c', 'file -L /bin/busybox 2>/dev/null | grep -q static || ldd /bin/busybox 2>&1 | grep -q "not a dynamic"'], { stdio: 'ignore' }).status !== 0) {
    return 'no static /bin/busybox (apt-get install busybox-static)';
  }
  const cc = spawnSync('gcc', ['-static', '-x', 'c', '-o', '/dev/null', '-'], { input: 'int main(void){return 0;}', stdio: ['pipe', 'ignore', 'ignore'] });
  if (cc.status !== 0) return 'gcc cannot link a static program (apt-get install gcc libc6-dev)';
  if (!onPath('cpio') && spawnSync('/bin/busybox', ['cpio', '--help'], { stdio: 'ignore' }).status !== 0) return 'no cpio to pack the initramfs';
  return undefined;
}

/** Builds the initramfs in `dir`; returns its path. */
export function buildInitramfs(dir: string): string {
  const k = guestKernel()!;
  const root = join(dir, 'root');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'lib/modules']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
  copyFileSync(join(HERE, 'init.sh'), join(root, 'init'));
  for (const m of MODULES) copyFileSync(join(k.modules, `${m}.ko`), join(root, 'lib', 'modules', `${m.split('/').pop()!}.ko`));
  const cc = spawnSync('gcc', ['-static', '-O2', '-Wall', '-o', join(root, 'bin', 'vsock-echo'), join(HERE, 'vsock-echo.c')], { encoding: 'utf8', timeout: 120_000 });
  if (cc.status !== 0) throw new Error(`gcc failed: ${cc.stderr}`);
  spawnSync('chmod', ['+x', join(root, 'init'), join(root, 'bin', 'vsock-echo')]);
  const out = join(dir, 'initramfs.cpio');
  const cpio = onPath('cpio') ? 'cpio -o -H newc --quiet' : '/bin/busybox cpio -o -H newc';
  const r = spawnSync('sh', ['-c', `cd "${root}" && find . | ${cpio} > "${out}"`], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`cpio failed: ${r.stderr}`);
  writeFileSync(join(dir, 'built'), 'ok');
  return out;
}

/**
 * TCG unless TZ_QEMU_ACCEL=kvm: on this host /dev/kvm exists but a KVM guest makes no progress (nested
 * virtualisation; QEMU warns about missing CPUID bits and the guest never prints), while TCG boots Debian's kernel
 * in a few seconds. With kvm, QEMU falls back to TCG by itself when KVM cannot start.
 */
export function accelerators(): string[] {
  if (process.env['TZ_QEMU_ACCEL'] === 'kvm') {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      return ['-accel', 'kvm', '-accel', 'tcg'];
    } catch {
      // not usable: TCG
    }
  }
  return ['-accel', 'tcg'];
}

export interface QemuGuest {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | string>;
  /** Resolves with the first line matching `re` (rejects when QEMU exits first). */
  waitFor(re: RegExp): Promise<string>;
  kill(): void;
}

/** Starts QEMU with the vhost-user vsock device on `socket` (which must be listening). */
export function startQemu(o: { socket: string; initrd: string; env: Record<string, string>; packed: boolean; memMiB?: number }): QemuGuest {
  const k = guestKernel()!;
  const mem = o.memMiB ?? 256;
  const append = ['console=ttyS0', 'panic=-1', 'quiet', 'loglevel=4', ...Object.entries(o.env).map(([n, v]) => `${n}=${v}`)].join(' ');
  const args = [
    ...accelerators(),
    '-object', `memory-backend-memfd,id=mem,size=${mem}M,share=on`,
    '-machine', 'q35,memory-backend=mem',
    '-m', `${mem}M`,
    '-smp', '1',
    '-chardev', `socket,id=c,path=${o.socket}`,
    '-device', `vhost-user-vsock-pci,chardev=c${o.packed ? ',packed=on' : ''}`,
    '-kernel', k.vmlinuz,
    '-initrd', o.initrd,
    '-append', append,
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-nodefaults',
  ];
  const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: string[] = [];
  const waiters: { re: RegExp; res: (l: string) => void }[] = [];
  let partial = '';
  const take = (d: Buffer): void => {
    const parts = (partial + d.toString('utf8')).split(/\r?\n/);
    partial = parts.pop() ?? '';
    for (const l of parts) {
      lines.push(l);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.re.test(l)) waiters.splice(i, 1)[0]!.res(l);
      }
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | string>((res) => {
    child.once('error', (e) => res(`spawn error: ${e.message}`));
    child.once('exit', (code, sig) => res(code ?? sig ?? 'unknown'));
  });
  const kill = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  process.once('exit', kill);
  return {
    child,
    lines,
    exited,
    kill,
    waitFor: (re) => {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((res, rej) => {
        waiters.push({ re, res });
        void exited.then((c) => rej(new Error(`QEMU exited (${String(c)}) before a line matched ${String(re)}:\n${lines.slice(-20).join('\n')}`)));
      });
    },
  };
}
