/**
 * RPMsg carried by the virtio-mmio transport in a machine run (`"transport": "mmio"` and
 * `{"type": "rpmsg", "transport": "mmio"}`): the registry's RpmsgDevice / RpmsgDriver in their own mmio window,
 * ctx.rpmsg unchanged for the guests. Run from dist/; counters and the per-device report only, no timing.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runMachine, type MachineConfig } from '../../dist/src/hypervisor/machine.js';

const fx = (name: string) => fileURLToPath(new URL(`../../examples/devices/${name}`, import.meta.url));
const user = (r: { report?: Record<string, unknown> | undefined }) => (r.report?.['user'] ?? {}) as Record<string, unknown>;
const devs = (r: { report?: Record<string, unknown> | undefined }) => (r.report?.['devices'] ?? []) as Array<Record<string, any>>;

const base = (over: Partial<MachineConfig>): MachineConfig => ({
  secure: { module: fx('secure.mjs') },
  nonsecure: { module: fx('nonsecure.mjs'), args: { count: 30 } },
  timeoutMs: 60_000,
  transport: 'mmio',
  devices: [{ type: 'rpmsg', transport: 'mmio' }, { type: 'rng' }],
  ...over,
});

describe('RPMsg over a virtio-mmio window in a machine run', () => {
  for (const [cores, isolation] of [[1, 'worker'], [2, 'worker'], [2, 'process']] as const) {
    it(`echoes every message through ctx.rpmsg with name service, beside virtio-entropy (cores ${cores}, ${isolation})`, async () => {
      const r = await runMachine(base({ cores, isolation }));
      expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
      const ns = user(r.nonsecure);
      expect(ns['messages.received']).toBe(30);
      expect(ns['messages.corrupted']).toBe(0);
      expect(ns['rng.distinct']).toBe(30);
      expect(ns['devicesSeen']).toBe('rpmsg,rng');
      expect(r.rpmsg).toBeUndefined();
      expect(r.devices.map((d) => [d.type, d.transport, d.deviceId, d.notifyIds])).toEqual([
        ['rpmsg', 'mmio', 7, [0, 1]],
        ['rng', 'mmio', 4, [2]],
      ]);
      const drv = devs(r.nonsecure).find((d) => d['type'] === 'rpmsg')!;
      const dev = devs(r.secure).find((d) => d['type'] === 'rpmsg')!;
      expect(drv).toMatchObject({ transport: 'mmio', role: 'driver', state: 'live' });
      expect(dev).toMatchObject({ transport: 'mmio', role: 'device', state: 'live' });
      // 30 echoes received by the driver, plus the name-service announcement of "echo"
      expect(drv['messages']).toMatchObject({ sent: 30, received: 31, corrupted: 0 });
      expect(dev['messages']).toMatchObject({ sent: 31, received: 30, corrupted: 0 });
      expect(r.faultCount).toBe(0);
    });
  }

  it('brings RPMsg up again after the non-secure partition is rebooted', async () => {
    const r = await runMachine(base({ cores: 2, crash: { atMessage: 10 }, maxReboots: 1 }));
    expect(r.reboots?.length).toBe(1);
    expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
    expect(user(r.nonsecure)['messages.received']).toBe(30);
    expect(devs(r.secure).find((d) => d['type'] === 'rpmsg')).toMatchObject({ state: 'live' });
  });

  it('refuses rpmsg over mmio on a resource-table channel, an unknown transport, or a secure RPMsg host, before booting', async () => {
    await expect(runMachine(base({ transport: 'rsc-table' }))).rejects.toThrow(/BAD_CONFIG.*needs the channel's transport to be mmio/);
    await expect(runMachine(base({ devices: [{ type: 'rpmsg', transport: 'pci' }] }))).rejects.toThrow(/rsc-table or mmio/);
    await expect(runMachine(base({ rpmsg: { host: 'secure' } }))).rejects.toThrow(/rpmsg.host must be nonsecure/);
  });
});
