/**
 * Console driver and device in two worker_threads over one SharedArrayBuffer (built code from dist/: run `npx tsc`
 * first): 100k 64-byte records streamed through port "data" and echoed back, every byte verified on both sides,
 * notifications through doorbell words (a lost one shows up as a wait that times out). Split and packed rings.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ConsoleDevice, ConsoleDriver } from '../../src/console/index.js';
import { PhysicalMemory, VirtioFeature, bit, packedRingSizes, splitLegacyLayout } from '../../src/virtio/index.js';

const DIST = new URL('../../dist/src/console/index.js', import.meta.url);
const DRIVER = new URL('./fixtures/console-driver.mjs', import.meta.url);
const DEVICE = new URL('./fixtures/console-device.mjs', import.meta.url);

interface Result {
  role: string;
  bad: number;
  firstBad: string;
  timeouts: number;
  got: number;
  errors: Record<string, number>;
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

async function exchange(count: number, packed: boolean) {
  const device = new ConsoleDevice({ ports: ['data'] });
  const driverOpts = { maxPorts: 2, queueSize: 64, bufferSize: 4096 };
  const driver = new ConsoleDriver(driverOpts);
  const offered = device.deviceFeatures & (packed ? ~0n : ~bit(VirtioFeature.RING_PACKED));
  const features = driver.negotiate(offered);
  const sizes = driver.queueSizes(device.queueMaxSizes);
  const base = 0x2000_0000;
  let at = base;
  const plans = sizes.map((n) => {
    const start = at;
    if (packed) {
      const s = packedRingSizes(n);
      at = Math.ceil((start + s.descBytes + 8) / 4096) * 4096;
      return { n, packed: { desc: start, driverEvent: start + s.descBytes, deviceEvent: start + s.descBytes + 4 } };
    }
    const l = splitLegacyLayout(start, n, 4096);
    at = Math.ceil((start + l.totalBytes) / 4096) * 4096;
    return { n, split: { desc: l.desc, avail: l.avail, used: l.used } };
  });
  const pool = { base: at, size: driver.poolBytes };
  const memory = new PhysicalMemory([{ name: 'shm', base, size: Math.ceil((at + pool.size - base) / 4096) * 4096 }]);
  const cfg = new Uint8Array(12);
  device.readConfig(0, cfg);
  const common = {
    specs: memory.toSpecs(),
    plans,
    features,
    pool,
    count,
    bellsSab: new SharedArrayBuffer(8),
    timeoutMs: 5000,
    driverOpts,
    config: { cols: 0, rows: 0, maxNrPorts: new DataView(cfg.buffer).getUint32(4, true) },
  };
  const [drv, dev] = await Promise.all([runWorker(DRIVER, common), runWorker(DEVICE, common)]);
  return { drv, dev };
}

describe('console between two workers', () => {
  it('built code exists (run `npx tsc -p tsconfig.json` before this test)', () => {
    expect(existsSync(DIST)).toBe(true);
  });

  for (const packed of [false, true]) {
    it(`100000 records echoed, every byte verified (${packed ? 'packed' : 'split'})`, async () => {
      const { drv, dev } = await exchange(100_000, packed);
      expect(drv.firstBad + dev.firstBad).toBe('');
      expect([drv.bad, dev.bad, drv.timeouts, dev.timeouts]).toEqual([0, 0, 0, 0]);
      expect(dev.got).toBe(100_000);
      expect(drv.got).toBe(100_000);
      expect(dev.errors).toEqual({});
      expect(drv.errors).toEqual({});
    }, 120_000);
  }
});
