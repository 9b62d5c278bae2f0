/**
 * Lost wake-ups: a secure service with no RT task has nothing that wakes its executive but interrupts. Every service
 * must be found anyway — the non-secure driver's start-up kick (after DRIVER_OK, as Linux's rpmsg probe does) wakes
 * the sleeping secure device, which attaches and announces. The machine boots the non-secure partition only once the
 * secure main was called (LTZVisor's order), so the secure side is always asleep before DRIVER_OK here: without the
 * kick these runs fail every time, not by chance. Counters only, no timing assertions.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine, type MachineConfig } from '../../dist/src/hypervisor/machine.js';
import { summarize } from '../../dist/src/hypervisor/report.js';

const fx = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const user = (r: { report?: Record<string, unknown> | undefined }) => (r.report?.['user'] ?? {}) as Record<string, unknown>;

const TEN = Array.from({ length: 10 }, (_, i) => `svc-${i}`);
const services: Array<{ what: string; args: Record<string, unknown>; names: string[] }> = [
  { what: 'a service with no RT task', args: {}, names: ['echo'] },
  { what: 'one that creates its endpoint 300 ms late (await of a Node timer)', args: { delayMs: 300 }, names: ['echo'] },
  { what: 'one that creates its endpoint 300 ms late (await ctx.waitForInterrupt)', args: { delayMs: 300, delayWith: 'ctx' }, names: ['echo'] },
  { what: 'one that creates ten endpoints', args: { names: TEN }, names: TEN },
];

async function check(cfg: Pick<MachineConfig, 'cores' | 'isolation'>, args: Record<string, unknown>, names: string[]): Promise<void> {
  const r = await runMachine({
    ...cfg,
    timeoutMs: 30_000,
    maxReboots: 0,
    secure: { module: fx('wake-secure.mjs'), args },
    nonsecure: { module: fx('wake-nonsecure.mjs'), args: { names } },
  });
  expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
  expect(user(r.nonsecure)['found']).toBe(names.length);
  expect(user(r.nonsecure)['messages.received']).toBe(names.length * 3);
  expect(r.timedOut).toBe(false);
  expect(summarize(r).problems).toEqual([]);
}

describe('a secure service without an RT task is found every time', () => {
  for (const cores of [1, 2] as const) {
    for (const s of services) {
      it(`${s.what} (cores: ${cores})`, () => check({ cores }, s.args, s.names));
    }
  }
  for (const cores of [1, 2] as const) {
    it(`with --isolation process: no RT task, and ten endpoints created late (cores: ${cores})`, async () => {
      await check({ cores, isolation: 'process' }, {}, ['echo']);
      await check({ cores, isolation: 'process' }, { names: TEN, delayMs: 300 }, TEN);
    });
  }
});
