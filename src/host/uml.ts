/**
 * Debian's user-mode Linux (`linux.uml`, Linux 6.1, package user-mode-linux) as an ordinary host process: finding
 * it and its modules, and starting it so it runs on this host.
 *
 * On hosts whose XSAVE area is larger than UML 6.1 expects (AVX-512, AMX), UML dies in its first user process
 * ("ptrace set fp regs failed, errno = 14"); native/uml-xstate-shim.c, preloaded, makes it fall back to the legacy
 * FPU state (x87 + SSE). The shim is compiled on first use with the system C compiler into build/ (or a temp dir),
 * never committed. Consequence, stated: UML then does not preserve AVX register state across its own context
 * switches, so guest programs should not rely on AVX (the guest scripts set GLIBC_TUNABLES to keep glibc off it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDir, packageRoot } from './package-root.js';

const SHIM_SRC = join(packageRoot(), 'native', 'uml-xstate-shim.c');

/** Path of linux.uml, or undefined when user-mode-linux is not installed. */
export function findUml(): string | undefined {
  return ['/usr/bin/linux.uml'].find((p) => existsSync(p));
}

/** /usr/lib/uml/modules/<version> (the UML kernel's modules, insmod them by path), or undefined. */
export function umlModuleDir(): string | undefined {
  const base = '/usr/lib/uml/modules';
  if (!existsSync(base)) return undefined;
  const v = readdirSync(base).sort().pop();
  return v === undefined ? undefined : join(base, v);
}

let shim: { path: string } | { reason: string } | undefined;

/** The compiled xstate shim (built once per process, kept in build/), or why it could not be built. */
export function umlXstateShim(): { path: string } | { reason: string } {
  if (shim !== undefined) return shim;
  if (!existsSync(SHIM_SRC)) return (shim = { reason: `${SHIM_SRC} is missing` });
  let dir = buildDir('uml');
  if (dir === undefined) {
    const tmp = mkdtempSync(join(tmpdir(), 'tz-uml-shim-'));
    process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
    dir = tmp;
  }
  const out = join(dir, 'uml-xstate-shim.so');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(SHIM_SRC).mtimeMs) return (shim = { path: out });
  const cc = [process.env['CC'], 'cc', 'gcc', 'clang'].find((c) => c !== undefined && spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
  if (cc === undefined) return (shim = { reason: 'no C compiler (cc/gcc/clang) to build the UML xstate shim' });
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(cc, ['-shared', '-fPIC', '-O2', '-o', tmp, SHIM_SRC, '-ldl'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    return (shim = { reason: `${cc} could not build the UML xstate shim: ${(r.stderr || '').split('\n')[0] ?? ''}` });
  }
  spawnSync('mv', ['-f', tmp, out]);
  return (shim = { path: out });
}

/** Why UML cannot run here (one line), or undefined when it can. */
export function umlUnavailable(): string | undefined {
  if (findUml() === undefined) return 'linux.uml is not installed (apt-get install user-mode-linux)';
  if (umlModuleDir() === undefined) return '/usr/lib/uml/modules is missing (apt-get install user-mode-linux)';
  const s = umlXstateShim();
  if ('reason' in s) return s.reason;
  return undefined;
}

/**
 * Environment for spawning linux.uml: the xstate shim preloaded, and TMPDIR on /dev/shm when it exists (UML keeps
 * its RAM in a deleted file there; on a disk-backed TMPDIR it warns and runs slower).
 */
export function umlEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  if (existsSync('/dev/shm')) env['TMPDIR'] = '/dev/shm';
  const s = umlXstateShim();
  if ('reason' in s) return env;
  const pre = base['LD_PRELOAD'];
  env['LD_PRELOAD'] = pre ? `${s.path}:${pre}` : s.path;
  return env;
}

/**
 * glibc tunable for programs inside the guest: with the shim UML saves only x87/SSE state, so AVX/AVX-512 register
 * halves are not preserved across the guest's context switches, and glibc's AVX string functions then return
 * garbage (seen: printf printing "%s" verbatim, insmod failing with "Invalid parameters"). Masking the AVX
 * families makes glibc pick its SSE2 variants. Passed on the kernel command line, it reaches init's environment.
 */
export const UML_GUEST_GLIBC_TUNABLES = 'glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,-AVX2,-AVX,-AVX_Fast_Unaligned_Load';

export interface UmlBootOptions {
  /** Guest init program (a script on the host filesystem, which is the guest's root). */
  readonly init: string;
  /** Guest RAM in MiB. Default 64. */
  readonly memMiB?: number;
  /** Directory for UML's per-instance files (mconsole socket, pid); default UML's ~/.uml. */
  readonly umlDir?: string;
  /** Further kernel parameters; `NAME=value` ones that the kernel does not know reach init as environment. */
  readonly params?: readonly string[];
}

/**
 * Kernel command line for a UML guest whose root is the host filesystem (read-write), with `init` as PID 1, its
 * console on our stdout, GLIBC_TUNABLES and TZ_MODDIR (the module directory) in init's environment.
 */
export function umlArgs(o: UmlBootOptions): string[] {
  const args = [`mem=${o.memMiB ?? 64}M`, 'rootfstype=hostfs', 'rootflags=/', 'rw', `init=${o.init}`, 'con=null', 'con0=null,fd:1'];
  if (o.umlDir !== undefined) args.push(`uml_dir=${o.umlDir}`);
  args.push(`GLIBC_TUNABLES=${UML_GUEST_GLIBC_TUNABLES}`);
  const mod = umlModuleDir();
  if (mod !== undefined) args.push(`TZ_MODDIR=${mod}`);
  return [...args, ...(o.params ?? [])];
}
