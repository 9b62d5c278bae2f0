/**
 * Crash and reboot of the non-secure partition in the middle of the signer stream (issue 6, item 3), with the real
 * example partitions from dist/. Only counters: what the secure service delivered (a tally in secure RAM), what the
 * client saw acknowledged (its journal in ns-ram, kept over the reboot), the reboot record, the secure ticks.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine } from '../../dist/src/hypervisor/machine.js';
import type { CrashMode } from '../../dist/src/hypervisor/partition-worker.js';
import { summarize } from '../../dist/src/hypervisor/report.js';

const ex = (name: string) => fileURLToPath(new URL(`../../dist/examples/${name}`, import.meta.url));
const user = (r: { report?: Record<string, unknown> | undefined }) => (r.report?.['user'] ?? {}) as Record<string, number>;
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
      const r = await runMachine({
        cores,
        timeoutMs: 20_000,
        maxReboots: 1,
        crash: { atMessage: K, mode },
        secure: { module: ex('secure-signer.js') },
        nonsecure: { module: ex('nonsecure-client.js'), args: { messages: TOTAL } },
      });
      // the hypervisor recorded one death, reset the device, the secure side confirmed before the new boot
      expect(r.reboots).toHaveLength(1);
      expect(r.reboots![0]!.boot).toBe(0);
      expect(r.reboots![0]!.secureAcked).toBe(true);
      expect(r.reboots![0]!.reason).toMatch(mode === 'throw' ? /injected crash/ : mode === 'exit' ? /exited with code 70/ : /terminated by the hypervisor/);
      expect(r.secure.crash).toBeUndefined();
      expect(r.nonsecure.outcome?.status).toBe('returned');
      const ns = user(r.nonsecure);
      const s = user(r.secure);
      expect(ns['boot']).toBe(1);
      // the second boot resumed where the service stood, not at 0 and not past what it had sent
      expect(ns['resumedFrom']).toBeGreaterThan(0);
      expect(ns['resumedFrom']).toBeLessThanOrEqual(K);
      // the client's journal: every request of the stream acknowledged, none twice
      expect(ns['messages.sent']).toBe(TOTAL);
      expect(ns['messages.received']).toBe(TOTAL);
      expect(ns['messages.corrupted']).toBe(0);
      expect(ns['messages.acknowledgedTwice']).toBe(0);
      // the service's tally in secure RAM: each sequence number delivered exactly once
      expect(s['delivery.once']).toBe(TOTAL);
      expect(s['delivery.twice']).toBe(0);
      expect(s['delivery.outOfOrder']).toBe(0);
      // the link went down once and came back (remote re-attached to the re-laid rings)
      expect(s['linkResets']).toBeGreaterThanOrEqual(1);
      const link = r.secure.report?.['rpmsg'] as Record<string, number>;
      expect(link['epoch']).toBeGreaterThanOrEqual(2);
      expect(link['peerResets']).toBe(1);
      // secure ticks went on across the reboot
      expect(s['sensorSamples']).toBeGreaterThan(s['sensorSamplesAtReset']!);
      const sum = summarize(r);
      expect(sum.ok).toBe(true);
      expect(sum.reboots).toHaveLength(1);
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
