/**
 * The native contender's program (compiled from src/bench/native/ring-source.ts with the system C compiler) and
 * the skip path on a machine without a compiler. Runs dist/ code, like the workers do.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const compile = new URL('../../dist/src/bench/native/compile.js', import.meta.url).href;
const hasCc = ['cc', 'gcc', 'clang'].some((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

describe('native contender', () => {
  it('is skipped with the reason when no C compiler is on the PATH', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(compile)}); console.log(JSON.stringify(m.nativeBuild()))`], {
      encoding: 'utf8',
      env: { PATH: '/nonexistent', CC: '' },
      timeout: 30_000,
    });
    const b = JSON.parse(out) as { ok: boolean; reason?: string };
    expect(b.ok).toBe(false);
    expect(b.reason).toMatch(/no C compiler found/);
  });

  it.skipIf(!hasCc)('verifies every message (throughput and rtt) and rejects bad arguments; the binary is kept in build/ and reused', async () => {
    const { nativeBuild } = (await import(compile)) as typeof import('../../src/bench/native/compile.js');
    const b = nativeBuild();
    if (!b.ok) throw new Error(b.reason);
    const tp = JSON.parse(execFileSync(b.binary, ['throughput', '1024', '8', '5000', '500'], { encoding: 'utf8', timeout: 60_000 })) as Record<string, unknown>;
    expect(tp).toMatchObject({ messages: 5000, verified: 5500 });
    expect(tp['elapsedNs']).toBeGreaterThan(0);
    const rtt = JSON.parse(execFileSync(b.binary, ['rtt', '64', '100', '10'], { encoding: 'utf8', timeout: 60_000 })) as { samples: number[]; verified: number };
    expect(rtt.samples.length).toBe(100);
    expect(rtt.verified).toBe(110);
    for (const bad of [['throughput', '62', '8', '10', '1'], ['throughput', '64', '0', '10', '1'], ['rtt', '4', '10', '1'], ['nonsense']]) {
      const r = spawnSync(b.binary, bad, { encoding: 'utf8', timeout: 10_000 });
      expect(r.status, bad.join(' ')).toBe(1);
    }
    // another process finds the same binary (keyed by the source's hash, under build/, nothing in the temp dir)
    const again = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(compile)}); const b = m.nativeBuild(); console.log(b.ok ? b.binary : '')`], { encoding: 'utf8', timeout: 60_000 }).trim();
    expect(again).toBe(b.binary);
    expect(b.binary).toMatch(/build\/bench-native\/native-ring-[0-9a-f]{16}$/);
  });
});
