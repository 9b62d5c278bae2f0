/** The public entry points of the package (package.json "exports"), resolved by name as a user would import them. */
import { describe, expect, it } from 'vitest';

describe('package exports', () => {
  it('tz-virtio/guest, tz-virtio/hypervisor and the root expose the guest API and the machine', async () => {
    const guest = await import('tz-virtio/guest');
    const hv = await import('tz-virtio/hypervisor');
    const root = await import('tz-virtio');
    for (const k of ['GuestRuntime', 'RtScheduler', 'BackgroundWork', 'SmcCall', 'IrqLine', 'GuestError']) expect(k in guest, k).toBe(true);
    for (const k of ['runMachine', 'summarize', 'formatSummary', 'scenario', 'SCENARIO_NAMES', 'Gic', 'Monitor', 'buildPlatform']) expect(k in hv, k).toBe(true);
    expect(root.runMachine).toBe(hv.runMachine);
    expect(root.GuestRuntime).toBe(guest.GuestRuntime);
    expect(hv.SCENARIO_NAMES).toEqual(['default', 'hostile', 'echo']);
  });
});
