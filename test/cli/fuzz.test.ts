/** `tz-virtio fuzz` as a user runs it: every command ends by itself, bad values are refused before anything runs. */
import { describe, expect, it } from 'vitest';
import { tzv, usageError } from './helpers.js';

describe('tz-virtio fuzz: commands end', () => {
  it('replaying a printed hang reports the hang and exits 1 instead of spinning forever', async () => {
    const r = await tzv(['fuzz', '--seed', '1', '--target', 'selftest-hang', '--replay', '2', '--hang-timeout-ms', '300', '--json'], { timeoutMs: 60_000 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.hangs).toBe(1);
    expect(j.findings[0]).toMatchObject({ kind: 'hang', target: 'selftest-hang', iteration: 2 });
  });

  it('a replay of a clean case runs that one case and exits 0', async () => {
    const r = await tzv(['fuzz', '--seed', '1', '--target', 'split', '--replay', '3', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ iterations: 1, hangs: 0, crashes: 0 });
  });

  it('--hang-timeout 0 (old spelling) and --hang-timeout-ms 0 are refused with the rule, before any worker starts', async () => {
    for (const flag of ['--hang-timeout', '--hang-timeout-ms']) {
      const r = await tzv(['fuzz', flag, '0', '--iterations', '2', '--target', 'split'], { timeoutMs: 30_000 });
      usageError(r, 'fuzz', new RegExp(`${flag}: '0' must be an integer in 100\\.\\.`));
    }
  });

  it('range errors name the rule: --workers 0, --steps x, --iterations -5', async () => {
    usageError(await tzv(['fuzz', '--workers', '0']), 'fuzz', /--workers: '0' must be a positive integer up to 64/);
    usageError(await tzv(['fuzz', '--steps', 'x']), 'fuzz', /--steps: 'x' must be a positive integer/);
    usageError(await tzv(['fuzz', '--iterations', '-5']), 'fuzz', /--iterations: '-5' must be a positive integer/);
  });
});
