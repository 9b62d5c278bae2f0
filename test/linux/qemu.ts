/**
 * QEMU as a second vhost-user front-end (Debian's qemu-system-x86 7.2, linux-image-amd64 and busybox-static): finding
 * what it needs, building a busybox initramfs at test time in a temp dir (the guest's virtio-pci and vsock modules
 * from /lib/modules, test/linux/qemu/init.sh, and vsock-echo.c compiled with gcc -static), and starting QEMU with
 * its RAM in a shared memfd and a vhost-user-vsock-pci device whose back-end is ours. Nothing built is committed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { qemuAccelerators, qemuGuestKernel, qemuUnavailable as qemuNonsecureUnavailable } from '../../src/hypervisor/linux/qemu-process.js';

const HERE = join(dirname(fileURLToPath(import.meta.url)), 'qemu');
const QEMU = 'qemu-system-x86_64';
/** The guest's modules (a subset of what qemuGuestKernel() checks for: no 9p here). */
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

/** Why this test's QEMU guest cannot run here (one line), or undefined: QEMU's own needs, and gcc for vsock-echo.c. */
export function qemuUnavailable(): string | undefined {
  const why = qemuNonsecureUnavailable();
  if (why !== undefined) return why;
  const cc = spawnSync('gcc', ['-static', '-x', 'c', '-o', '/dev/null', '-'], { input: 'int main(void){return 0;}', stdio: ['pipe', 'ignore', 'ignore'] });
  if (cc.status !== 0) return 'gcc cannot link a static program (apt-get install gcc libc6-dev)';
  return undefined;
}

/** Builds the initramfs in `dir`; returns its path. */
export function buildInitramfs(dir: string): string {
  const k = qemuGuestKernel()!;
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
  const r = spawnSync('sh', ['-c', `cd "${root}" && find . | cpio -o -H newc --quiet > "${out}"`], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`cpio failed: ${r.stderr}`);
  return out;
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
  const k = qemuGuestKernel()!;
  const mem = o.memMiB ?? 256;
  const append = ['console=ttyS0', 'panic=-1', 'quiet', 'loglevel=4', ...Object.entries(o.env).map(([n, v]) => `${n}=${v}`)].join(' ');
  const args = [
    ...qemuAccelerators(),
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
