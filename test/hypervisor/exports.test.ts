/** The public entry points of the package (package.json "exports"), resolved by name as a user would import them. */
import { describe, expect, it } from 'vitest';

describe('package exports', () => {
  it('tz-virtio/guest, tz-virtio/hypervisor and the root expose the guest API and the machine', async () => {
    const guest = await import('tz-virtio/guest');
    const hv = await import('tz-virtio/hypervisor');
    const root = await import('tz-virtio');
    for (const k of ['GuestRuntime', 'RtScheduler', 'BackgroundWork', 'SmcCall', 'IrqLine', 'GuestError']) expect(k in guest, k).toBe(true);
    for (const k of ['runMachine', 'summarize', 'formatSummary', 'Gic', 'Monitor', 'buildPlatform']) expect(k in hv, k).toBe(true);
    // scenarios are application content: they live with the examples, not in the hypervisor
    expect('SCENARIO_NAMES' in hv).toBe(false);
    expect(root.runMachine).toBe(hv.runMachine);
    expect(root.GuestRuntime).toBe(guest.GuestRuntime);
  });

  it('every layer a user is told about has its entry point: rpmsg, transport, host, devices', async () => {
    const rpmsg = await import('tz-virtio/rpmsg');
    const transport = await import('tz-virtio/transport');
    const host = await import('tz-virtio/host');
    const entropy = await import('tz-virtio/entropy');
    const devices = await import('tz-virtio/devices');
    for (const k of ['RpmsgHost', 'RpmsgRemote', 'planRpmsgRegion', 'decodeResourceTable']) expect(k in rpmsg, k).toBe(true);
    for (const k of ['planRscTable', 'RscTableDeviceTransport', 'RscTableDriverTransport', 'MmioDeviceTransport', 'MmioDriverTransport', 'LoopbackTransport', 'TransportError']) expect(k in transport, k).toBe(true);
    expect(Object.keys(host).length).toBeGreaterThan(0);
    for (const k of ['EntropyDevice', 'EntropyDriver']) expect(k in entropy, k).toBe(true);
    expect(devices.DEVICE_TYPES).toEqual(['rpmsg', 'rng', 'console', 'vsock']);
    const vsockMod = await import('tz-virtio/vsock');
    for (const k of ['VsockDevice', 'VsockDriver']) expect(k in vsockMod, k).toBe(true);
    const consoleMod = await import('tz-virtio/console');
    for (const k of ['ConsoleDevice', 'ConsoleDriver']) expect(k in consoleMod, k).toBe(true);
  });
});
