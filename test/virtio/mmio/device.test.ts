import { describe, expect, it } from 'vitest';
import {
  DeviceStatus as S,
  MmioDevice,
  MmioReg as R,
  MMIO_MAGIC,
  VirtioError,
  VirtioErrorCode as C,
  VirtioFeature as F,
  features,
  mmioNotifyValue,
  type MmioDeviceOptions,
  type MmioFault,
  type MmioQueueConfig,
} from '../../../src/virtio/index.js';

interface Log {
  ready: [number, MmioQueueConfig][];
  stops: number[];
  notifies: [number, unknown][];
  resets: number;
  queueResets: number[];
  statuses: [number, number][];
  irq: [boolean, number][];
  faults: MmioFault[];
}

function makeDevice(over: Partial<MmioDeviceOptions> = {}): { dev: MmioDevice; log: Log } {
  const log: Log = { ready: [], stops: [], notifies: [], resets: 0, queueResets: [], statuses: [], irq: [], faults: [] };
  const dev = new MmioDevice({
    deviceId: 7,
    vendorId: 0x1234,
    features: features(0, F.EVENT_IDX, F.INDIRECT_DESC, F.RING_PACKED, F.NOTIFICATION_DATA, F.RING_RESET),
    queueNumMax: [256, 256, 0],
    config: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
    shm: [{ base: 0x1_2000_0000, len: 0x1_0000_0000 }],
    hooks: {
      onQueueReady: (i, c) => void log.ready.push([i, c]),
      onQueueStop: (i) => void log.stops.push(i),
      onNotify: (i, d) => void log.notifies.push([i, d]),
      onReset: () => void log.resets++,
      onQueueReset: (i) => void log.queueResets.push(i),
      onStatus: (s, p) => void log.statuses.push([s, p]),
      onInterrupt: (a, s) => void log.irq.push([a, s]),
      onFault: (f) => void log.faults.push(f),
    },
    ...over,
  });
  return { dev, log };
}

/** Drives the device up to FEATURES_OK with the given accepted features. */
function toFeaturesOk(dev: MmioDevice, accepted: bigint): void {
  dev.write(R.STATUS, 0);
  dev.write(R.STATUS, S.ACKNOWLEDGE);
  dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER);
  dev.write(R.DRIVER_FEATURES_SEL, 0);
  dev.write(R.DRIVER_FEATURES, Number(accepted & 0xffffffffn));
  dev.write(R.DRIVER_FEATURES_SEL, 1);
  dev.write(R.DRIVER_FEATURES, Number(accepted >> 32n));
  dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
}

function setupQueue(dev: MmioDevice, index: number, size: number, desc: number, driver: number, device: number): void {
  dev.write(R.QUEUE_SEL, index);
  dev.write(R.QUEUE_NUM, size);
  dev.write(R.QUEUE_DESC_LOW, desc >>> 0);
  dev.write(R.QUEUE_DESC_HIGH, Math.floor(desc / 2 ** 32));
  dev.write(R.QUEUE_DRIVER_LOW, driver >>> 0);
  dev.write(R.QUEUE_DRIVER_HIGH, Math.floor(driver / 2 ** 32));
  dev.write(R.QUEUE_DEVICE_LOW, device >>> 0);
  dev.write(R.QUEUE_DEVICE_HIGH, Math.floor(device / 2 ** 32));
  dev.write(R.QUEUE_READY, 1);
}

const V1 = features(F.VERSION_1);

describe('MmioDevice identification registers', () => {
  it('reads magic, version 2, device and vendor id', () => {
    const { dev } = makeDevice();
    expect(dev.read(R.MAGIC_VALUE)).toBe(MMIO_MAGIC);
    expect(dev.read(R.MAGIC_VALUE)).toBe(0x74726976);
    expect(dev.read(R.VERSION)).toBe(2);
    expect(dev.read(R.DEVICE_ID)).toBe(7);
    expect(dev.read(R.VENDOR_ID)).toBe(0x1234);
  });

  it('exposes the 64-bit offer (with VERSION_1 added) in DeviceFeaturesSel windows', () => {
    const { dev } = makeDevice();
    dev.write(R.DEVICE_FEATURES_SEL, 0);
    expect(dev.read(R.DEVICE_FEATURES)).toBe(((1 << F.EVENT_IDX) | (1 << F.INDIRECT_DESC) | 1) >>> 0);
    dev.write(R.DEVICE_FEATURES_SEL, 1);
    expect(dev.read(R.DEVICE_FEATURES)).toBe((1 << 0) | (1 << 2) | (1 << 6) | (1 << 8)); // 32, 34, 38, 40
    dev.write(R.DEVICE_FEATURES_SEL, 2);
    expect(dev.read(R.DEVICE_FEATURES)).toBe(0);
  });
});

describe('MmioDevice access rules', () => {
  it('refuses writes to read-only registers, leaving them unchanged', () => {
    const { dev, log } = makeDevice();
    for (const off of [R.MAGIC_VALUE, R.VERSION, R.DEVICE_ID, R.VENDOR_ID, R.DEVICE_FEATURES, R.QUEUE_NUM_MAX, R.INTERRUPT_STATUS, R.SHM_LEN_LOW, R.SHM_BASE_HIGH, R.CONFIG_GENERATION]) {
      dev.write(off, 0xdead);
      expect(log.faults.at(-1)).toMatchObject({ op: 'write', offset: off, code: C.MMIO_BAD_REGISTER });
    }
    expect(dev.read(R.MAGIC_VALUE)).toBe(MMIO_MAGIC);
    expect(dev.read(R.DEVICE_ID)).toBe(7);
    expect(dev.read(R.QUEUE_NUM_MAX)).toBe(256);
    expect(dev.read(R.CONFIG_GENERATION)).toBe(0);
  });

  it('refuses reads of write-only registers (0 and a fault)', () => {
    const { dev, log } = makeDevice();
    for (const off of [R.DEVICE_FEATURES_SEL, R.DRIVER_FEATURES, R.DRIVER_FEATURES_SEL, R.QUEUE_SEL, R.QUEUE_NUM, R.QUEUE_NOTIFY, R.INTERRUPT_ACK, R.QUEUE_DESC_LOW, R.QUEUE_DEVICE_HIGH, R.SHM_SEL]) {
      const before = dev.faultCount;
      expect(dev.read(off)).toBe(0);
      expect(dev.faultCount).toBe(before + 1);
      expect(log.faults.at(-1)).toMatchObject({ op: 'read', offset: off, code: C.MMIO_BAD_REGISTER });
    }
  });

  it('refuses legacy and undefined offsets, and non-32-bit or misaligned control accesses', () => {
    const { dev, log } = makeDevice();
    for (const off of [0x028, 0x03c, 0x040, 0x018, 0x0f8]) {
      expect(dev.read(off)).toBe(0);
      expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_REGISTER);
    }
    expect(log.faults.find((f) => f.offset === 0x040)?.register).toBe('QUEUE_PFN');
    expect(dev.read(R.MAGIC_VALUE, 2)).toBe(0);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_ACCESS);
    expect(dev.read(R.MAGIC_VALUE + 1)).toBe(0);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_ACCESS);
    dev.write(R.STATUS, 1, 1);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_ACCESS);
    expect(dev.read(R.STATUS)).toBe(0);
  });
});

describe('MmioDevice status and features', () => {
  it('follows the status state machine; an illegal write is ignored and reported', () => {
    const { dev, log } = makeDevice();
    dev.write(R.STATUS, S.ACKNOWLEDGE);
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER_OK);
    expect(dev.read(R.STATUS)).toBe(S.ACKNOWLEDGE);
    expect(log.faults.at(-1)).toMatchObject({ offset: R.STATUS, code: C.BAD_STATUS_TRANSITION, value: S.ACKNOWLEDGE | S.DRIVER_OK });
    expect(log.statuses).toEqual([[S.ACKNOWLEDGE, 0]]);
  });

  it('accepts a valid feature set at FEATURES_OK and reports it negotiated', () => {
    const { dev } = makeDevice();
    toFeaturesOk(dev, V1 | features(F.EVENT_IDX, 0));
    expect(dev.read(R.STATUS) & S.FEATURES_OK).toBe(S.FEATURES_OK);
    expect(dev.negotiatedFeatures).toBe(V1 | features(F.EVENT_IDX, 0));
  });

  it('refuses FEATURES_OK for unoffered bits, bits above 63 and a driver without VERSION_1', () => {
    for (const [accepted, code] of [
      [V1 | features(3), C.FEATURE_NOT_OFFERED],
      [features(F.EVENT_IDX), C.FEATURE_DEPENDENCY],
    ] as const) {
      const { dev, log } = makeDevice();
      toFeaturesOk(dev, accepted);
      expect(dev.read(R.STATUS)).toBe(S.ACKNOWLEDGE | S.DRIVER);
      expect(log.faults.at(-1)).toMatchObject({ offset: R.STATUS, code });
      expect(dev.negotiatedFeatures).toBe(0n);
    }
    const { dev } = makeDevice();
    dev.write(R.STATUS, S.ACKNOWLEDGE);
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER);
    dev.write(R.DRIVER_FEATURES_SEL, 1);
    dev.write(R.DRIVER_FEATURES, 1);
    dev.write(R.DRIVER_FEATURES_SEL, 2);
    dev.write(R.DRIVER_FEATURES, 1);
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    expect(dev.read(R.STATUS)).toBe(S.ACKNOWLEDGE | S.DRIVER);
  });

  it("runs the device type's own check, and a DRIVER_OK written with a refused FEATURES_OK does not stick either", () => {
    const { dev, log } = makeDevice({ hooks: { validateFeatures: (f) => (f & features(F.EVENT_IDX)) === 0n, onFault: (f) => void log.faults.push(f) } });
    toFeaturesOk(dev, V1 | features(F.EVENT_IDX));
    expect(dev.read(R.STATUS)).toBe(S.ACKNOWLEDGE | S.DRIVER);
    expect(log.faults.at(-1)?.code).toBe(C.FEATURES_REFUSED);
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    expect(dev.read(R.STATUS)).toBe(S.ACKNOWLEDGE | S.DRIVER);
  });

  it('locks DriverFeatures after FEATURES_OK', () => {
    const { dev, log } = makeDevice();
    toFeaturesOk(dev, V1);
    dev.write(R.DRIVER_FEATURES_SEL, 0);
    dev.write(R.DRIVER_FEATURES, 1 << F.EVENT_IDX);
    expect(log.faults.at(-1)?.code).toBe(C.FEATURES_LOCKED);
    expect(dev.negotiatedFeatures).toBe(V1);
  });

  it('reset (Status = 0) clears status, features, queues and interrupts and calls onReset', () => {
    const { dev, log } = makeDevice();
    toFeaturesOk(dev, V1);
    setupQueue(dev, 0, 64, 0x1000, 0x2000, 0x3000);
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    dev.raiseUsedBuffer();
    const resets = log.resets;
    dev.write(R.STATUS, 0);
    expect(log.resets).toBe(resets + 1);
    expect(dev.read(R.STATUS)).toBe(0);
    expect(dev.read(R.INTERRUPT_STATUS)).toBe(0);
    dev.write(R.QUEUE_SEL, 0);
    expect(dev.read(R.QUEUE_READY)).toBe(0);
    expect(dev.driverFeatures).toBe(0n);
    expect(log.irq).toEqual([
      [true, 1],
      [false, 0],
    ]);
  });

  it('DEVICE_NEEDS_RESET: set by the device, notified as a config change once live, cleared by reset', () => {
    const { dev } = makeDevice();
    toFeaturesOk(dev, V1);
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    dev.needsReset();
    expect(dev.read(R.STATUS) & S.DEVICE_NEEDS_RESET).toBe(S.DEVICE_NEEDS_RESET);
    expect(dev.read(R.INTERRUPT_STATUS)).toBe(2);
    dev.write(R.STATUS, 0);
    expect(dev.read(R.STATUS)).toBe(0);
  });
});

describe('MmioDevice queues', () => {
  it('reads QueueNumMax of the selected queue (0 when unavailable or out of range)', () => {
    const { dev } = makeDevice();
    dev.write(R.QUEUE_SEL, 1);
    expect(dev.read(R.QUEUE_NUM_MAX)).toBe(256);
    dev.write(R.QUEUE_SEL, 2);
    expect(dev.read(R.QUEUE_NUM_MAX)).toBe(0);
    dev.write(R.QUEUE_SEL, 99);
    expect(dev.read(R.QUEUE_NUM_MAX)).toBe(0);
    expect(dev.read(R.QUEUE_READY)).toBe(0);
  });

  it('enables a queue with 64-bit addresses and tells the device', () => {
    const { dev, log } = makeDevice();
    toFeaturesOk(dev, V1);
    setupQueue(dev, 1, 128, 0x1_0000_1000, 0x1_0000_2000, 0x1_0000_3000);
    expect(dev.read(R.QUEUE_READY)).toBe(1);
    expect(log.ready).toEqual([[1, { size: 128, desc: 0x1_0000_1000, driver: 0x1_0000_2000, device: 0x1_0000_3000 }]]);
    expect(dev.queueConfig(1)).toEqual(log.ready[0]![1]);
    expect(dev.queueConfig(0)).toBeUndefined();
  });

  it('refuses QueueNum above QueueNumMax, zero, or not a power of two for split', () => {
    for (const size of [512, 0, 100]) {
      const { dev, log } = makeDevice();
      toFeaturesOk(dev, V1);
      setupQueue(dev, 0, size, 0x1000, 0x2000, 0x3000);
      expect(dev.read(R.QUEUE_READY)).toBe(0);
      expect(log.faults.at(-1)?.code).toBe(C.BAD_QUEUE_SIZE);
      expect(log.ready).toEqual([]);
    }
  });

  it('accepts a size that is not a power of two when RING_PACKED is negotiated', () => {
    const { dev, log } = makeDevice();
    toFeaturesOk(dev, V1 | features(F.RING_PACKED));
    setupQueue(dev, 0, 100, 0x1000, 0x2000, 0x3000);
    expect(dev.read(R.QUEUE_READY)).toBe(1);
    expect(log.ready[0]![1].size).toBe(100);
  });

  it('refuses misaligned ring areas and QueueReady before FEATURES_OK', () => {
    const { dev, log } = makeDevice();
    dev.write(R.STATUS, S.ACKNOWLEDGE);
    setupQueue(dev, 0, 64, 0x1000, 0x2000, 0x3000);
    expect(log.faults.at(-1)?.code).toBe(C.BAD_STATUS_TRANSITION);
    toFeaturesOk(dev, V1);
    setupQueue(dev, 0, 64, 0x1008, 0x2000, 0x3000);
    expect(log.faults.at(-1)?.code).toBe(C.BAD_ALIGNMENT);
    setupQueue(dev, 0, 64, 0x1000, 0x2001, 0x3000);
    expect(log.faults.at(-1)?.code).toBe(C.BAD_ALIGNMENT);
    setupQueue(dev, 0, 64, 0x1000, 0x2002, 0x3002);
    expect(log.faults.at(-1)?.code).toBe(C.BAD_ALIGNMENT);
    expect(dev.read(R.QUEUE_READY)).toBe(0);
    setupQueue(dev, 0, 64, 0x1000, 0x2002, 0x3004);
    expect(dev.read(R.QUEUE_READY)).toBe(1);
  });

  it('refuses writes to the queue registers while QueueReady is 1, and accepts them after QueueReady = 0', () => {
    const { dev, log } = makeDevice();
    toFeaturesOk(dev, V1);
    setupQueue(dev, 0, 64, 0x1000, 0x2000, 0x3000);
    for (const off of [R.QUEUE_NUM, R.QUEUE_DESC_LOW, R.QUEUE_DESC_HIGH, R.QUEUE_DRIVER_LOW, R.QUEUE_DRIVER_HIGH, R.QUEUE_DEVICE_LOW, R.QUEUE_DEVICE_HIGH]) {
      dev.write(off, 0x8000);
      expect(log.faults.at(-1)).toMatchObject({ offset: off, code: C.MMIO_BAD_ACCESS });
    }
    expect(dev.queueConfig(0)).toEqual({ size: 64, desc: 0x1000, driver: 0x2000, device: 0x3000 });
    dev.write(R.QUEUE_READY, 0);
    expect(log.stops).toEqual([0]);
    expect(dev.read(R.QUEUE_READY)).toBe(0);
    dev.write(R.QUEUE_NUM, 32);
    dev.write(R.QUEUE_READY, 1);
    expect(log.ready.at(-1)).toEqual([0, { size: 32, desc: 0x1000, driver: 0x2000, device: 0x3000 }]);
  });

  it('leaves QueueReady at 0 when the device implementation refuses the queue', () => {
    const faults: MmioFault[] = [];
    const { dev } = makeDevice({
      hooks: {
        onQueueReady: () => {
          throw new VirtioError(C.BAD_RING_ADDRESS, 'ring outside memory');
        },
        onFault: (f) => void faults.push(f),
      },
    });
    toFeaturesOk(dev, V1);
    setupQueue(dev, 0, 64, 0x1000, 0x2000, 0x3000);
    expect(dev.read(R.QUEUE_READY)).toBe(0);
    expect(faults.at(-1)?.code).toBe(C.BAD_RING_ADDRESS);
  });

  it('queue writes to an unavailable queue are refused', () => {
    const { dev, log } = makeDevice();
    toFeaturesOk(dev, V1);
    setupQueue(dev, 2, 64, 0x1000, 0x2000, 0x3000);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_QUEUE_UNAVAILABLE);
    expect(log.ready).toEqual([]);
  });
});

describe('MmioDevice notifications and interrupts', () => {
  function live(accepted: bigint): { dev: MmioDevice; log: Log } {
    const r = makeDevice();
    toFeaturesOk(r.dev, accepted);
    setupQueue(r.dev, 0, 64, 0x1000, 0x2000, 0x3000);
    return r;
  }

  it('refuses a notification before DRIVER_OK, delivers it after', () => {
    const { dev, log } = live(V1);
    dev.write(R.QUEUE_NOTIFY, 0);
    expect(log.notifies).toEqual([]);
    expect(log.faults.at(-1)?.code).toBe(C.BAD_STATUS_TRANSITION);
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    dev.write(R.QUEUE_NOTIFY, 0);
    expect(log.notifies).toEqual([[0, undefined]]);
    dev.write(R.QUEUE_NOTIFY, 1);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_QUEUE_UNAVAILABLE);
    dev.write(R.QUEUE_NOTIFY, 0x10000);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_ACCESS);
    expect(log.notifies.length).toBe(1);
  });

  it('decodes NOTIFICATION_DATA: vq index, next_off, next_wrap', () => {
    const { dev, log } = live(V1 | features(F.NOTIFICATION_DATA));
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    const v = mmioNotifyValue(0, { off: 0x1234, wrap: 1 });
    expect(v).toBe(0x9234_0000);
    dev.write(R.QUEUE_NOTIFY, v);
    expect(log.notifies).toEqual([[0, { off: 0x1234, wrap: 1 }]]);
  });

  it('InterruptStatus holds events until acknowledged; undefined ACK bits are reported', () => {
    const { dev, log } = live(V1);
    expect(dev.raiseUsedBuffer()).toBe(false); // not before DRIVER_OK
    expect(dev.read(R.INTERRUPT_STATUS)).toBe(0);
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    expect(dev.raiseUsedBuffer()).toBe(true);
    dev.raiseConfigChange();
    expect(dev.read(R.INTERRUPT_STATUS)).toBe(3);
    dev.write(R.INTERRUPT_ACK, 1);
    expect(dev.read(R.INTERRUPT_STATUS)).toBe(2);
    dev.write(R.INTERRUPT_ACK, 0x6);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_ACCESS);
    expect(dev.read(R.INTERRUPT_STATUS)).toBe(0);
    expect(log.irq).toEqual([
      [true, 1],
      [false, 0],
    ]);
  });
});

describe('MmioDevice config space, generation, SHM, QueueReset', () => {
  it('reads config with 8/16/32-bit aligned accesses; refuses misaligned, out-of-range and unwanted writes', () => {
    const { dev, log } = makeDevice();
    expect(dev.read(R.CONFIG, 1)).toBe(1);
    expect(dev.read(R.CONFIG + 2, 2)).toBe(0x0403);
    expect(dev.read(R.CONFIG + 4, 4)).toBe(0x08070605);
    expect(dev.read(R.CONFIG + 1, 2)).toBe(0);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_ACCESS);
    expect(dev.read(R.CONFIG + 8, 1)).toBe(0);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_REGISTER);
    dev.write(R.CONFIG, 0xff, 1);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_REGISTER);
    expect(dev.read(R.CONFIG, 1)).toBe(1);
  });

  it('stores config writes the device type accepts', () => {
    const { dev } = makeDevice({ hooks: { onConfigWrite: (o) => o === 4 } });
    dev.write(R.CONFIG + 4, 0xaabbccdd, 4);
    expect(dev.read(R.CONFIG + 4, 4)).toBe(0xaabbccdd);
    dev.write(R.CONFIG, 0xaabbccdd, 4);
    expect(dev.read(R.CONFIG, 4)).toBe(0x04030201);
  });

  it('bumps ConfigGeneration on every device-side change and notifies a live driver', () => {
    const { dev } = makeDevice();
    const g0 = dev.read(R.CONFIG_GENERATION);
    dev.setConfig(0, new Uint8Array([9]));
    const g1 = dev.read(R.CONFIG_GENERATION);
    expect(g1).not.toBe(g0);
    expect(dev.read(R.CONFIG, 1)).toBe(9);
    expect(dev.read(R.INTERRUPT_STATUS)).toBe(0); // not live yet
    toFeaturesOk(dev, V1);
    dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    dev.setConfig(4, new Uint8Array([1, 1]));
    expect(dev.read(R.CONFIG_GENERATION)).not.toBe(g1);
    expect(dev.read(R.INTERRUPT_STATUS)).toBe(2);
    expect(() => dev.setConfig(7, new Uint8Array([1, 2]))).toThrowError(VirtioError);
  });

  it('reads the selected shared memory region, and all-ones for a missing one', () => {
    const { dev } = makeDevice();
    dev.write(R.SHM_SEL, 0);
    expect([dev.read(R.SHM_LEN_LOW), dev.read(R.SHM_LEN_HIGH), dev.read(R.SHM_BASE_LOW), dev.read(R.SHM_BASE_HIGH)]).toEqual([0, 1, 0x2000_0000, 1]);
    dev.write(R.SHM_SEL, 1);
    expect([dev.read(R.SHM_LEN_LOW), dev.read(R.SHM_LEN_HIGH), dev.read(R.SHM_BASE_LOW), dev.read(R.SHM_BASE_HIGH)]).toEqual([
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
    ]);
  });

  it('QueueReset needs RING_RESET; it resets the selected queue, which reads 0 in QueueReset and QueueReady', () => {
    const { dev, log } = makeDevice();
    toFeaturesOk(dev, V1);
    setupQueue(dev, 0, 64, 0x1000, 0x2000, 0x3000);
    dev.write(R.QUEUE_RESET, 1);
    expect(log.faults.at(-1)?.code).toBe(C.MMIO_BAD_REGISTER);
    expect(dev.read(R.QUEUE_READY)).toBe(1);

    const b = makeDevice();
    toFeaturesOk(b.dev, V1 | features(F.RING_RESET));
    setupQueue(b.dev, 1, 64, 0x1000, 0x2000, 0x3000);
    b.dev.write(R.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    b.dev.write(R.QUEUE_RESET, 1);
    expect(b.log.queueResets).toEqual([1]);
    expect(b.dev.read(R.QUEUE_RESET)).toBe(0);
    expect(b.dev.read(R.QUEUE_READY)).toBe(0);
    // re-enable with a different size
    setupQueue(b.dev, 1, 16, 0x1000, 0x2000, 0x3000);
    expect(b.dev.queueConfig(1)?.size).toBe(16);
  });
});
