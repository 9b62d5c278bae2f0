/**
 * Crash and reboot of the non-secure partition mid-stream: the secure worker keeps running through the outage, the
 * rebooted sender resets and restarts the device, resumes where the receiver says, and every acknowledged message
 * is delivered exactly once. Workers run compiled code from dist/.
 */
import { describe, expect, it } from 'vitest';
import { runReboot } from '../../dist/src/soak/reboot.js';

describe('crash and reboot of the non-secure partition', () => {
  it('three crashes in a stream of 20000: nothing lost, duplicated or corrupted; the secure loop never stopped', async () => {
    const r = await runReboot({ messages: 20_000, crashes: 3, seed: 5 });
    expect({ delivered: r.delivered, lost: r.lost, duplicated: r.duplicated, corrupted: r.corrupted }).toEqual({ delivered: 20_000, lost: 0, duplicated: 0, corrupted: 0 });
    expect(r.ackedAtCrash).toHaveLength(3);
    // Each reboot resumed no earlier than what the killed sender had seen acknowledged (acknowledged = delivered).
    for (let k = 0; k < 3; k++) expect(r.resumedAt[k + 1]).toBeGreaterThanOrEqual(r.ackedAtCrash[k]!);
    expect(r.secureBeatsDuringOutage.every((b) => b > 0)).toBe(true);
    expect(r.ok).toBe(true);
  });
});
