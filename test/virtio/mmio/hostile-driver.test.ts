/**
 * A hostile or buggy driver: arbitrary sequences of register reads and writes (any offset, width and value) never
 * throw out of the register file, never make a queue ready with an invalid configuration, and never leave Status
 * in a state the §3.1.1 machine cannot reach.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceStatus as S, MmioDevice, MmioReg as R, VirtioFeature as F, checkStatusWrite, features } from '../../../src/virtio/index.js';

const offsets = fc.oneof(
  fc.constantFrom(...Object.values(R), R.STATUS, R.QUEUE_READY, R.QUEUE_NUM, R.QUEUE_SEL, R.DRIVER_FEATURES, R.QUEUE_NOTIFY),
  fc.integer({ min: 0, max: 0x120 }),
);
const access = fc.record({
  write: fc.boolean(),
  offset: offsets,
  size: fc.constantFrom(1, 2, 4, 4, 4, 8),
  value: fc.oneof(fc.integer({ min: 0, max: 15 }), fc.constantFrom(1, 3, 11, 15, 0x80, 0x1_0000), fc.nat({ max: 0xffff_ffff })),
});

type Op = { write: boolean; offset: number; size: number; value: number };
const w = (offset: number, value: number): Op => ({ write: true, offset, size: 4, value });
/** A correct initialisation up to DRIVER_OK with queue 0 ready, so the random tail also hits a live device. */
const INIT: Op[] = [
  w(R.STATUS, 0),
  w(R.STATUS, 1),
  w(R.STATUS, 3),
  w(R.DRIVER_FEATURES_SEL, 1),
  w(R.DRIVER_FEATURES, 1 | (1 << (F.RING_RESET - 32))),
  w(R.STATUS, 11),
  w(R.QUEUE_SEL, 0),
  w(R.QUEUE_NUM, 8),
  w(R.QUEUE_DESC_LOW, 0x1000),
  w(R.QUEUE_DRIVER_LOW, 0x2000),
  w(R.QUEUE_DEVICE_LOW, 0x3000),
  w(R.QUEUE_READY, 1),
  w(R.STATUS, 15),
];

describe('MmioDevice under arbitrary driver accesses', () => {
  it('never throws; ready queues always have a valid size; status stays reachable', () => {
    let live = 0;
    fc.assert(
      fc.property(fc.boolean(), fc.array(access, { maxLength: 200 }), (init, tail) => {
        const ops = init ? [...INIT, ...tail] : tail;
        const ready: { size: number; max: number }[] = [];
        const dev = new MmioDevice({
          deviceId: 3,
          features: features(F.EVENT_IDX, F.RING_PACKED, F.RING_RESET, F.NOTIFICATION_DATA),
          queueNumMax: [16, 8],
          config: new Uint8Array(8),
          hooks: { onQueueReady: (i, c) => void ready.push({ size: c.size, max: i === 0 ? 16 : 8 }) },
        });
        for (const op of ops) {
          if (op.write) dev.write(op.offset, op.value, op.size);
          else dev.read(op.offset, op.size);
          const s = dev.deviceStatus;
          // reachable: writing the same value back from reset through its prefix is legal
          expect(() => checkStatusWrite(s, s)).not.toThrow();
          if ((s & S.DRIVER_OK) !== 0 && (s & S.FAILED) === 0) expect(s & S.FEATURES_OK).toBe(S.FEATURES_OK);
        }
        if ((dev.deviceStatus & S.DRIVER_OK) !== 0) live++;
        for (const q of ready) {
          expect(q.size).toBeGreaterThanOrEqual(1);
          expect(q.size).toBeLessThanOrEqual(q.max);
        }
      }),
      { numRuns: 300 },
    );
    // the property must have exercised a live device, not only refused accesses
    expect(live).toBeGreaterThan(10);
  });
});
