/**
 * Builds the `native` contender's program once per process: the system C compiler ($CC, else cc, gcc, clang) turns
 * ring-source.ts into a binary in build/bench-native/ (ignored by git, never committed), keyed by the source's hash. Without a compiler (or when the build fails) the reason is returned, and the contender is skipped.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { buildDir } from '../../host/package-root.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATIVE_RING_SOURCE } from './ring-source.js';

export type NativeBuild = { readonly ok: true; readonly binary: string; readonly compiler: string } | { readonly ok: false; readonly reason: string };

let cached: NativeBuild | undefined;

function compilers(): string[] {
  const fromEnv = process.env['CC'];
  return [...(fromEnv ? [fromEnv] : []), 'cc', 'gcc', 'clang'];
}

/** The compiled program (built on the first call), or why it could not be built. */
export function nativeBuild(): NativeBuild {
  if (cached !== undefined) return cached;
  const cc = compilers().find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
  if (cc === undefined) return (cached = { ok: false, reason: `no C compiler found (tried ${compilers().join(', ')})` });
  // kept in build/bench-native/ under the source's hash (a rebuild only when the source changes); a temp dir that
  // this process removes at exit when build/ cannot be written
  const hash = createHash('sha256').update(NATIVE_RING_SOURCE).update(cc).digest('hex').slice(0, 16);
  let dir = buildDir('bench-native');
  if (dir === undefined) {
    const tmp = mkdtempSync(join(tmpdir(), 'tz-bench-native-'));
    process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
    dir = tmp;
  }
  const bin = join(dir, `native-ring-${hash}`);
  if (existsSync(bin)) return (cached = { ok: true, binary: bin, compiler: cc });
  const src = join(dir, `native-ring-${hash}.${process.pid}.c`);
  writeFileSync(src, NATIVE_RING_SOURCE);
  const tmpBin = `${bin}.${process.pid}.tmp`;
  const r = spawnSync(cc, ['-O2', '-std=c11', '-pthread', '-o', tmpBin, src], { encoding: 'utf8', timeout: 60_000 });
  rmSync(src, { force: true });
  if (r.status === 0) renameSync(tmpBin, bin);
  if (r.status !== 0) {
    rmSync(tmpBin, { force: true });
    const first = (r.stderr || r.error?.message || `exit ${r.status}`).split('\n').find((l) => l.trim() !== '') ?? '';
    return (cached = { ok: false, reason: `${cc} could not build the native ring: ${first.trim()}` });
  }
  return (cached = { ok: true, binary: bin, compiler: cc });
}
