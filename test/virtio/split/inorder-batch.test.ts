/**
 * IN_ORDER batched used entries (VIRTIO 1.2 §2.7.9): one used entry (id of the batch's last buffer, its len) at the
 * slot of the batch's first buffer, used.idx advanced by the batch size, the other slots skipped.
 * Driver side against hand-written used ring bytes; device side (pushUsedUpTo) checked byte for byte; a
 * fast-check run mixing batched and single entries across the u16 index wrap.
 * Rings: N = 4 at helpers.ringAt(4): desc 0x10000000, avail 0x10000040, used 0x10000050.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhysicalMemory, SplitVirtqueueDriver, VirtioErrorCode, VirtioFeature, features, type DriverQueueOptions } from '../../../src/virtio/index.js';
import { BUF_BASE, MEM_BASE, MEM_SIZE, hexBytes, makePair, ringAt, u16Hex, u32Hex, writeHex } from './helpers.js';

const N = 4;
const A = ringAt(N);
const USED_EVENT = A.avail + 4 + 2 * N;
const IN_ORDER = features(VirtioFeature.IN_ORDER);

function setup(opts: DriverQueueOptions = { features: IN_ORDER }) {
  const memory = new PhysicalMemory([{ name: 'ram', base: MEM_BASE, size: MEM_SIZE }]);
  const driver = new SplitVirtqueueDriver<string>(memory, N, A, opts);
  return { memory, driver };
}

/** Writes used.idx and one used element at ring slot `slot` (raw little-endian bytes). */
function usedEntry(memory: PhysicalMemory, idx: number, slot: number, id: number, len: number): void {
  writeHex(memory, A.used + 4 + 8 * (slot & (N - 1)), u32Hex(id, len));
  writeHex(memory, A.used + 2, u16Hex(idx & 0xffff));
}

function expectCode(f: () => unknown, code: string): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ code });
}

function popAll(driver: SplitVirtqueueDriver<string>): [string, number][] {
  const out: [string, number][] = [];
  let t: string | undefined;
  while ((t = driver.popUsed()) !== undefined) out.push([t, driver.lastUsedLen]);
  return out;
}

describe('split driver, IN_ORDER batched used entry', () => {
  it('one entry for three buffers returns all three in avail order; skipped slots are never read', () => {
    const { memory, driver } = setup();
    const h = ['a', 'b', 'c'].map((t) => driver.addBuffer(BUF_BASE, 16, true, t));
    expect(h).toEqual([0, 1, 2]);
    driver.kick();
    // Garbage in the skipped slots 1 and 2: an out-of-range id the driver would reject if it read it.
    writeHex(memory, A.used + 4 + 8, u32Hex(99, 0xffff_ffff, 99, 0xffff_ffff));
    usedEntry(memory, 3, 0, 2, 7);
    expect(hexBytes(memory.bytes(A.used, 4 + 8 * 3))).toBe(u16Hex(0, 3) + u32Hex(2, 7, 99, 0xffff_ffff, 99, 0xffff_ffff));
    expect(driver.popUsed()).toBe('a');
    expect(driver.lastUsedLen).toBe(0); // no len for a skipped buffer: reported as 0 (an underestimate)
    expect(driver.lastUsedIdx).toBe(1);
    expect(driver.hasUsed()).toBe(true);
    expect(driver.popUsed()).toBe('b');
    expect(driver.lastUsedLen).toBe(0);
    expect(driver.popUsed()).toBe('c');
    expect(driver.lastUsedLen).toBe(7);
    expect(driver.popUsed()).toBeUndefined();
    expect(driver.hasUsed()).toBe(false);
    expect(driver.broken).toBeUndefined();
    expect(driver.numFree).toBe(N);
    // Free list: 3 then the returned 0, 1, 2 in that order (ring order, §2.7.9).
    expect(['d', 'e', 'f', 'g'].map((t) => driver.addBuffer(BUF_BASE, 1, false, t))).toEqual([3, 0, 1, 2]);
  });

  it('mixes a batch of two, a single entry and a batch of one multi-descriptor chain', () => {
    const { memory, driver } = setup();
    expect(driver.addBuffer(BUF_BASE, 8, true, 'a')).toBe(0);
    expect(driver.add([{ addr: BUF_BASE, len: 1 }], [{ addr: BUF_BASE, len: 8 }], 'b')).toBe(1); // descs 1, 2
    expect(driver.addBuffer(BUF_BASE, 8, true, 'c')).toBe(3);
    driver.kick();
    usedEntry(memory, 2, 0, 1, 5); // batch: a, b (id of b, len 5)
    expect(popAll(driver)).toEqual([
      ['a', 0],
      ['b', 5],
    ]);
    usedEntry(memory, 3, 2, 3, 8); // single: c
    expect(popAll(driver)).toEqual([['c', 8]]);
    expect(driver.numFree).toBe(N);
    expect(driver.add([{ addr: BUF_BASE, len: 1 }, { addr: BUF_BASE, len: 1 }], [], 'd')).toBe(0); // 0 -> 1
    expect(driver.addBuffer(BUF_BASE, 1, false, 'e')).toBe(2);
  });

  it('a batch that wraps the u16 indices and the ring', () => {
    const { memory, driver } = setup();
    driver.setIndicesForTest(65534);
    const h = ['a', 'b', 'c', 'd'].map((t) => driver.addBuffer(BUF_BASE, 4, true, t));
    driver.kick();
    expect(memory.read16(A.avail + 2)).toBe(2);
    // Batch of 3 starting at used index 65534 (slot 2): entry there, used.idx = 65537 & 0xffff = 1.
    usedEntry(memory, 1, 65534, h[2]!, 4);
    expect(popAll(driver)).toEqual([
      ['a', 0],
      ['b', 0],
      ['c', 4],
    ]);
    expect(driver.lastUsedIdx).toBe(1);
    usedEntry(memory, 2, 1, h[3]!, 3);
    expect(popAll(driver)).toEqual([['d', 3]]);
  });

  it('with EVENT_IDX, used_event follows every buffer of the batch', () => {
    const { memory, driver } = setup({ features: features(VirtioFeature.IN_ORDER, VirtioFeature.EVENT_IDX) });
    for (const t of ['a', 'b', 'c']) driver.addBuffer(BUF_BASE, 4, true, t);
    driver.kick();
    usedEntry(memory, 3, 0, 2, 1);
    const seen: number[] = [];
    while (driver.popUsed() !== undefined) seen.push(memory.read16(USED_EVENT));
    expect(seen).toEqual([1, 2, 3]);
  });

  it('an entry naming a buffer beyond used.idx breaks the queue (USED_ID_NOT_OUTSTANDING)', () => {
    const { memory, driver } = setup();
    for (const t of ['a', 'b', 'c']) driver.addBuffer(BUF_BASE, 4, true, t);
    driver.kick();
    usedEntry(memory, 2, 0, 2, 0); // id 2 ends a batch of 3, used.idx says 2
    expectCode(() => driver.popUsed(), VirtioErrorCode.USED_ID_NOT_OUTSTANDING);
    expect(driver.broken?.details).toMatchObject({ id: 2, batch: 3 });
    expectCode(() => driver.popUsed(), VirtioErrorCode.QUEUE_BROKEN);
  });

  it('an id that is not outstanding stays USED_ID_NOT_OUTSTANDING (free, added-not-kicked, already returned)', () => {
    {
      const { memory, driver } = setup();
      driver.addBuffer(BUF_BASE, 4, true, 'a');
      driver.kick();
      usedEntry(memory, 1, 0, 3, 0); // head 3 is free
      expectCode(() => driver.popUsed(), VirtioErrorCode.USED_ID_NOT_OUTSTANDING);
    }
    {
      const { memory, driver } = setup();
      driver.addBuffer(BUF_BASE, 4, true, 'a');
      driver.kick();
      driver.addBuffer(BUF_BASE, 4, true, 'b'); // not published
      usedEntry(memory, 1, 0, 1, 0);
      expectCode(() => driver.popUsed(), VirtioErrorCode.USED_ID_NOT_OUTSTANDING);
    }
    {
      const { memory, driver } = setup();
      for (const t of ['a', 'b', 'c']) driver.addBuffer(BUF_BASE, 4, true, t);
      driver.kick();
      usedEntry(memory, 2, 0, 1, 0);
      expect(popAll(driver).map((x) => x[0])).toEqual(['a', 'b']);
      usedEntry(memory, 3, 2, 1, 0); // b again
      expectCode(() => driver.popUsed(), VirtioErrorCode.USED_ID_NOT_OUTSTANDING);
    }
  });

  it('checks len against the last buffer of the batch; a read-only last buffer reports 0', () => {
    {
      const { memory, driver } = setup();
      driver.addBuffer(BUF_BASE, 64, true, 'a');
      driver.addBuffer(BUF_BASE, 4, true, 'b');
      driver.kick();
      usedEntry(memory, 2, 0, 1, 5); // 5 > b's 4 writable bytes (a's 64 do not count)
      expectCode(() => driver.popUsed(), VirtioErrorCode.USED_LEN_TOO_LARGE);
    }
    {
      const { memory, driver } = setup();
      driver.addBuffer(BUF_BASE, 64, true, 'a');
      driver.addBuffer(BUF_BASE, 4, false, 'b');
      driver.kick();
      usedEntry(memory, 2, 0, 1, 4);
      expect(popAll(driver)).toEqual([
        ['a', 0],
        ['b', 0],
      ]);
      expect(driver.readOnlyLenIgnored).toBe(1);
    }
  });

  it('reset in the middle of a batch returns the rest as unused and starts clean', () => {
    const { memory, driver } = setup();
    for (const t of ['a', 'b', 'c']) driver.addBuffer(BUF_BASE, 4, true, t);
    driver.kick();
    usedEntry(memory, 3, 0, 2, 1);
    expect(driver.popUsed()).toBe('a');
    expect(driver.reset().sort()).toEqual(['b', 'c']);
    expect(driver.popUsed()).toBeUndefined();
    driver.addBuffer(BUF_BASE, 4, true, 'd');
    driver.kick();
    usedEntry(memory, 1, 0, 0, 2);
    expect(popAll(driver)).toEqual([['d', 2]]);
  });

  it('without IN_ORDER a later id is that buffer alone (out-of-order use), not a batch', () => {
    const { memory, driver } = setup({});
    for (const t of ['a', 'b', 'c']) driver.addBuffer(BUF_BASE, 4, true, t);
    driver.kick();
    usedEntry(memory, 1, 0, 2, 1);
    expect(popAll(driver)).toEqual([['c', 1]]);
    expect(driver.numFree).toBe(2);
  });
});

describe('split device, pushUsedUpTo (IN_ORDER batch)', () => {
  function popped(feats = IN_ORDER) {
    const pair = makePair<string>(N, { features: feats }, { features: feats });
    for (const t of ['a', 'b', 'c']) pair.driver.addBuffer(BUF_BASE, 16, true, t);
    pair.driver.kick();
    const chain = pair.device.newChain();
    while (pair.device.pop(chain));
    return { ...pair, chain };
  }

  it('writes one entry at the first slot and advances used.idx by the batch size', () => {
    const { memory, device, driver } = popped();
    writeHex(memory, A.used + 4, u32Hex(0xaaaa, 0xaaaa, 0xbbbb, 0xbbbb, 0xcccc, 0xcccc)); // untouched skipped slots
    expect(device.pushUsedUpTo(1, 9)).toBe(2);
    expect(device.publishUsed()).toBe(true);
    expect(hexBytes(memory.bytes(A.used, 4 + 8 * 3))).toBe(u16Hex(0, 2) + u32Hex(1, 9, 0xbbbb, 0xbbbb, 0xcccc, 0xcccc));
    expect(device.usedIdx).toBe(2);
    expect(device.pushUsedUpTo(2, 16)).toBe(1);
    device.publishUsed();
    expect(hexBytes(memory.bytes(A.used, 4 + 8 * 3))).toBe(u16Hex(0, 3) + u32Hex(1, 9, 0xbbbb, 0xbbbb, 2, 16));
    expect(popAll(driver)).toEqual([
      ['a', 0],
      ['b', 9],
      ['c', 16],
    ]);
  });

  it('refuses without IN_ORDER, ids it does not hold, and a len beyond the last chain', () => {
    expectCode(() => popped(0n).device.pushUsedUpTo(0, 0), VirtioErrorCode.BAD_ARGUMENT);
    const { device } = popped();
    expectCode(() => device.pushUsedUpTo(3, 0), VirtioErrorCode.BAD_ARGUMENT);
    expectCode(() => device.pushUsedUpTo(1, 17), VirtioErrorCode.BAD_ARGUMENT);
    expect(device.pushUsedUpTo(0, 0)).toBe(1);
    expectCode(() => device.pushUsedUpTo(0, 0), VirtioErrorCode.BAD_ARGUMENT); // already returned
    expectCode(() => device.pushUsed(2, 0), VirtioErrorCode.BAD_ARGUMENT); // still in order: 1 first
    expect(device.pushUsedUpTo(2, 0)).toBe(2);
    expect(device.broken).toBeUndefined();
  });
});

type Op = { t: 'add'; descs: number; writable: number } | { t: 'kick' } | { t: 'pop'; n: number } | { t: 'push'; upTo: number; lenPct: number } | { t: 'publish' } | { t: 'popUsed'; n: number };

describe('property: batched and single used entries across the index wrap', () => {
  it('returns every token once, in avail order, with len only for a batch end; descriptors stay in ring order', () => {
    const sizeArb = fc.constantFrom(1, 4, 8, 16);
    const opArb = fc.oneof(
      { weight: 5, arbitrary: fc.record({ t: fc.constant('add' as const), descs: fc.integer({ min: 1, max: 3 }), writable: fc.integer({ min: 1, max: 32 }) }) },
      { weight: 2, arbitrary: fc.constant({ t: 'kick' as const }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('pop' as const), n: fc.integer({ min: 1, max: 8 }) }) },
      { weight: 4, arbitrary: fc.record({ t: fc.constant('push' as const), upTo: fc.nat(), lenPct: fc.integer({ min: 0, max: 100 }) }) },
      { weight: 2, arbitrary: fc.constant({ t: 'publish' as const }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('popUsed' as const), n: fc.integer({ min: 1, max: 8 }) }) },
    );
    const startArb = fc.oneof(fc.integer({ min: 65520, max: 65535 }), fc.integer({ min: 0, max: 65535 }));
    fc.assert(
      fc.property(sizeArb, startArb, fc.array(opArb, { minLength: 30, maxLength: 150 }), (size, start, ops) => {
        const { driver, device } = makePair<number>(size, { features: IN_ORDER }, { features: IN_ORDER });
        driver.setIndicesForTest(start);
        device.setIndicesForTest(start);
        const chain = device.newChain();
        const writableOf = new Map<number, number>(); // token -> writable bytes (driver's view)
        const headWritable = new Map<number, number>(); // head -> writable bytes (device's view, from pop)
        const held: number[] = []; // heads popped by the device, in pop order
        const expectedLens: number[] = []; // len the driver must report, in used (= avail) order
        const got: [number, number][] = [];
        let token = 0;
        let descCursor = 0; // IN_ORDER free list: chains are allocated at consecutive descriptors (§2.7.9)
        const popDevice = (n: number) => {
          for (let k = 0; k < n && device.pop(chain); k++) {
            held.push(chain.head);
            headWritable.set(chain.head, chain.writableBytes);
          }
        };
        for (const op of ops as Op[]) {
          switch (op.t) {
            case 'add': {
              if (op.descs > size || driver.numFree < op.descs) break;
              const out = Array.from({ length: op.descs - 1 }, () => ({ addr: BUF_BASE, len: 1 }));
              const head = driver.add(out, [{ addr: BUF_BASE, len: op.writable }], token);
              expect(head).toBe(descCursor % size);
              descCursor += op.descs;
              writableOf.set(token++, op.writable);
              break;
            }
            case 'kick':
              driver.kick();
              break;
            case 'pop':
              popDevice(op.n);
              break;
            case 'push': {
              if (held.length === 0) break;
              const j = op.upTo % held.length;
              const batch = held.splice(0, j + 1);
              const last = batch[j]!;
              const len = Math.floor((headWritable.get(last)! * op.lenPct) / 100);
              // A one-buffer batch goes through pushUsed or pushUsedUpTo alike.
              if (j === 0 && op.upTo % 2 === 0) device.pushUsed(last, len);
              else expect(device.pushUsedUpTo(last, len)).toBe(j + 1);
              for (let k = 0; k < j; k++) expectedLens.push(0);
              expectedLens.push(len);
              break;
            }
            case 'publish':
              device.publishUsed();
              break;
            case 'popUsed':
              for (let k = 0; k < op.n; k++) {
                const t = driver.popUsed();
                if (t === undefined) break;
                got.push([t, driver.lastUsedLen]);
              }
              break;
          }
        }
        // Drain: kick, pop, one batch for everything held, publish, pop all used.
        driver.kick();
        popDevice(size);
        if (held.length > 0) {
          const n = held.length;
          expect(device.pushUsedUpTo(held[n - 1]!, 0)).toBe(n);
          for (let k = 0; k < n; k++) expectedLens.push(0);
          held.length = 0;
        }
        device.publishUsed();
        for (let t = driver.popUsed(); t !== undefined; t = driver.popUsed()) got.push([t, driver.lastUsedLen]);
        // Tokens come back 0, 1, 2, ... (avail order) with the lens pushed.
        expect(got.map((g) => g[0])).toEqual(Array.from({ length: token }, (_, i) => i));
        expect(got.map((g) => g[1])).toEqual(expectedLens);
        for (const [t, len] of got) expect(len).toBeLessThanOrEqual(writableOf.get(t)!);
        expect(driver.numFree).toBe(size);
        expect(driver.outstanding).toBe(0);
        expect(driver.broken).toBeUndefined();
        expect(device.broken).toBeUndefined();
        expect(driver.lastUsedIdx).toBe(device.usedIdx);
      }),
      { numRuns: 300 },
    );
  });
});
