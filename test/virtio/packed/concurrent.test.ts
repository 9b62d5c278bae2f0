/**
 * A driver that rewrites the ring while the device walks it (§2.8: the device must not trust the driver). A worker
 * flips every descriptor field and an indirect table continuously; the device pops over and over. Every accepted
 * chain must satisfy the rules with the values it recorded (each field read once, then checked and used: no
 * time-of-check to time-of-use gap), and every rejection must be a typed error of the rule list.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DescriptorChain, features, PackedVirtqueueDevice, VirtioError, VirtioErrorCode, VirtioFeature } from '../../../src/virtio/index.js';
import { DATA, newMemory, RAM_BASE, RING, ringAddrs, TABLES } from './helpers.js';

const CODES = new Set<string>([
  VirtioErrorCode.PACKED_BAD_ID,
  VirtioErrorCode.PACKED_BAD_FLAGS,
  VirtioErrorCode.CHAIN_TOO_LONG,
  VirtioErrorCode.INDIRECT_WITH_NEXT,
  VirtioErrorCode.NESTED_INDIRECT,
  VirtioErrorCode.INDIRECT_BAD_LENGTH,
  VirtioErrorCode.BUFFER_OUT_OF_RANGE,
  VirtioErrorCode.READABLE_AFTER_WRITABLE,
  VirtioErrorCode.AVAIL_IDX_TOO_FAR,
]);

describe('packed device against a driver rewriting the ring concurrently', () => {
  it('accepts only chains that are valid as recorded, rejects with typed errors, never anything else', async () => {
    const size = 8;
    const mem = newMemory();
    const region = mem.regions[0]!;
    const ctlBuffer = new SharedArrayBuffer(4);
    const ctl = new Int32Array(ctlBuffer);
    const worker = new Worker(new URL('./fixtures/flipper.mjs', import.meta.url), {
      workerData: { buffer: region.buffer, ringOff: RING - RAM_BASE, size, tableOff: TABLES - RAM_BASE, dataAddr: DATA, tableAddr: TABLES, ctlBuffer },
    });
    const done = new Promise<number>((resolve, reject) => {
      worker.on('message', (m) => {
        if (typeof m === 'number') resolve(m);
      });
      worker.once('error', reject);
    });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));

    const dev = new PackedVirtqueueDevice(mem, size, ringAddrs(size), { features: features(VirtioFeature.INDIRECT_DESC), maxChainSegments: 6 });
    const chain = new DescriptorChain(size);
    let accepted = 0;
    let rejected = 0;
    const byCode = new Map<string, number>();
    // At least 50k rounds, and on until both outcomes were seen (the worker may start late on a busy machine).
    for (let round = 0; (round < 50_000 || accepted === 0 || rejected === 0) && round < 5_000_000; round++) {
      try {
        if (dev.pop(chain)) {
          accepted++;
          // Every recorded segment is inside memory, readable ones first, within the limits.
          if (chain.count < 1 || chain.count > 6 || chain.head >= size) throw new Error(`bad chain ${JSON.stringify(chain.toJSON())}`);
          let bytes = 0;
          for (let s = 0; s < chain.count; s++) {
            if (!mem.contains(chain.addr[s]!, chain.len[s]!)) throw new Error(`segment outside memory ${JSON.stringify(chain.toJSON())}`);
            if (s >= chain.readable) bytes += chain.len[s]!;
          }
          if (bytes !== chain.writableBytes) throw new Error('writable bytes do not add up');
          dev.pushUsed(chain.head, 0);
          dev.publishUsed();
        }
      } catch (e) {
        if (!(e instanceof VirtioError) || !CODES.has(e.code)) throw e;
        rejected++;
        byCode.set(e.code, (byCode.get(e.code) ?? 0) + 1);
        dev.reset();
      }
      // Restart from slot 0 now and then so both laps are exercised against fresh bytes.
      if ((round & 63) === 0) dev.reset();
    }
    Atomics.store(ctl, 0, 1);
    const writes = await done;
    await worker.terminate();
    expect(writes).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});
