/**
 * Crash and reboot of the non-secure partition in the middle of the signer stream, with the real
 * example partitions from dist/. Only counters: what the secure service delivered (a tally in secure RAM), what the
 * client saw acknowledged (its journal in ns-ram, kept over the reboot), the reboot record, the secure ticks.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine } from '../../dist/src/hypervisor/machine.js';
import type { CrashMode } from '../../dist/src/hypervisor/partition-worker.js';
import { summarize } from '../../dist/src/hypervisor/report.js';
import { example as ex, expectRecoveredStream, runCrashedStream, user } from './stream-recovery.js';

const TOTAL = 400;
const K = 150;

describe('the non-secure partition dies mid-stream and is rebooted', () => {
  const cases: Array<[1 | 2, CrashMode]> = [
    [1, 'terminate'],
    [1, 'throw'],
    [2, 'terminate'],
    [2, 'exit'],
  ];
  for (const [cores, mode] of cases) {
    it(`cores ${cores}, ${mode} at message ${K}: every acknowledged request delivered exactly once, the secure side kept running`, async () => {
      const r = await runCrashedStream({ cores, mode, total: TOTAL, k: K });
      expectRecoveredStream(r, TOTAL, K, mode);
    });
  }

  it('a guest that dies at every boot is rebooted maxReboots times, then the run ends; the secure side never stops', async () => {
    const fx = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
    const r = await runMachine({
      cores: 1,
      rpmsg: false,
      timeoutMs: 20_000,
      maxReboots: 2,
      afterNsExitMs: 20,
      secure: { module: fx('ticker-secure.mjs') },
      nonsecure: { module: fx('throwing-nonsecure.mjs') },
    });
    expect(r.reboots!.map((b) => b.boot)).toEqual([0, 1]);
    expect(r.reboots!.every((b) => b.secureAcked && /hostile guest gives up/.test(b.reason))).toBe(true);
    expect(r.nonsecure.outcome?.status).toBe('threw');
    expect(r.secure.crash).toBeUndefined();
    expect(user(r.secure)['ticks']).toBeGreaterThan(0);
    expect((r.secure.report?.['port'] as Record<string, number>)['peerResets']).toBe(2);
  });

  it('without reboots allowed, a crash ends the run and is reported', async () => {
    const r = await runMachine({
      cores: 2,
      timeoutMs: 20_000,
      crash: { atMessage: 20, mode: 'terminate' },
      secure: { module: ex('secure-signer.js') },
      nonsecure: { module: ex('nonsecure-client.js'), args: { messages: TOTAL } },
    });
    expect(r.reboots).toHaveLength(0);
    expect(r.nonsecure.crash).toMatch(/terminated by the hypervisor/);
    expect(r.secure.crash).toBeUndefined();
    expect(summarize(r).ok).toBe(false);
  });
});
