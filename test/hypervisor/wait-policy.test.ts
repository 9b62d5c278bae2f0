/**
 * The machine config's per-core wait policy (`waitPolicy`, `--wait-policy`): validation with a typed error naming the
 * rule, defaults, and a real two-core run whose cores report the policy they waited with.
 */
import { describe, expect, it } from 'vitest';
import { coreWaitPolicy } from '../../src/hypervisor/wait-policy.js';
import { isHypervisorError } from '../../src/hypervisor/errors.js';
import { runMachine } from '../../dist/src/hypervisor/machine.js';
import { scenario } from '../../dist/src/hypervisor/scenarios.js';

describe('coreWaitPolicy', () => {
  it('defaults to block for both cores; one policy applies to both; an object sets each core', () => {
    expect(coreWaitPolicy(undefined, 'secure')).toBe('block');
    expect(coreWaitPolicy('poll', 'secure')).toBe('poll');
    expect(coreWaitPolicy('poll', 'nonsecure')).toBe('poll');
    expect(coreWaitPolicy({ secure: 'spin-then-block' }, 'secure')).toBe('spin-then-block');
    expect(coreWaitPolicy({ secure: 'spin-then-block' }, 'nonsecure')).toBe('block');
    expect(coreWaitPolicy({ nonsecure: 'peer-aware' }, 'nonsecure')).toBe('peer-aware');
  });

  it('rejects unknown policies, unknown keys and other types with HV_ERR_BAD_CONFIG', () => {
    for (const bad of ['spin', 42, null, ['poll'], { secure: 'fast' }, { core0: 'poll' }]) {
      let err: unknown;
      try {
        coreWaitPolicy(bad, 'secure');
      } catch (e) {
        err = e;
      }
      expect(isHypervisorError(err, 'HV_ERR_BAD_CONFIG')).toBe(true);
      expect((err as Error).message).toMatch(/wait policy is block, spin-then-block, poll or peer-aware/);
    }
  });
});

describe('a two-core machine with a wait policy per core', () => {
  it('runs the default scenario cleanly, each core reporting its own policy and how its waits ended', async () => {
    const sc = scenario('default');
    const r = await runMachine({
      cores: 2,
      timeoutMs: 60_000,
      waitPolicy: { secure: 'spin-then-block', nonsecure: 'poll' },
      secure: sc.secure,
      nonsecure: { ...sc.nonsecure, args: { ...(sc.nonsecure.args ?? {}), messages: 200 } },
    });
    expect(r.nonsecure.outcome?.status).toBe('returned');
    const port = (p: { report?: Record<string, unknown> | undefined }): Record<string, unknown> => (p.report?.['port'] ?? {}) as Record<string, unknown>;
    expect(port(r.secure)['waitPolicy']).toBe('spin-then-block');
    expect(port(r.nonsecure)['waitPolicy']).toBe('poll');
    // poll never sleeps: every wait of the non-secure core ended while spinning
    expect(port(r.nonsecure)['waitSpinMisses']).toBe(0);
    expect(Number(port(r.nonsecure)['waitSpinHits'])).toBeGreaterThan(0);
    expect(Number(port(r.secure)['waitSpinHits']) + Number(port(r.secure)['waitSpinMisses'])).toBeGreaterThan(0);
  }, 90_000);

  it('one core ignores the policy (the waiting world does not run on a single core)', async () => {
    const sc = scenario('default');
    const r = await runMachine({
      cores: 1,
      timeoutMs: 60_000,
      waitPolicy: 'poll',
      secure: sc.secure,
      nonsecure: { ...sc.nonsecure, args: { ...(sc.nonsecure.args ?? {}), messages: 100 } },
    });
    expect(r.nonsecure.outcome?.status).toBe('returned');
    expect((r.secure.report?.['port'] as Record<string, unknown>)['waitPolicy']).toBe('block');
  }, 90_000);
});
