/**
 * The vsock driver and device in two worker_threads over one SharedArrayBuffer (built code from dist/: run
 * `npx tsc -p tsconfig.json` first): 100k 64-byte records streamed from the guest to the host's echo server and back,
 * every byte verified, through credit flow control, on split and packed rings, with doorbell-word notifications.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PhysicalMemory, VirtioFeature, features, packedRingSizes, splitLegacyLayout } from '../../src/virtio/index.js';
import { VsockDevice, VsockDriver } from '../../src/vsock/index.js';

const DIST = new URL('../../dist/src/', import.meta.url);
const WORKER = new URL('./fixtures/vsock-worker.mjs', import.meta.url);

type Stats = Record<string, unknown> & { bad: number; firstBad: string; finished: boolean };

function runWorker(workerData: unknown): Promise<Stats> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData });
    w.once('message', (m: Stats) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`worker exited with ${code}`))));
  });
}

async function exchange(packed: boolean, count: number) {
  const base = 0x4000_0000;
  const n = 128;
  const align = (x: number) => Math.ceil(x / 4096) * 4096;
  let at = base;
  const plans = [0, 1, 2].map(() => {
    const start = at;
    if (packed) {
      const s = packedRingSizes(n);
      at = align(start + s.descBytes + 8);
      return { n, packed: { desc: start, driverEvent: start + s.descBytes, deviceEvent: start + s.descBytes + 4 } };
    }
    const l = splitLegacyLayout(start, n, 4096);
    at = align(start + l.totalBytes);
    return { n, split: { desc: l.desc, avail: l.avail, used: l.used } };
  });
  const probe = new VsockDriver({ packed, queueSize: n });
  const feats = probe.negotiate(new VsockDevice().deviceFeatures) & (packed ? ~0n : ~features(VirtioFeature.RING_PACKED));
  const pool = { base: at, size: probe.poolBytes };
  const memory = new PhysicalMemory([{ name: 'shm', base, size: align(at + pool.size - base) }]);
  const common = { dist: DIST.href, specs: memory.toSpecs(), plans, packed, features: feats, pool, guestCid: 3, count, port: 77, bellsSab: new SharedArrayBuffer(8), timeoutMs: 240_000 };
  const [dev, drv] = await Promise.all([runWorker({ ...common, role: 'device' }), runWorker({ ...common, role: 'driver' })]);
  return { dev, drv };
}

describe('vsock between two workers', () => {
  it('built code exists (run `npx tsc -p tsconfig.json` before this test)', () => {
    expect(existsSync(new URL('vsock/index.js', DIST))).toBe(true);
  });

  for (const packed of [false, true]) {
    it(`100000 records of 64 bytes echoed, every byte verified (${packed ? 'packed' : 'split'} rings)`, async () => {
      const { dev, drv } = await exchange(packed, 100_000);
      expect(drv.firstBad + dev.firstBad).toBe('');
      expect([drv.bad, dev.bad, drv.finished, dev.finished]).toEqual([0, 0, true, true]);
      expect(drv['recv']).toBe(100_000);
      expect(dev['echoed']).toBe(100_000 * 64);
      expect((drv['endpoint'] as { dropped: object }).dropped).toEqual({});
      expect((dev['endpoint'] as { dropped: object }).dropped).toEqual({});
    }, 300_000);
  }
});
