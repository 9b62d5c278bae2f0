/**
 * Builds the `native` contender's program once per process: the system C compiler ($CC, else cc, gcc, clang) turns
 * ring-source.ts into a binary in a fresh temp dir, which is removed when the process exits. No binary is ever kept
 * or committed. Without a compiler (or when the build fails) the reason is returned, and the contender is skipped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  const dir = mkdtempSync(join(tmpdir(), 'tz-bench-native-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'native-ring.c');
  const bin = join(dir, 'native-ring');
  writeFileSync(src, NATIVE_RING_SOURCE);
  const r = spawnSync(cc, ['-O2', '-std=c11', '-pthread', '-o', bin, src], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const first = (r.stderr || r.error?.message || `exit ${r.status}`).split('\n').find((l) => l.trim() !== '') ?? '';
    return (cached = { ok: false, reason: `${cc} could not build the native ring: ${first.trim()}` });
  }
  return (cached = { ok: true, binary: bin, compiler: cc });
}
