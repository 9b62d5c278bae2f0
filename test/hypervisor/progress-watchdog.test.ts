/**
 * The hypervisor's progress watchdog: a partition that runs guest code without calling into ctx (which JavaScript
 * cannot interrupt) ends the run within the watchdog's limit, named for what it is, instead of holding the core until
 * the run's timeout. Partitions that wait in ctx, or await a Node promise, for longer than the limit are not stuck.
 * "Fast" is checked without a clock: the run has a 60 s timeout and the non-secure client waits up to 10 s for its
 * service, so the run must end with timedOut false and the client stopped by the machine (not given up by itself).
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine, type MachineConfig } from '../../dist/src/hypervisor/machine.js';
import { summarize } from '../../dist/src/hypervisor/report.js';
import { ProgressWatchdog, type ProgressSample } from '../../dist/src/hypervisor/progress-watchdog.js';

const fx = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('ProgressWatchdog (a deterministic clock)', () => {
  const make = (samples: ProgressSample[], limitMs = 1000) => {
    let i = 0;
    const fired: number[] = [];
    const dog = new ProgressWatchdog(() => samples[Math.min(i++, samples.length - 1)]!, limitMs, (ms) => fired.push(ms), 100);
    return { dog, fired };
  };
  const run = (dog: ProgressWatchdog, steps: number, from = 0, stepMs = 100) => {
    for (let k = 1; k <= steps; k++) dog.check(from + k * stepMs);
  };

  it('fires once when the probe stops moving for the limit', () => {
    const { dog, fired } = make([1, 2, 3, 3]);
    run(dog, 30);
    expect(fired.length).toBe(1);
    expect(fired[0]).toBeGreaterThanOrEqual(1000);
  });
  it('never fires while the probe moves or the partition waits in ctx', () => {
    let n = 0;
    const moving = new ProgressWatchdog(() => ++n, 1000, () => expect.unreachable(), 100);
    run(moving, 100);
    const { dog, fired } = make([1, 2, 'waiting']);
    run(dog, 100);
    expect(fired).toEqual([]);
  });
  it('is not armed before the partition ran at all (probe still 0)', () => {
    const { dog, fired } = make([0]);
    run(dog, 100);
    expect(fired).toEqual([]);
  });
  it('does not blame the partition for a gap in its own sampling (the hypervisor thread was starved)', () => {
    const { dog, fired } = make([1, 1]);
    dog.check(100);
    dog.check(900); // 800 ms gap: more than half the limit, counting restarts here
    dog.check(1000);
    dog.check(1800);
    expect(fired).toEqual([]);
    run(dog, 10, 1800);
    expect(fired.length).toBe(1);
  });
  it('limit 0 is off', () => {
    const dog = new ProgressWatchdog(() => 1, 0, () => expect.unreachable());
    dog.start();
    dog.stop();
  });
});

const client = { module: fx('wake-nonsecure.mjs'), args: { findTimeoutUs: 10_000_000 } };
const machine = (c: Partial<MachineConfig> & Pick<MachineConfig, 'secure'>) => runMachine({ cores: 1, timeoutMs: 60_000, maxReboots: 0, nonsecure: client, ...c });

describe('a secure partition stuck in guest code ends the run at once', () => {
  for (const cores of [1, 2] as const) {
    it(`one that never calls into ctx (cores: ${cores})`, async () => {
      const r = await machine({ cores, secure: { module: fx('spin-secure.mjs') } });
      expect(r.timedOut).toBe(false);
      expect(r.nonsecure.outcome?.status).toBe('stopped');
      expect(r.secure.crash).toMatch(/^the secure partition never called into ctx: its main runs without an API call .*the watchdog ended it after \d+ ms without progress$/);
      expect(summarize(r).problems.join('; ')).toMatch(/never called into ctx/);
    });
    it(`one that stops calling into ctx after serving (cores: ${cores})`, async () => {
      const r = await machine({ cores, secure: { module: fx('stalling-secure.mjs') }, nonsecure: { module: fx('spinning-free-client.mjs') } });
      expect(r.timedOut).toBe(false);
      expect(r.secure.crash).toMatch(/^the secure partition stopped calling into ctx: no API call and no wait in ctx for \d+ ms/);
      expect(summarize(r).ok).toBe(false);
    });
  }
  it('with --isolation process too', async () => {
    const r = await machine({ cores: 1, isolation: 'process', secure: { module: fx('spin-secure.mjs') } });
    expect(r.timedOut).toBe(false);
    expect(r.secure.crash).toMatch(/the secure partition never called into ctx/);
  });
  it('progressWatchdogMs is configurable and checked', async () => {
    await expect(machine({ progressWatchdogMs: -1, secure: { module: fx('spin-secure.mjs') } })).rejects.toThrow(/progressWatchdogMs must be a non-negative integer/);
    // off: the run lasts until its (short) timeout, and the partition is then named by the stop path
    const r = await machine({ progressWatchdogMs: 0, timeoutMs: 3000, secure: { module: fx('spin-secure.mjs') } });
    expect(r.timedOut).toBe(true);
    expect(r.secure.crash).toMatch(/never called into ctx: .*terminated after \d+ ms$/);
  });
});

describe('a non-secure partition stuck in guest code', () => {
  for (const cores of [1, 2] as const) {
    it(`ends the run at once (cores: ${cores})`, async () => {
      const r = await machine({ cores, secure: { module: fx('ticker-secure.mjs') }, nonsecure: { module: fx('spinning-nonsecure.mjs') } });
      expect(r.timedOut).toBe(false);
      expect(r.secure.crash).toBeUndefined();
      expect(r.nonsecure.crash).toMatch(/^the non-secure partition stopped calling into ctx: no API call and no wait in ctx for \d+ ms/);
      expect(summarize(r).ok).toBe(false);
    });
  }
  it('is rebooted when reboots are allowed (each boot is watched afresh)', async () => {
    const r = await machine({ maxReboots: 1, secure: { module: fx('ticker-secure.mjs') }, nonsecure: { module: fx('spinning-nonsecure.mjs') } });
    expect(r.timedOut).toBe(false);
    expect(r.reboots?.length).toBe(1);
    expect(r.reboots?.[0]?.reason).toMatch(/stopped calling into ctx/);
    expect(r.nonsecure.crash).toMatch(/stopped calling into ctx/);
  });
});

describe('slow is not stuck', () => {
  for (const cores of [1, 2] as const) {
    it(`a secure guest that awaits a Node timer, then waits in ctx, each longer than the limit (cores: ${cores})`, async () => {
      const r = await machine({ cores, progressWatchdogMs: 500, secure: { module: fx('patient-secure.mjs'), args: { waitMs: 1500 } } });
      expect(r.secure.crash).toBeUndefined();
      expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
      expect(summarize(r).problems).toEqual([]);
    });
  }
});
