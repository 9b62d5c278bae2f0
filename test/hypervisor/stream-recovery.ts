/**
 * Shared checks of the crash-and-reboot tests (test/hypervisor/reboot.test.ts with workers,
 * test/hypervisor/process/reboot.test.ts with processes): the same machine, so the same expectations.
 */
import { expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine, type MachineConfig, type MachineResult } from '../../dist/src/hypervisor/machine.js';
import type { CrashMode } from '../../dist/src/hypervisor/partition-worker.js';
import { summarize } from '../../dist/src/hypervisor/report.js';

export const example = (name: string) => fileURLToPath(new URL(`../../dist/examples/${name}`, import.meta.url));
export const user = (r: { report?: Record<string, unknown> | undefined }) => (r.report?.['user'] ?? {}) as Record<string, number>;

/** The default scenario's stream of `total` requests, the non-secure partition killed (`mode`) at message `k`, one reboot allowed. */
export function runCrashedStream(o: { cores: 1 | 2; mode: CrashMode; total: number; k: number }, extra: Partial<MachineConfig> = {}): Promise<MachineResult> {
  return runMachine({
    cores: o.cores,
    timeoutMs: 30_000,
    maxReboots: 1,
    crash: { atMessage: o.k, mode: o.mode },
    secure: { module: example('secure-signer.js') },
    nonsecure: { module: example('nonsecure-client.js'), args: { messages: o.total } },
    ...extra,
  });
}

/** One reboot after a `mode` crash at message `k`; the stream of `total` requests completed, each delivered exactly once. */
export function expectRecoveredStream(r: MachineResult, total: number, k: number, mode: CrashMode): void {
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
  expect(ns['resumedFrom']).toBeLessThanOrEqual(k);
  // the client's journal: every request of the stream acknowledged, none twice
  expect(ns['messages.sent']).toBe(total);
  expect(ns['messages.received']).toBe(total);
  expect(ns['messages.corrupted']).toBe(0);
  expect(ns['messages.acknowledgedTwice']).toBe(0);
  // the service's tally in secure RAM: each sequence number delivered exactly once
  expect(s['delivery.once']).toBe(total);
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
}
