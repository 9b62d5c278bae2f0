/**
 * A channel with several VirtIO devices between real partitions (run from dist/). No timing assertions: counters
 * written by the guests and the per-device report only.
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
  timeoutMs: 40_000,
  ...over,
});

describe('a channel with RPMsg and virtio-entropy', () => {
  for (const [cores, isolation] of [[1, 'worker'], [2, 'worker'], [2, 'process']] as const) {
    it(`carries both, each on its own vdev (cores ${cores}, ${isolation})`, async () => {
      const r = await runMachine(base({ cores, isolation, devices: [{ type: 'rpmsg' }, { type: 'rng' }] }));
      expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
      const ns = user(r.nonsecure);
      expect(ns['messages.received']).toBe(30);
      expect(ns['messages.corrupted']).toBe(0);
      expect(ns['rng.zeroBlocks']).toBe(0);
      expect(ns['rng.distinct']).toBe(30);
      expect(ns['devicesSeen']).toBe('rng');
      expect(user(r.secure)['rngRole']).toBe('device');
      expect(r.devices.map((d) => [d.type, d.deviceId, d.notifyIds])).toEqual([
        ['rpmsg', 7, [0, 1]],
        ['rng', 4, [2]],
      ]);
      const [drv] = devs(r.nonsecure);
      const [dev] = devs(r.secure);
      expect(drv).toMatchObject({ type: 'rng', transport: 'rsc-table', role: 'driver', state: 'live' });
      expect(dev).toMatchObject({ type: 'rng', transport: 'rsc-table', role: 'device', state: 'live' });
      expect(drv!['bytes']).toBe(ns['rng.bytes']);
      expect(dev!['bytes']).toBe(ns['rng.bytes']);
      expect(dev!['messages'].corrupted).toBe(0);
      expect(r.faultCount).toBe(0);
    });
  }

  for (const [cores, isolation] of [[1, 'worker'], [2, 'worker'], [2, 'process']] as const) {
    it(`carries the entropy device over a virtio-mmio window beside RPMsg's table (cores ${cores}, ${isolation})`, async () => {
      const r = await runMachine(base({ cores, isolation, transport: 'mmio', devices: [{ type: 'rpmsg' }, { type: 'rng' }] }));
      expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
      const ns = user(r.nonsecure);
      expect(ns['messages.received']).toBe(30);
      expect(ns['messages.corrupted']).toBe(0);
      expect(ns['rng.distinct']).toBe(30);
      expect(r.devices.map((d) => [d.type, d.transport, d.notifyIds])).toEqual([
        ['rpmsg', 'rsc-table', [0, 1]],
        ['rng', 'mmio', [2]],
      ]);
      expect(devs(r.nonsecure)[0]).toMatchObject({ transport: 'mmio', state: 'live', bytes: ns['rng.bytes'] });
      expect(devs(r.secure)[0]).toMatchObject({ transport: 'mmio', state: 'live', bytes: ns['rng.bytes'] });
    });
  }

  for (const transport of ['rsc-table', 'mmio'] as const) {
    it(`resets every device when the non-secure partition is rebooted, and the new boot brings them up again (${transport})`, async () => {
      const r = await runMachine(base({ cores: 2, transport, devices: [{ type: 'rpmsg' }, { type: 'rng' }], crash: { atMessage: 10 }, maxReboots: 1 }));
      expect(r.reboots?.length).toBe(1);
      expect(r.reboots?.[0]?.secureAcked).toBe(true);
      expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
      const ns = user(r.nonsecure);
      expect(ns['messages.received']).toBe(30);
      expect(ns['rng.distinct']).toBe(30);
      // the device side saw the old driver go and the new one come
      expect(devs(r.secure)[0]).toMatchObject({ state: 'live' });
    });
  }

  for (const [cores, isolation, transport] of [[1, 'worker', 'rsc-table'], [2, 'worker', 'mmio'], [2, 'process', 'rsc-table']] as const) {
    it(`carries a secure log through a virtio-console port to the non-secure side (cores ${cores}, ${isolation}, ${transport})`, async () => {
      const r = await runMachine({
        cores,
        isolation,
        transport,
        devices: [{ type: 'rpmsg' }, { type: 'console', ports: ['log'] }],
        secure: { module: fileURLToPath(new URL('../../examples/console/secure.mjs', import.meta.url)) },
        nonsecure: { module: fileURLToPath(new URL('../../examples/console/nonsecure.mjs', import.meta.url)), args: { count: 200 } },
        timeoutMs: 60_000,
      });
      expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
      const ns = user(r.nonsecure);
      expect(ns['messages.received']).toBe(200);
      expect(ns['messages.lost']).toBe(0);
      expect(ns['messages.corrupted']).toBe(0);
      expect(devs(r.nonsecure)[0]).toMatchObject({ type: 'console', transport, role: 'driver', state: 'live' });
      expect(devs(r.secure)[0]!['messages'].corrupted).toBe(0);
    });
  }

  for (const transport of ['rsc-table', 'mmio'] as const) {
    it(`runs a partition pair with RPMsg, vsock and console on one channel (${transport})`, async () => {
      const fixture = (n: string) => fileURLToPath(new URL(`./fixtures/${n}`, import.meta.url));
      const r = await runMachine({
        cores: 2,
        transport,
        devices: [{ type: 'rpmsg' }, { type: 'vsock', guestCid: 5 }, { type: 'console', ports: ['log'] }],
        secure: { module: fixture('all-devices-secure.mjs') },
        nonsecure: { module: fixture('all-devices-nonsecure.mjs') },
        timeoutMs: 60_000,
      });
      expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
      expect(user(r.nonsecure)).toMatchObject({ 'rpmsg.echoed': 20, 'vsock.ok': true, 'console.ok': true, devices: 'vsock,console' });
      expect(r.devices.map((d) => d.type)).toEqual(['rpmsg', 'vsock', 'console']);
      expect(new Set(r.devices.flatMap((d) => d.notifyIds)).size).toBe(r.devices.flatMap((d) => d.notifyIds).length);
    });
  }

  it('runs a device without RPMsg', async () => {
    const r = await runMachine(base({ cores: 2, devices: [{ type: 'rng' }] }));
    expect(r.nonsecure.outcome).toEqual({ status: 'returned' });
    expect(r.rpmsg).toBeUndefined();
    expect(user(r.nonsecure)['rng.distinct']).toBe(30);
  });

  it('refuses unknown or repeated device types with BAD_CONFIG before booting anything', async () => {
    await expect(runMachine(base({ devices: [{ type: 'floppy' }] }))).rejects.toThrow(/BAD_CONFIG.*unknown device type 'floppy'/);
    await expect(runMachine(base({ devices: [{ type: 'rng' }, { type: 'rng' }] }))).rejects.toThrow(/listed twice/);
    await expect(runMachine(base({ rpmsg: false, devices: [{ type: 'rpmsg' }] }))).rejects.toThrow(/rpmsg is false/);
    await expect(runMachine(base({ transport: 'pci' as 'mmio', devices: [{ type: 'rng' }] }))).rejects.toThrow(/transport must be/);
  });
});
