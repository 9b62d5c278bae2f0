/** The interrupt-storm defence and the attack records, through the machine with real workers (counters only). */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine } from '../../dist/src/hypervisor/machine.js';
import { summarize } from '../../dist/src/hypervisor/report.js';

const fx = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const user = (r: { report?: Record<string, unknown> | undefined }) => (r.report?.['user'] ?? {}) as Record<string, number>;

describe('background work of the secure executive', () => {
  it.each([false, true])('runs every unit next to the RT task (guest keeps its own idle loop: %s)', async (ownLoop) => {
    const r = await runMachine({
      cores: 2,
      rpmsg: false,
      timeoutMs: 20_000,
      secure: { module: fx('background-secure.mjs'), args: { ownLoop } },
      nonsecure: { module: fx('waiting-nonsecure.mjs') },
    });
    const s = user(r.secure);
    expect(r.secure.crash).toBeUndefined();
    expect(s['units']).toBe(50);
    if (ownLoop) expect(s['loopDone']).toBe(true);
    const bg = (r.secure.report?.['background'] as Array<Record<string, number>>)[0]!;
    expect(bg['steps']).toBe(50);
    expect(bg['errors']).toBe(0);
  });
});

describe('the RPMsg host guest API for raw ring work', () => {
  it.each([1, 2] as const)('%i core(s): layout() gives the host its rings; reset() (device-reset handshake) renegotiates, the remote re-attaches and re-announces', async (cores) => {
    const r = await runMachine({
      cores,
      timeoutMs: 20_000,
      secure: { module: fileURLToPath(new URL('../../examples/echo/secure.mjs', import.meta.url)) },
      nonsecure: { module: fx('reset-nonsecure.mjs') },
    });
    const ns = user(r.nonsecure);
    expect(r.nonsecure.outcome?.status).toBe('returned');
    expect(ns['layout.vring0']).toBe(r.rpmsg!.vring0.da);
    expect(ns['layout.vring1']).toBe(r.rpmsg!.vring1.da);
    expect(ns['layout.status']).toBe(r.rpmsg!.statusAddr);
    expect(ns['echo1']).toBe(true);
    expect(ns['echo2']).toBe(true);
    expect(ns['resets']).toBe(1);
    expect(ns['epoch2']).toBe(ns['epoch1']! + 1);
    const link = r.secure.report?.['rpmsg'] as Record<string, number>;
    expect(link['resets']).toBeGreaterThanOrEqual(1);
    expect(link['peerErrors']).toBe(0); // the remote never read the re-laid rings with stale indices
    expect((r.secure.report?.['port'] as Record<string, number>)['deviceResets']).toBe(1);
  });
});

describe('interrupt storm from the non-secure side', () => {
  it('one core: past the burst the line is masked (the secure core waits on a doorbell the storm cannot ring), the ticks go on', async () => {
    const r = await runMachine({
      cores: 1,
      rpmsg: false,
      timeoutMs: 20_000,
      afterNsExitMs: 20,
      // a low rate, so that even a slow (loaded) host runs the storm faster than it: 36 notifications over the
      // burst take >= 180 ms of masked line
      notifyRateLimit: { perSec: 200, burst: 4 },
      secure: { module: fx('ticker-secure.mjs') },
      nonsecure: { module: fx('storm-nonsecure.mjs'), args: { notifies: 40 } },
    });
    expect(r.nonsecure.outcome?.status).toBe('returned');
    expect(r.secure.crash).toBeUndefined();
    const port = r.secure.report?.['port'] as Record<string, number>;
    expect(port['notifyRatePerSec']).toBe(200);
    expect(port['maskedWaits']).toBeGreaterThan(0);
    expect(port['nsNotifies']).toBeLessThanOrEqual(40);
    expect(user(r.secure)['ticks']).toBeGreaterThan(0);
    const s = summarize(r, { adversarial: true });
    expect(s.blocked.notifications.issued).toBe(40);
    expect(s.blocked.smcRefused).toEqual({ unknown: 1, notify: 2 });
    expect(s.attacks).toEqual([
      { name: 'interrupt-storm', outcome: '40 NOTIFY SMCs', stopped: true },
      { name: 'bad-smc', outcome: '3 of 3 refused', stopped: true },
    ]);
    expect(s.ok).toBe(true);
  });

  it('two cores: notifications coalesce in the mailbox; an attack the guest saw succeed fails the run', async () => {
    const r = await runMachine({
      cores: 2,
      rpmsg: false,
      timeoutMs: 20_000,
      secure: { module: fx('ticker-secure.mjs') },
      nonsecure: { module: fx('storm-nonsecure.mjs'), args: { notifies: 5000 } },
    });
    const s = summarize(r, { adversarial: true });
    expect(s.blocked.notifications.issued).toBe(5000);
    expect(s.blocked.notifications.seen + s.blocked.notifications.coalesced).toBe(5000);
    expect(s.ok).toBe(true);
    // the same run judged with a forged "not stopped" record: the summary must fail it
    const forged = { ...r, nonsecure: { ...r.nonsecure, report: { ...r.nonsecure.report, attacks: [{ name: 'x', outcome: 'read the key', stopped: false }] } } };
    const f = summarize(forged, { adversarial: true });
    expect(f.ok).toBe(false);
    expect(f.problems.join()).toMatch(/attack x was not stopped/);
  });
});
