/**
 * Hostile peers: arbitrary bytes in the ring. The device never throws anything but a VirtioError with a code of its
 * rule list (never a RangeError, never MEM_OUT_OF_RANGE from an unchecked access), stops after a violation, and
 * pops at most N chains from one ring image; the driver never returns a token twice nor loses track of its slots.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DescriptorChain, features, PackedVirtqueueDevice, VirtioError, VirtioErrorCode, VirtioFeature } from '../../../src/virtio/index.js';
import { DATA, newMemory, pair, putDesc, RAM_BASE, RING, ringAddrs, TABLES } from './helpers.js';

const DEVICE_CODES = new Set<string>([
  VirtioErrorCode.PACKED_BAD_ID,
  VirtioErrorCode.PACKED_BAD_FLAGS,
  VirtioErrorCode.CHAIN_TOO_LONG,
  VirtioErrorCode.INDIRECT_WITH_NEXT,
  VirtioErrorCode.NESTED_INDIRECT,
  VirtioErrorCode.INDIRECT_BAD_LENGTH,
  VirtioErrorCode.INDIRECT_NOT_NEGOTIATED,
  VirtioErrorCode.BUFFER_OUT_OF_RANGE,
  VirtioErrorCode.READABLE_AFTER_WRITABLE,
  VirtioErrorCode.AVAIL_IDX_TOO_FAR,
]);

const DRIVER_CODES = new Set<string>([VirtioErrorCode.USED_ID_OUT_OF_RANGE, VirtioErrorCode.USED_ID_NOT_OUTSTANDING, VirtioErrorCode.USED_LEN_TOO_LARGE]);

// Addresses that are mostly plausible: inside data, inside the table area, or anywhere.
const addrArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 0xfff }).map((o) => DATA + o * 16) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 7 }).map((k) => TABLES + k * 64) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 53 - 1 }) },
);
const descArb = fc.record({
  addr: addrArb,
  len: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 96 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) }),
  id: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
  flags: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(0x0080, 0x0080, 0x0080, 0x0081, 0x0082, 0x0083, 0x0084, 0x0085, 0x8000, 0x8080) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  ),
});

describe('hostile driver', () => {
  it('arbitrary rings and indirect tables: typed errors only, bounded pops, broken after a violation', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 3, 5, 8),
        fc.subarray([VirtioFeature.INDIRECT_DESC, VirtioFeature.IN_ORDER, VirtioFeature.EVENT_IDX]),
        fc.array(descArb, { minLength: 8, maxLength: 8 }),
        fc.array(descArb, { minLength: 8, maxLength: 8 }),
        (size, feat, ring, table) => {
          const mem = newMemory();
          const dev = new PackedVirtqueueDevice(mem, size, ringAddrs(size), { features: features(...feat) });
          const chain = new DescriptorChain(size);
          for (let i = 0; i < size; i++) putDesc(mem, RING, i, ring[i]!.addr, ring[i]!.len, ring[i]!.id, ring[i]!.flags);
          for (let k = 0; k < 8; k++) putDesc(mem, TABLES, k, table[k]!.addr, table[k]!.len, table[k]!.id, table[k]!.flags);
          let pops = 0;
          for (let round = 0; round <= size + 1; round++) {
            try {
              if (!dev.pop(chain)) break;
              pops++;
              expect(chain.head).toBeLessThan(size);
              for (let s = 0; s < chain.count; s++) expect(mem.contains(chain.addr[s]!, chain.len[s]!)).toBe(true);
            } catch (e) {
              expect(e).toBeInstanceOf(VirtioError);
              expect(DEVICE_CODES.has((e as VirtioError).code)).toBe(true);
              expect(dev.broken).toBe(e);
              expect(dev.pop(chain)).toBe(false);
              break;
            }
          }
          expect(pops).toBeLessThanOrEqual(size);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('hostile device', () => {
  it('arbitrary used descriptors: typed errors only, each token at most once, slots accounted', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 5, 8),
        fc.subarray([VirtioFeature.IN_ORDER, VirtioFeature.EVENT_IDX]),
        fc.array(fc.record({ slot: fc.nat(7), id: fc.integer({ min: 0, max: 9 }), len: fc.integer({ min: 0, max: 40 }), flags: fc.integer({ min: 0, max: 0xffff }) }), {
          maxLength: 20,
        }),
        (size, feat, writes) => {
          const { mem, drv } = pair(size, feat);
          const seen = new Set<number>();
          for (let t = 0; t < size; t++) drv.addBuffer(RAM_BASE + 0x2_0000 + 64 * t, 32, true, t);
          drv.kick();
          for (const w of writes) {
            putDesc(mem, RING, w.slot % size, 0, w.len, w.id, w.flags);
            try {
              let t: number | undefined;
              while ((t = drv.popUsed()) !== undefined) {
                expect(seen.has(t)).toBe(false);
                seen.add(t);
                expect(drv.lastUsedLen).toBeLessThanOrEqual(32);
              }
            } catch (e) {
              expect(e).toBeInstanceOf(VirtioError);
              const code = (e as VirtioError).code;
              expect(DRIVER_CODES.has(code) || code === VirtioErrorCode.QUEUE_BROKEN).toBe(true);
            }
            expect(drv.numFree).toBe(seen.size);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
