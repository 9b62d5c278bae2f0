/**
 * `tz-virtio bench --only linux` rows, run small: both targets (our device, vsock_loopback) give a bandwidth and a
 * round-trip row from the same guest, and the two ratio rows follow. No timing is asserted (speed is for the bench).
 */
import { describe, expect, it } from 'vitest';
import { runLinuxRows } from '../../src/bench/experiments/linux.js';
import type { ExternalResult } from '../../src/bench/types.js';
import { umlSkipReason } from './uml.js';

const skip = umlSkipReason();
if (skip !== undefined) console.log(`skipping the Linux bench rows test: ${skip}`);

describe.skipIf(skip !== undefined)('bench --only linux', () => {
  it('measures our vsock device and vsock_loopback from the same Linux guest', { timeout: 300_000 }, async () => {
    const rows = await runLinuxRows({ quick: true, scale: 0.05 });
    expect(rows.filter((r) => 'skipped' in r)).toEqual([]);
    const ext = rows as ExternalResult[];
    for (const who of ['our vsock device', 'vsock_loopback']) {
      const tp = ext.find((r) => r.kind === 'throughput' && r.contender.includes(who));
      const rtt = ext.find((r) => r.kind === 'rtt' && r.contender.includes(who));
      expect(tp?.bytesPerSec, who).toBeGreaterThan(0);
      expect(rtt?.p50Us, who).toBeGreaterThan(0);
      expect(rtt!.p99Us!).toBeGreaterThanOrEqual(rtt!.p50Us!);
    }
    expect(ext.map((r) => r.contender)).toEqual(expect.arrayContaining(['device / loopback bandwidth', 'device / loopback RTT p50']));
  });
});
