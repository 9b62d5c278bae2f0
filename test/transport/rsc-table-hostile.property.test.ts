/**
 * A hostile driver against the device side of the resource-table transport: random writes of the status byte,
 * gfeatures, vring fields and config bytes, interleaved with device polls. Property: the device transport never
 * throws, never activates the device unless the driver's visible status history followed §3.1.1 (a model of the
 * order), never builds rings anywhere but the plan's addresses, and a reset (0) always brings it back.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { checkStatusWrite } from '../../src/virtio/status.js';
import { encodePlan, planRscTable, RscTableDeviceTransport } from '../../src/transport/index.js';
import { EchoDevice } from './echo-device.js';

const BASE = 0x1000_0000;

type Op =
  | { kind: 'status'; value: number }
  | { kind: 'gfeatures'; value: number }
  | { kind: 'vring'; field: number; value: number }
  | { kind: 'config'; offset: number; value: number }
  | { kind: 'poll' }
  /** An honest driver's whole handshake in one status write (allowed: the bits form a prefix of §3.1.1's order). */
  | { kind: 'honest' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(0, 1, 3, 11, 15, 7, 4, 128, 64, 0x8f, 0x20).map((value) => ({ kind: 'status' as const, value })) },
  { weight: 2, arbitrary: fc.oneof(fc.constant(0x2000_0021), fc.constant(1), fc.integer({ min: 0, max: 0xffff_ffff })).map((value) => ({ kind: 'gfeatures' as const, value })) },
  { weight: 1, arbitrary: fc.record({ field: fc.integer({ min: 0, max: 9 }), value: fc.oneof(fc.constantFrom(8, 16, 32, 0), fc.integer({ min: 0, max: 0xffff_ffff })) }).map((r) => ({ kind: 'vring' as const, ...r })) },
  { weight: 1, arbitrary: fc.record({ offset: fc.integer({ min: 0, max: 7 }), value: fc.integer({ min: 0, max: 255 }) }).map((r) => ({ kind: 'config' as const, ...r })) },
  { weight: 4, arbitrary: fc.constant({ kind: 'poll' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'honest' as const }) },
);

describe('rsc-table device transport against a hostile driver (property)', () => {
  it('never throws, activates only after an ordered handshake, builds rings only where planned, and recovers on reset', () => {
    let activations = 0;
    let refusals = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const dev = new EchoDevice();
        const specs = [{ deviceType: dev.deviceType, features: dev.deviceFeatures, queueSizes: dev.queueMaxSizes, configSize: dev.configSize, poolBytes: 2048 }];
        const plan = planRscTable(specs, { base: BASE });
        const memory = new PhysicalMemory([{ name: 'ipc', base: BASE, size: plan.size + 4096 }]);
        memory.write(plan.rscTable, encodePlan(plan, specs));
        const v = plan.vdevs[0]!;
        const t = new RscTableDeviceTransport({ memory, vdev: v, device: dev, notify: () => undefined });
        // model: the status as a correct device would have accepted it (undefined once a rule was broken)
        let model: number | undefined = 0;
        let polledStatus = 0;
        for (const o of ops) {
          switch (o.kind) {
            case 'status':
              memory.write8(v.statusAddr, o.value);
              break;
            case 'gfeatures':
              memory.write32(v.entry + 16, o.value);
              break;
            case 'vring':
              memory.write32(v.entry + 28 + 20 * (o.field >> 2 & 1) + 4 * (o.field & 3), o.value);
              break;
            case 'honest':
              memory.write32(v.entry + 16, 0x2000_0021);
              memory.write8(v.statusAddr, 15);
              break;
            case 'config':
              memory.write8(v.configAddr + o.offset, o.value);
              break;
            case 'poll': {
              const s = memory.read8(v.statusAddr);
              const wasActive = dev.a !== undefined;
              expect(() => t.poll()).not.toThrow();
              if (s !== polledStatus) {
                if (s === 0) model = 0;
                else if (model !== undefined) {
                  try {
                    model = checkStatusWrite(model, s);
                  } catch {
                    model = undefined;
                  }
                }
                polledStatus = memory.read8(v.statusAddr);
              }
              // activation only with an ordered history that reached DRIVER_OK
              if (dev.a !== undefined && !wasActive) {
                activations++;
                expect(model).toBeDefined();
                expect((model! & 4) !== 0).toBe(true);
                // rings at the plan's addresses, whatever the table says now
                const q0 = dev.a.queues[0]!.vq as unknown as { addrs?: { desc: number } };
                if (q0.addrs) expect(q0.addrs.desc).toBe(v.vrings[0]!.da);
              }
              break;
            }
          }
        }
        refusals += t.stats.needsReset + t.stats.featuresRefused;
        // recovery: a reset and an honest handshake always work
        memory.write8(v.statusAddr, 0);
        t.poll();
        expect(t.state).toBe('reset');
        expect(memory.read8(v.entry + 26)).toBe(0);
      }),
      { numRuns: 300 },
    );
    // the generator reaches both outcomes often enough for the property to mean something
    expect(activations).toBeGreaterThan(10);
    expect(refusals).toBeGreaterThan(10);
  });
});
