import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { planRpmsgRegion, writeResourceTable } from '../../src/rpmsg/index.js';

function run(url: URL, workerData: unknown): { worker: Worker; result: Promise<Record<string, unknown>> } {
  const worker = new Worker(url, { workerData });
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
  });
  return { worker, result };
}

describe('host and remote in two worker_threads over one SharedArrayBuffer', () => {
  for (const c of [
    { name: 'default buffers, 8 services, slow receiver', plan: {}, services: 8, perService: 400, slowEvery: 200 },
    { name: '16 buffers of 128 B per direction, no EVENT_IDX', plan: { numBuffers: 32, bufferSize: 128, features: 1 }, services: 4, perService: 300, slowEvery: 0 },
  ]) {
    it(c.name, async () => {
      const layout = planRpmsgRegion({ base: 0x2000_0000, ...c.plan });
      const memory = new PhysicalMemory([{ name: 'ipc', base: layout.base, size: layout.size }]);
      writeResourceTable(memory, layout);
      const bells = new SharedArrayBuffer(8);
      const common = { specs: memory.toSpecs(), layout, bells, services: c.services };
      const remote = run(new URL('./fixtures/remote-worker.mjs', import.meta.url), { ...common, slowEvery: c.slowEvery });
      const host = run(new URL('./fixtures/host-worker.mjs', import.meta.url), { ...common, perService: c.perService, maxSize: layout.buffers.size - 16 });
      const [h, r] = await Promise.all([host.result, remote.result]);
      await Promise.all([host.worker.terminate(), remote.worker.terminate()]);
      const total = c.services * c.perService;
      expect(h.sent).toBe(total);
      expect(h.echoed).toBe(total);
      expect(h.bad).toBe(0);
      expect(r.bad).toBe(0);
      expect(r.received).toBe(total);
      expect(r.needsReset).toBe(false);
      expect(h.services).toEqual([...Array(c.services).keys()].map((i) => `echo-${i}`).sort());
      expect((r.stats as { droppedMalformed: number }).droppedMalformed).toBe(0);
    });
  }
});
