/**
 * Property: random writes on several named ports, both directions, with small queues and buffers (so writes split
 * across buffers and back up): every byte arrives exactly once, in order, on the right port, and neither side records
 * an error. Split and packed rings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, drive, known, wire } from './helpers.js';

const NAMES = ['a', 'b', 'c'];

const op = fc.record({
  port: fc.integer({ min: 0, max: NAMES.length }), // NAMES.length = the console port
  toDevice: fc.boolean(),
  len: fc.integer({ min: 1, max: 3000 }),
  pump: fc.integer({ min: 0, max: 3 }),
});

const config = fc.record({
  queueSize: fc.constantFrom(2, 4, 8),
  bufferSize: fc.constantFrom(64, 128, 512),
  hwm: fc.constantFrom(256, 4096),
});

function pattern(seed: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

for (const packed of [false, true]) {
  describe(`every byte once and in order (${packed ? 'packed' : 'split'})`, () => {
    it('random writes on several ports, both directions', async () => {
      await fc.assert(
        fc.asyncProperty(config, fc.array(op, { minLength: 1, maxLength: 40 }), async (cfg, ops) => {
          const { device, driver, t } = wire({
            device: { ports: NAMES, highWaterMark: cfg.hwm },
            driver: { queueSize: cfg.queueSize, bufferSize: cfg.bufferSize, highWaterMark: cfg.hwm },
            packed,
          });
          await drive(t, () => NAMES.every((n) => known(driver, n)) && known(driver));
          const names = [...NAMES, undefined];
          const ends = names.map((n) => ({ dev: device.port(n), drv: driver.port(n) }));
          const got = ends.map((e) => ({ dev: collect(e.dev), drv: collect(e.drv) }));
          const sent = ends.map(() => ({ dev: [] as Buffer[], drv: [] as Buffer[] }));
          let seed = 0;
          for (const o of ops) {
            const data = pattern(seed++, o.len);
            const e = ends[o.port]!;
            if (o.toDevice) {
              e.drv.write(data);
              sent[o.port]!.dev.push(data);
            } else {
              e.dev.write(data);
              sent[o.port]!.drv.push(data);
            }
            for (let i = 0; i < o.pump; i++) t.pump();
            if (o.pump === 3) await new Promise((r) => setImmediate(r));
          }
          const want = sent.map((s) => ({ dev: Buffer.concat(s.dev), drv: Buffer.concat(s.drv) }));
          await drive(t, () => got.every((g, i) => g.dev.bytes().length >= want[i]!.dev.length && g.drv.bytes().length >= want[i]!.drv.length));
          got.forEach((g, i) => {
            expect(g.dev.bytes().equals(want[i]!.dev)).toBe(true);
            expect(g.drv.bytes().equals(want[i]!.drv)).toBe(true);
          });
          expect(device.stats.errors).toEqual({});
          expect(driver.stats.errors).toEqual({});
          expect(device.stats.droppedBytes + driver.stats.droppedBytes).toBe(0);
        }),
        { numRuns: 25 },
      );
    });
  });
}
