/**
 * The machine with real partition workers (run from dist/: the test script builds first). No timing assertions:
 * only counters written by the guests and records kept by the hypervisor.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine, type MachineConfig } from '../../dist/src/hypervisor/machine.js';
import { summarize } from '../../dist/src/hypervisor/report.js';

const fx = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const run = (cfg: Partial<MachineConfig> & Pick<MachineConfig, 'secure' | 'nonsecure'>) => runMachine({ rpmsg: false, timeoutMs: 20_000, ...cfg });
const user = (r: { report?: Record<string, unknown> | undefined }) => (r.report?.['user'] ?? {}) as Record<string, unknown>;

describe('isolation: non-secure accesses at every secure segment boundary', () => {
  // secure runs: segment 3 and 15 (so boundaries at 0x0c000000, 0x10000000 and 0x3c000000, 0x40000000)
  const platform = { secureSegments: [3, 15], nsRam: { base: 0x2000_0000 } };
  const boundaries = [0x0c00_0000, 0x1000_0000, 0x3c00_0000, 0x4000_0000];
  for (const cores of [1, 2] as const) {
    it(`blocks and records every one, secure accesses to non-secure memory succeed (cores: ${cores})`, async () => {
      const r = await run({
        cores,
        platform,
        secure: { module: fx('isolation-secure.mjs') },
        nonsecure: { module: fx('isolation-nonsecure.mjs'), args: { boundaries } },
        afterNsExitMs: 20,
      });
      const ns = user(r.nonsecure);
      expect(r.nonsecure.outcome?.status).toBe('returned');
      expect(ns['attempted']).toBeGreaterThan(200);
      expect(ns['blocked']).toBe(ns['attempted']);
      expect(ns['leaked']).toBe(0);
      expect(ns['wrongCode']).toBe(0);
      // recorded by the hypervisor, one per attempt, with address, world and access kind
      expect(r.faultCount).toBe(ns['attempted']);
      expect(r.faults.every((f) => f.world === 'nonsecure' && f.kind === 'security')).toBe(true);
      expect(new Set(r.faults.map((f) => f.access))).toEqual(new Set(['read', 'write']));
      for (const f of r.faults) expect(boundaries.some((b) => Math.abs(f.addr - b) <= 8)).toBe(true);
      // secure side: its RAM and non-secure memory both work; the guest went on after its aborts
      expect(user(r.secure)['ownRam']).toBe(0xdeadbeef);
      expect(ns['marker']).toBe(0xc0ffee);
      // and nothing ever reached secure RAM: the secure window is not in the non-secure worker at all
      const sram = new Uint8Array(r.backing.secureRam.buffer!, 0, 16);
      expect([...sram.subarray(4)].every((b) => b === 0)).toBe(true);
      expect(summarize(r).securityFaults.blocked).toBe(ns['attempted']);
    });
  }
});

describe('scheduling', () => {
  it('one core: while the secure guest is busy the non-secure guest makes no progress', async () => {
    const r = await run({
      cores: 1,
      preemptTimeoutUs: 5_000_000,
      secure: { module: fx('busy-secure.mjs') },
      nonsecure: { module: fx('busy-nonsecure.mjs') },
    });
    const s = user(r.secure);
    expect(r.nonsecure.outcome?.status).toBe('returned');
    expect(s['rounds']).toBe(5);
    expect(s['maxDelta']).toBe(0);
    expect(user(r.nonsecure)['steps']).toBeGreaterThan(0);
    const mon = summarize(r);
    // each busy job took the core back from a running non-secure guest, which stopped at its next API call
    expect(mon.preemptionLatencyUs.count).toBeGreaterThan(0);
    expect(mon.preemptionLatencyUs.timeouts).toBe(0);
    expect(mon.worldSwitches).toBeGreaterThan(0);
  });

  it('two cores: both worlds make progress concurrently', async () => {
    const r = await run({ cores: 2, secure: { module: fx('busy-secure.mjs') }, nonsecure: { module: fx('busy-nonsecure.mjs') } });
    const s = user(r.secure);
    expect(s['rounds']).toBe(5);
    expect(s['minDelta']).toBeGreaterThan(0);
    expect(summarize(r).worldSwitches).toBe(0);
  });
});

describe('a failing non-secure guest does not take the secure partition down', () => {
  const cases: Array<[string, string, string]> = [
    ['throws', 'throwing-nonsecure.mjs', 'threw'],
    ['calls process.exit', 'exiting-nonsecure.mjs', 'crashed'],
    ['exports no main', 'nomain-nonsecure.mjs', 'threw'],
  ];
  for (const [what, file, status] of cases) {
    it(`when it ${what}`, async () => {
      const r = await run({ cores: 1, secure: { module: fx('ticker-secure.mjs') }, nonsecure: { module: fx(file) }, afterNsExitMs: 60 });
      const sum = summarize(r);
      expect(sum.partitions.nonsecure.status).toBe(status);
      expect(sum.partitions.nonsecure.error).toBeTruthy();
      expect(r.secure.crash).toBeUndefined();
      expect(r.secure.outcome?.status).toBe('returned');
      expect(user(r.secure)['ticks']).toBeGreaterThan(0);
      expect(sum.ok).toBe(false);
    });
  }

  it('when it spins forever without an API call (one core): the secure ticks go on, preemption timeouts are counted', async () => {
    const r = await run({ cores: 1, preemptTimeoutUs: 1000, timeoutMs: 400, secure: { module: fx('ticker-secure.mjs') }, nonsecure: { module: fx('spinning-nonsecure.mjs') } });
    expect(r.timedOut).toBe(true);
    expect(r.secure.crash).toBeUndefined();
    expect(user(r.secure)['ticks']).toBeGreaterThan(3);
    expect(summarize(r).preemptionLatencyUs.timeouts).toBeGreaterThan(0);
    // named for what it is, not as a worker that exited
    expect(r.nonsecure.crash).toMatch(/the non-secure partition did not stop within 300 ms and made no call into ctx meanwhile/);
  });
});
