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

/** Environment for spawning linux.uml: the xstate shim preloaded. */
export function umlEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const s = umlXstateShim();
  if ('reason' in s) return { ...base };
  const pre = base['LD_PRELOAD'];
  return { ...base, LD_PRELOAD: pre ? `${s.path}:${pre}` : s.path };
}
