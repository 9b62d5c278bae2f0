import { describe, expect, it } from 'vitest';
import {
  DeviceStatus as S,
  MmioDevice,
  MmioReg as R,
  VirtioError,
  VirtioErrorCode as C,
  VirtioFeature as F,
  features,
  identifyMmio,
  mmioBusFor,
  probeMmio,
  type MmioBus,
  type MmioQueueConfig,
} from '../../../src/virtio/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof VirtioError) return e.code;
    throw e;
  }
  return undefined;
}

/** A bus that records every access, over any register function. */
function tracingBus(inner: MmioBus): MmioBus & { trace: string[] } {
  const trace: string[] = [];
  return {
    trace,
    read32(off) {
      const v = inner.read32(off);
      trace.push(`r ${off.toString(16)} = ${v.toString(16)}`);
      return v;
    },
    write32(off, v) {
      trace.push(`w ${off.toString(16)} ${v.toString(16)}`);
      inner.write32(off, v);
    },
  };
}

/** A fake register window: fixed identification values, everything else reads 0. */
function fakeBus(regs: Record<number, number>): MmioBus & { writes: [number, number][] } {
  const writes: [number, number][] = [];
  return { writes, read32: (o) => regs[o] ?? 0, write32: (o, v) => void writes.push([o, v]) };
}

const splitLayout = (base: number) => (index: number, numMax: number): MmioQueueConfig => {
  const size = Math.min(numMax, 64);
  const b = base + index * 0x4000;
  return { size, desc: b, driver: b + 16 * size, device: b + 0x2000 };
};

describe('probeMmio against MmioDevice', () => {
  it('runs the full initialisation and returns the negotiated features and queues', () => {
    const ready: [number, MmioQueueConfig][] = [];
    const statuses: number[] = [];
    const dev = new MmioDevice({
      deviceId: 7,
      features: features(0, F.EVENT_IDX, F.INDIRECT_DESC),
      queueNumMax: [256, 128],
      hooks: { onQueueReady: (i, c) => void ready.push([i, c]), onStatus: (s) => void statuses.push(s) },
    });
    const bus = tracingBus(mmioBusFor(dev));
    const res = probeMmio(bus, { wantedFeatures: features(0, F.EVENT_IDX, F.RING_PACKED), numQueues: 2, queueLayout: splitLayout(0x1_0000_0000) });
    expect(res.deviceId).toBe(7);
    expect(res.offered).toBe(features(0, F.EVENT_IDX, F.INDIRECT_DESC, F.VERSION_1));
    expect(res.features).toBe(features(0, F.EVENT_IDX, F.VERSION_1));
    expect(res.status).toBe(S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    expect(res.queues).toEqual([
      { index: 0, numMax: 256, size: 64, desc: 0x1_0000_0000, driver: 0x1_0000_0400, device: 0x1_0000_2000 },
      { index: 1, numMax: 128, size: 64, desc: 0x1_0000_4000, driver: 0x1_0000_4400, device: 0x1_0000_6000 },
    ]);
    expect(ready.map(([i, c]) => ({ index: i, ...c }))).toEqual(res.queues.map(({ numMax: _n, ...q }) => q));
    expect(dev.negotiatedFeatures).toBe(res.features);
    expect(statuses).toEqual([1, 3, 11, 15]);
    expect(dev.faultCount).toBe(0);
    // §4.2.3.1.1 order: magic, version, device id first; reset before ACKNOWLEDGE
    expect(bus.trace.slice(0, 5)).toEqual(['r 0 = 74726976', 'r 4 = 2', 'r 8 = 7', 'r c = 5a545654', 'w 70 0']);
  });

  it('throws FEATURES_REFUSED and sets FAILED when the device refuses FEATURES_OK', () => {
    const dev = new MmioDevice({ deviceId: 2, features: features(0, 1), queueNumMax: [8], hooks: { validateFeatures: (f) => (f & 2n) === 0n } });
    expect(codeOf(() => probeMmio(mmioBusFor(dev), { wantedFeatures: features(0, 1) }))).toBe(C.FEATURES_REFUSED);
    expect(dev.deviceStatus & S.FAILED).toBe(S.FAILED);
    expect(dev.deviceStatus & S.FEATURES_OK).toBe(0);
  });

  it('refuses an unavailable queue and a queue the device did not accept', () => {
    const dev = new MmioDevice({ deviceId: 2, features: 0n, queueNumMax: [8, 0] });
    expect(codeOf(() => probeMmio(mmioBusFor(dev), { wantedFeatures: 0n, numQueues: 2, queueLayout: splitLayout(0x1000) }))).toBe(C.MMIO_QUEUE_UNAVAILABLE);
    expect(dev.deviceStatus & S.FAILED).toBe(S.FAILED);
    const dev2 = new MmioDevice({ deviceId: 2, features: 0n, queueNumMax: [8] });
    const badAlign = (): MmioQueueConfig => ({ size: 8, desc: 0x1004, driver: 0x2000, device: 0x3000 });
    expect(codeOf(() => probeMmio(mmioBusFor(dev2), { wantedFeatures: 0n, numQueues: 1, queueLayout: badAlign }))).toBe(C.MMIO_QUEUE_UNAVAILABLE);
    const tooBig = (): MmioQueueConfig => ({ size: 16, desc: 0x1000, driver: 0x2000, device: 0x3000 });
    expect(codeOf(() => probeMmio(mmioBusFor(dev2), { wantedFeatures: 0n, numQueues: 1, queueLayout: tooBig }))).toBe(C.BAD_QUEUE_SIZE);
  });

  it('can be probed again after a failed probe (reset first)', () => {
    const dev = new MmioDevice({ deviceId: 2, features: 0n, queueNumMax: [8] });
    expect(codeOf(() => probeMmio(mmioBusFor(dev), { wantedFeatures: 0n, deviceId: 3 }))).toBe(C.MMIO_NO_DEVICE);
    const res = probeMmio(mmioBusFor(dev), { wantedFeatures: 0n, numQueues: 1, queueLayout: splitLayout(0x1000) });
    expect(res.queues[0]!.size).toBe(8);
  });

  it('reports DEVICE_NEEDS_RESET raised during initialisation', () => {
    const dev: MmioDevice = new MmioDevice({ deviceId: 2, features: 0n, queueNumMax: [8], hooks: { onQueueReady: () => dev.needsReset() } });
    expect(codeOf(() => probeMmio(mmioBusFor(dev), { wantedFeatures: 0n, numQueues: 1, queueLayout: splitLayout(0x1000) }))).toBe(C.DEVICE_NEEDS_RESET);
  });
});

describe('identifyMmio', () => {
  it('refuses a bad magic value', () => {
    const bus = fakeBus({ [R.MAGIC_VALUE]: 0x12345678, [R.VERSION]: 2, [R.DEVICE_ID]: 1 });
    expect(codeOf(() => probeMmio(bus, { wantedFeatures: 0n }))).toBe(C.MMIO_BAD_MAGIC);
    expect(bus.writes).toEqual([]);
  });

  it('refuses a legacy (version 1) device with a clear error, touching nothing', () => {
    const bus = fakeBus({ [R.MAGIC_VALUE]: 0x74726976, [R.VERSION]: 1, [R.DEVICE_ID]: 1 });
    let err: unknown;
    try {
      probeMmio(bus, { wantedFeatures: 0n });
    } catch (e) {
      err = e;
    }
    expect((err as VirtioError).code).toBe(C.MMIO_LEGACY_DEVICE);
    expect((err as VirtioError).message).toMatch(/legacy/i);
    expect(bus.writes).toEqual([]);
  });

  it('refuses an unknown version', () => {
    expect(codeOf(() => identifyMmio(fakeBus({ [R.MAGIC_VALUE]: 0x74726976, [R.VERSION]: 3, [R.DEVICE_ID]: 1 })))).toBe(C.MMIO_BAD_VERSION);
  });

  it('stops at device id 0 without touching any other register', () => {
    const reads: number[] = [];
    const bus: MmioBus = {
      read32: (o) => {
        reads.push(o);
        return ({ [R.MAGIC_VALUE]: 0x74726976, [R.VERSION]: 2 } as Record<number, number>)[o] ?? 0;
      },
      write32: () => {
        throw new Error('no write expected');
      },
    };
    expect(codeOf(() => probeMmio(bus, { wantedFeatures: 0n }))).toBe(C.MMIO_NO_DEVICE);
    expect(reads).toEqual([R.MAGIC_VALUE, R.VERSION, R.DEVICE_ID]);
  });

  it('an MmioDevice with device id 0 is a placeholder', () => {
    const dev = new MmioDevice({ deviceId: 0, features: 0n, queueNumMax: [] });
    expect(codeOf(() => identifyMmio(mmioBusFor(dev)))).toBe(C.MMIO_NO_DEVICE);
  });
});
