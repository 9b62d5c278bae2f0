/**
 * Driver and device in two worker_threads over one SharedArrayBuffer (built code from dist/: run `npx tsc` first).
 * 100k request/response messages with sequence numbers and checksums; every byte is verified on both sides;
 * notifications go through doorbell words (Atomics.wait/notify) with suppression, and a lost notification would
 * show up as a wait that times out.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PhysicalMemory, VirtioFeature, features, splitLegacyLayout } from '../../../src/virtio/index.js';

const DIST = new URL('../../../dist/src/virtio/index.js', import.meta.url);
const DRIVER = new URL('./fixtures/split-driver.mjs', import.meta.url);
const DEVICE = new URL('./fixtures/split-device.mjs', import.meta.url);

interface Result {
  role: string;
  bad: number;
  firstBad: string;
  timeouts: number;
  broken: string | null;
  [k: string]: unknown;
}

function runWorker(url: URL, workerData: unknown): Promise<Result> {
  return new Promise((resolve, reject) => {
    const w = new Worker(url, { workerData });
    w.once('message', (m: Result) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`worker exited with ${code}`))));
  });
}

async function exchange(count: number, size: number, feats: bigint, spin: number) {
  const base = 0x2000_0000;
  const memory = new PhysicalMemory([{ name: 'shm', base, size: 0x10_0000 }]);
  const l = splitLegacyLayout(base, size, 4096);
  const bellsSab = new SharedArrayBuffer(16);
  const common = {
    specs: memory.toSpecs(),
    size,
    addrs: { desc: l.desc, avail: l.avail, used: l.used },
    features: feats,
    bufBase: base + 0x8_0000,
    slots: 2 * size,
    count,
    bellsSab,
    timeoutMs: 5000,
    spin,
    batch: 8,
  };
  const [drv, dev] = await Promise.all([runWorker(DRIVER, common), runWorker(DEVICE, common)]);
  return { drv, dev };
}

describe('split virtqueue between two workers', () => {
  it('built code exists (run `npx tsc -p tsconfig.json` before this test)', () => {
    expect(existsSync(DIST)).toBe(true);
  });

  for (const [name, feats] of [
    ['EVENT_IDX', features(VirtioFeature.EVENT_IDX)],
    ['flags only', 0n],
  ] as const) {
    it(`100000 messages, every byte verified (${name})`, async () => {
      const { drv, dev } = await exchange(100_000, 64, feats, 200);
      expect(drv.firstBad + dev.firstBad).toBe('');
      expect([drv.bad, dev.bad, drv.timeouts, dev.timeouts, drv.broken, dev.broken]).toEqual([0, 0, 0, 0, null, null]);
      expect(drv['recv']).toBe(100_000);
      expect(dev['done']).toBe(100_000);
      // Notification suppression did its job: far fewer kicks/interrupts than messages.
      expect(drv['kicks'] as number).toBeLessThan(100_000);
    });
  }
});
