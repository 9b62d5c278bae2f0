/**
 * The hostile non-secure partition (examples/hostile-nonsecure.ts) against the default secure partition, through
 * the whole machine in both core modes: every attack is stopped, each ring attack ends in DEVICE_NEEDS_RESET (or a
 * drop) and the secure service answers again after the channel reset; the secure partition never crashes.
 * Deadlines are measured by `tz-virtio run`, not asserted here (no timed assertions in unit tests).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runMachine } from '../../dist/src/hypervisor/machine.js';

const mod = (p: string) => fileURLToPath(new URL(`../../dist/examples/${p}`, import.meta.url));

describe('hostile non-secure partition', () => {
  it.each([1, 2] as const)('%i core(s): every attack is stopped and the service keeps answering', async (cores) => {
    const r = await runMachine({ cores, secure: { module: mod('secure-signer.js') }, nonsecure: { module: mod('hostile-nonsecure.js'), args: { stormNotifies: 5000 } }, timeoutMs: 60_000 });
    const user = (r.nonsecure.report?.['user'] ?? {}) as Record<string, unknown>;
    expect(r.nonsecure.crash).toBeUndefined();
    expect(r.secure.crash).toBeUndefined();
    expect(user['baseline.answered']).toBe(true);
    const attacks = Object.entries(user).filter(([k]) => k.startsWith('attack.'));
    expect(attacks.length).toBe(16);
    for (const [k, v] of attacks) expect(String(v), k).toMatch(/^stopped/);
    expect(user['ringAttacks.answeredAfterReset']).toBe(6);
    expect(r.faultCount).toBeGreaterThanOrEqual(3);
    expect(r.faults.every((f) => f.world === 'nonsecure')).toBe(true);
  });
});
