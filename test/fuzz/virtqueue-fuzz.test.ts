/**
 * The seeded virtqueue fuzzers (split and packed device sides against a hostile driver): a short CI run is clean,
 * runs are reproducible from their seed, and each oracle really fires when the device misbehaves (checked by
 * planting faults in the device for one run).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runFuzz } from '../../src/fuzz/run.js';
import { isClean } from '../../src/fuzz/report.js';
import { DescriptorChain, PackedVirtqueueDevice, SplitVirtqueueDevice } from '../../src/virtio/index.js';

const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length > 0) restore.pop()!();
});

/** Replaces a device method for one test. */
function plant<T extends object, K extends keyof T>(proto: T, name: K, make: (orig: T[K]) => T[K]): void {
  const orig = proto[name];
  proto[name] = make(orig);
  restore.push(() => {
    proto[name] = orig;
  });
}

describe('virtqueue device fuzzing (seeded, short)', () => {
  it.each(['split', 'packed'])('%s: no crash, hang or violation; every corruption kind is exercised and refused with a typed error', (target) => {
    const r = runFuzz({ seed: 0x5eed, iterations: 300, targets: [target] });
    expect(r.findings).toEqual([]);
    expect(isClean(r)).toBe(true);
    expect(r.states).toBeGreaterThan(30_000);
    expect(r.chains).toBeGreaterThan(1000);
    expect(r.resets).toBeGreaterThan(50);
    // Structural errors the device must recognise, each by its own code.
    for (const code of ['VIRTIO_ERR_BUFFER_OUT_OF_RANGE', 'VIRTIO_ERR_CHAIN_TOO_LONG', 'VIRTIO_ERR_READABLE_AFTER_WRITABLE', 'VIRTIO_ERR_NESTED_INDIRECT', 'VIRTIO_ERR_INDIRECT_BAD_LENGTH']) {
      expect(r.errorsByCode[code] ?? 0, code).toBeGreaterThan(0);
    }
    expect(Object.keys(r.mutations).length).toBeGreaterThan(12);
    expect(r.refused).toBeGreaterThan(0);
  });

  it('is reproducible: the same seed gives the same report', () => {
    const a = runFuzz({ seed: 42, iterations: 40 });
    const b = runFuzz({ seed: 42, iterations: 40 });
    a.elapsedMs = b.elapsedMs = 0;
    expect(a).toEqual(b);
    const c = runFuzz({ seed: 43, iterations: 40 });
    expect(c.states).not.toBe(a.states);
  });

  it('replays one iteration alone', () => {
    const r = runFuzz({ seed: 9, iterations: 0, replay: 17, targets: ['packed'] });
    expect(r.iterations).toBe(1);
    expect(r.states).toBeGreaterThan(0);
  });
});

describe('the oracles fire on a faulty device', () => {
  it('a write into the descriptor table (outside the used ring) is a violation', () => {
    plant(SplitVirtqueueDevice.prototype, 'pop', (orig) =>
      function (this: SplitVirtqueueDevice, out: DescriptorChain) {
        const ok = orig.call(this, out);
        if (ok) (this as unknown as { descU32: Uint32Array; d32: number }).descU32[(this as unknown as { d32: number }).d32] ^= 1;
        return ok;
      },
    );
    const r = runFuzz({ seed: 1, iterations: 10, targets: ['split'] });
    expect(r.violations).toBeGreaterThan(0);
    expect(r.findings[0]!.message).toMatch(/outside the areas the device may write/);
  });

  it('a write past the shared region (a stray view) damages a canary and is a violation', () => {
    plant(PackedVirtqueueDevice.prototype, 'publishUsed', (orig) =>
      function (this: PackedVirtqueueDevice) {
        const region = (this as unknown as { memory: { regions: { buffer: SharedArrayBuffer; byteOffset: number; size: number }[] } }).memory.regions[0]!;
        new Uint8Array(region.buffer)[region.byteOffset + region.size + 3] ^= 0xff;
        return orig.call(this);
      },
    );
    const r = runFuzz({ seed: 1, iterations: 10, targets: ['packed'] });
    expect(r.findings.some((f) => /wrote outside the shared region/.test(f.message))).toBe(true);
  });

  it('a non-VirtioError escaping the device is a crash', () => {
    plant(SplitVirtqueueDevice.prototype, 'pending', () => () => {
      throw new TypeError('boom');
    });
    const r = runFuzz({ seed: 3, iterations: 20, targets: ['split'] });
    expect(r.crashes).toBeGreaterThan(0);
  });

  it('a segment outside the shared region and a chain that differs from the offered one are violations', () => {
    plant(SplitVirtqueueDevice.prototype, 'pop', (orig) =>
      function (this: SplitVirtqueueDevice, out: DescriptorChain) {
        const ok = orig.call(this, out);
        if (ok && out.count > 0) out.addr[0] = 0x10;
        return ok;
      },
    );
    const r = runFuzz({ seed: 1, iterations: 5, targets: ['split'] });
    expect(r.findings.some((f) => /outside the shared region/.test(f.message))).toBe(true);
    expect(r.findings.some((f) => /clean ring: popped/.test(f.message))).toBe(true);
  });

  it('a broken queue that keeps popping is a violation', () => {
    plant(PackedVirtqueueDevice.prototype, 'pop', (orig) =>
      function (this: PackedVirtqueueDevice, out: DescriptorChain) {
        (this as unknown as { brokenBy: unknown }).brokenBy = undefined;
        return orig.call(this, out);
      },
    );
    const r = runFuzz({ seed: 5, iterations: 30, targets: ['packed'] });
    expect(r.findings.some((f) => /popped again before reset|broken is unset/.test(f.message))).toBe(true);
  });
});
