import { describe, expect, it } from 'vitest';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { makePair, startPair } from './helpers.js';

/**
 * The steady-state data path allocates nothing per message. Measured without timing: young-generation collections
 * (scavenges) while 10^6 messages flow. A path allocating even one small object per message (a subarray is ~100
 * bytes) triggers dozens; the tolerance of 3 covers the runner's and the JIT's incidental allocations.
 */
async function scavengesDuring(work: () => void): Promise<number> {
  let minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  work();
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  return minor;
}

describe('no allocation per message', () => {
  for (const dir of ['h2r', 'r2h'] as const) {
    for (const mode of ['copy', 'zero-copy'] as const) {
      it(`${dir} ${mode}: 10^6 messages of 64 B with a callback reading data`, async () => {
        const p = makePair();
        startPair(p);
        const [tx, rx] = dir === 'h2r' ? [p.host, p.remote] : [p.remote, p.host];
        let got = 0;
        let sum = 0;
        rx.createEndpoint({ addr: 2000, onMessage: (m) => { sum += m.data[63]! + m.len; got++; } });
        const ep = tx.createEndpoint({ addr: 1500, dst: 2000 });
        const payload = new Uint8Array(64).fill(1);
        const run = (n: number): void => {
          let sent = 0;
          while (sent < n) {
            if (mode === 'copy') {
              while (sent < n && ep.trySend(payload)) sent++;
            } else {
              for (;;) {
                if (sent >= n) break;
                const b = ep.getTxBuffer();
                if (b === undefined) break;
                b.data[63] = 1;
                ep.sendNoCopy(b, 64);
                sent++;
              }
            }
            rx.poll();
            tx.poll();
          }
        };
        run(200_000); // warm-up: JIT, views of every buffer
        const minor = await scavengesDuring(() => run(1_000_000));
        expect(got).toBe(1_200_000);
        expect(sum).toBe(1_200_000 * 65);
        expect(minor).toBeLessThanOrEqual(3);
      });
    }
  }
});
