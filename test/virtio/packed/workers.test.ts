/**
 * Driver and device in two worker_threads over one SharedArrayBuffer: 100k messages with sequence numbers and
 * checksums, doorbells with Atomics.wait/notify, a ring size that is not a power of two. Runs the compiled code
 * (dist/), so build first (npm test does).
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { features, VirtioFeature } from '../../../src/virtio/index.js';
import { DATA, newMemory, ringAddrs, TABLES } from './helpers.js';

const TOTAL = 100_000;

function runPeer(role: 'driver' | 'device', data: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./fixtures/packed-peer.mjs', import.meta.url), { workerData: { role, ...data } });
    w.once('message', (m: Record<string, unknown>) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

async function exchange(size: number, feat: number[]) {
  const mem = newMemory();
  const ctlBuffer = new SharedArrayBuffer(16);
  const data = { specs: mem.toSpecs(), ctlBuffer, size, addrs: ringAddrs(size), features: features(...feat), total: TOTAL, base: DATA, tables: TABLES, waitMs: 5000 };
  const [drv, dev] = await Promise.all([runPeer('driver', data), runPeer('device', data)]);
  return { drv, dev };
}

describe('packed virtqueue across two workers', () => {
  it('carries 100k messages intact with EVENT_IDX on a 100-slot ring, no lost notification', async () => {
    const { drv, dev } = await exchange(100, [VirtioFeature.EVENT_IDX]);
    expect(drv).toMatchObject({ ok: true, sent: TOTAL, received: TOTAL, errors: 0, timeouts: 0 });
    expect(dev).toMatchObject({ ok: true, processed: TOTAL, errors: 0, timeouts: 0 });
    expect(drv.broken).toBeUndefined();
    expect(dev.broken).toBeUndefined();
    // Suppression works: far fewer notifications than messages.
    expect(drv.kicks as number).toBeLessThan(TOTAL);
    expect(dev.interrupts as number).toBeLessThan(TOTAL);
  });

  it('carries 100k messages with IN_ORDER and INDIRECT_DESC and flag-based suppression on a 7-slot ring', async () => {
    const { drv, dev } = await exchange(7, [VirtioFeature.IN_ORDER, VirtioFeature.INDIRECT_DESC]);
    expect(drv).toMatchObject({ ok: true, sent: TOTAL, received: TOTAL, errors: 0, timeouts: 0 });
    expect(dev).toMatchObject({ ok: true, processed: TOTAL, errors: 0, timeouts: 0 });
  });
});
