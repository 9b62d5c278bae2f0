/**
 * `--isolation process` runs through the same orchestration as workers, so every machine setting reaches the
 * partitions and every scenario runs: the hostile scenario (attacks on memory, SMC, interrupts, rings) with each
 * partition in its own process, and the secure executive's `rt` settings arriving in the secure process.
 */
import { describe, expect, it } from 'vitest';
import { runMachine } from '../../../dist/src/hypervisor/machine.js';
import { scenario } from '../../../dist/examples/scenarios.js';
import { summarize } from '../../../dist/src/hypervisor/report.js';

describe('process isolation: scenarios and settings', () => {
  it('hostile scenario (two cores): every attack stopped, the rt settings applied in the secure process', async () => {
    const sc = scenario('hostile');
    const r = await runMachine({
      isolation: 'process',
      cores: 2,
      timeoutMs: 30_000,
      // a raised nice value needs no privilege: the secure process must report it applied
      rt: { niceness: 3, idle: 'sleep', maxWakeLeadUs: 400 },
      secure: sc.secure,
      nonsecure: sc.nonsecure,
    });
    expect(r.isolation).toBe('process');
    expect(r.processes.map((p) => p.world)).toEqual(['secure', 'nonsecure']);
    const s = summarize(r, { scenario: sc.name, adversarial: sc.adversarial });
    expect(s.problems ?? []).toEqual([]);
    expect(s.ok).toBe(true);
    const attacks = (s as unknown as { attacks: Array<{ name: string; stopped: boolean }> }).attacks;
    expect(attacks.length).toBeGreaterThanOrEqual(10);
    for (const a of attacks) expect(a.stopped, a.name).toBe(true);
    expect(r.secure.crash).toBeUndefined();
    expect(r.secure.report?.['rtNiceness']).toBe(3);
  });
});
