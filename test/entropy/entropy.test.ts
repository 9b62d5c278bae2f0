import { describe, expect, it } from 'vitest';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { EntropyDevice, EntropyDriver, ENTROPY_SLOT } from '../../src/entropy/index.js';
import type { DriverActivation, VirtioDriver } from '../../src/virtio/device.js';

describe('virtio-entropy over the loopback transport', () => {
  it('fills every requested buffer with fresh random bytes, in order of completion', () => {
    const dev = new EntropyDevice();
    const drv = new EntropyDriver({ slots: 4 });
    const lb = new LoopbackTransport(drv, dev);
    const got: Uint8Array[] = [];
    for (const n of [1, 16, 4096, 100]) expect(drv.request(n, (b) => void got.push(b as Uint8Array))).toBe(true);
    expect(drv.request(8, () => undefined)).toBe(false); // all 4 slots taken
    lb.settle();
    expect(got.map((b) => b.length).sort((a, b) => a - b)).toEqual([1, 16, 100, 4096]);
    const big = got.find((b) => b.length === 4096)!;
    expect(new Set(big).size).toBeGreaterThan(200); // 4 KiB of CSPRNG output covers most byte values
    expect(dev.stats.bytes).toBe(1 + 16 + 4096 + 100);
    expect(drv.stats.bytes).toBe(dev.stats.bytes);
    expect(() => drv.request(ENTROPY_SLOT + 1, () => undefined)).toThrow(RangeError);
  });

  it('fails pending requests when the device is reset', () => {
    const drv = new EntropyDriver();
    new LoopbackTransport(drv, new EntropyDevice());
    let err: unknown;
    drv.request(8, (b) => (err = b));
    drv.reset();
    expect(err).toBeInstanceOf(Error);
  });

  it('returns a device-readable buffer with nothing written and counts it refused (a hostile driver)', () => {
    const dev = new EntropyDevice();
    let act: DriverActivation | undefined;
    const hostile: VirtioDriver = {
      deviceType: 4,
      poolBytes: 4096,
      negotiate: (o) => o,
      queueSizes: (m) => m,
      activate: (a) => void (act = a),
      interrupt: () => 0,
      reset: () => undefined,
    };
    const lb = new LoopbackTransport(hostile, dev);
    const a = act!;
    a.memory.write(a.pool.base, new Uint8Array(64).fill(0x55));
    a.queues[0]!.vq.addBuffer(a.pool.base, 64, false, 1);
    a.queues[0]!.kick();
    lb.pump();
    expect(a.queues[0]!.vq.popUsed()).toBe(1);
    expect(a.queues[0]!.vq.lastUsedLen).toBe(0);
    expect(a.memory.bytes(a.pool.base, 64).every((x) => x === 0x55)).toBe(true);
    expect(dev.stats.refused).toBe(1);
  });

  it('fills at most maxFill bytes of a huge buffer', () => {
    const dev = new EntropyDevice({ maxFill: 100 });
    const drv = new EntropyDriver();
    const lb = new LoopbackTransport(drv, dev);
    let got: Uint8Array | Error | undefined;
    drv.request(4096, (b) => (got = b));
    lb.settle();
    expect((got as Uint8Array).length).toBe(100);
  });
});
