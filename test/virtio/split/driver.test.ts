/**
 * SplitVirtqueueDriver: the bytes it writes (checked against hand-computed vectors), its kick and interrupt
 * suppression decisions, and every rule a device can break on the used ring.
 * Rings: N = 4 at helpers.ringAt(4): desc 0x10000000, avail 0x10000040 (14 B), used 0x10000050.
 */
import { describe, expect, it } from 'vitest';
import { PhysicalMemory, SplitVirtqueueDriver, VirtioErrorCode, VirtioFeature, features, type DriverQueueOptions } from '../../../src/virtio/index.js';
import { BUF_BASE, IND_BASE, MEM_BASE, MEM_SIZE, descHex, hexBytes, ringAt, u16Hex, u32Hex, writeHex } from './helpers.js';

const N = 4;
const A = ringAt(N);
const USED_EVENT = A.avail + 4 + 2 * N;
const AVAIL_EVENT = A.used + 4 + 8 * N;

function setup(opts: DriverQueueOptions = {}) {
  const memory = new PhysicalMemory([{ name: 'ram', base: MEM_BASE, size: MEM_SIZE }]);
  memory.addRegion({ name: 'high', base: 0x3_0000_0000, size: 0x1000 });
  const driver = new SplitVirtqueueDriver<string>(memory, N, A, opts);
  return { memory, driver };
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

/** The device's side of a used element, written as raw bytes. */
function used(memory: PhysicalMemory, idx: number, ...elems: [number, number][]): void {
  writeHex(memory, A.used, u16Hex(0, idx) + u32Hex(...elems.flat()));
}

describe('SplitVirtqueueDriver writes exact ring bytes', () => {
  it('address above 4 GiB, then a 3-segment chain; avail.idx moves only on kick', () => {
    const { memory, driver } = setup();
    expect(A).toEqual({ desc: 0x1000_0000, avail: 0x1000_0040, used: 0x1000_0050 });
    expect(driver.addBuffer(0x3_0000_0100, 0x20, true, 'a')).toBe(0);
    expect(driver.add([{ addr: BUF_BASE, len: 0x10 }, { addr: BUF_BASE + 0x10, len: 0x8 }], [{ addr: BUF_BASE + 0x40, len: 0x30 }], 'b')).toBe(1);
    expect(hexBytes(memory.bytes(A.desc, 64))).toBe(
      descHex(0x3_0000_0100, 0x20, 2, 0) + descHex(BUF_BASE, 0x10, 1, 2) + descHex(BUF_BASE + 0x10, 0x8, 1, 3) + descHex(BUF_BASE + 0x40, 0x30, 2, 0),
    );
    // Ring entries written, idx still 0.
    expect(hexBytes(memory.bytes(A.avail, 14))).toBe(u16Hex(0, 0, 0, 1, 0, 0, 0));
    expect(driver.kick()).toBe(true);
    expect(hexBytes(memory.bytes(A.avail, 4))).toBe(u16Hex(0, 2));
    expect(driver.numFree).toBe(0);
    expectCode(() => driver.addBuffer(BUF_BASE, 1, false, 'c'), VirtioErrorCode.QUEUE_FULL);
  });

  it('an indirect chain: table k for head k, one ring descriptor', () => {
    const { memory, driver } = setup({ features: features(VirtioFeature.INDIRECT_DESC), indirect: { base: IND_BASE, tableEntries: 4 } });
    driver.addBuffer(BUF_BASE, 1, false, 'x'); // single segment: direct under 'auto'
    const h = driver.add([{ addr: BUF_BASE, len: 0x10 }], [{ addr: BUF_BASE + 0x100, len: 0x80 }, { addr: BUF_BASE + 0x200, len: 4 }], 'y');
    expect(h).toBe(1);
    expect(driver.numFree).toBe(2);
    expect(hexBytes(memory.bytes(A.desc + 16, 16))).toBe(descHex(IND_BASE + 64, 48, 4, 0));
    expect(hexBytes(memory.bytes(IND_BASE + 64, 48))).toBe(descHex(BUF_BASE, 0x10, 1, 1) + descHex(BUF_BASE + 0x100, 0x80, 3, 2) + descHex(BUF_BASE + 0x200, 4, 2, 0));
  });

  it("indirectPolicy 'always' puts even one segment in a table; 'never' ignores the tables", () => {
    const a = setup({ features: features(VirtioFeature.INDIRECT_DESC), indirect: { base: IND_BASE, tableEntries: 2 }, indirectPolicy: 'always' });
    a.driver.addBuffer(BUF_BASE, 8, true, 'x');
    expect(hexBytes(a.memory.bytes(A.desc, 16))).toBe(descHex(IND_BASE, 16, 4, 0));
    expect(hexBytes(a.memory.bytes(IND_BASE, 16))).toBe(descHex(BUF_BASE, 8, 2, 0));
    const n = setup({ features: features(VirtioFeature.INDIRECT_DESC), indirect: { base: IND_BASE, tableEntries: 2 }, indirectPolicy: 'never' });
    n.driver.add([{ addr: BUF_BASE, len: 1 }, { addr: BUF_BASE, len: 1 }], [], 'x');
    expect(n.driver.numFree).toBe(2);
  });

  it('refuses bad chains from its caller', () => {
    const { driver } = setup();
    expectCode(() => driver.add([], [], 'x'), VirtioErrorCode.EMPTY_CHAIN);
    expectCode(() => driver.addBuffer(0x100, 4, false, 'x'), VirtioErrorCode.BAD_SEGMENT);
    expectCode(() => driver.addBuffer(BUF_BASE, -1, false, 'x'), VirtioErrorCode.BAD_SEGMENT);
    expectCode(() => driver.addBuffer(BUF_BASE, 2 ** 32, false, 'x'), VirtioErrorCode.BAD_SEGMENT);
    expectCode(() => driver.add(Array.from({ length: 5 }, () => ({ addr: BUF_BASE, len: 1 })), [], 'x'), VirtioErrorCode.BAD_SEGMENT);
    expectCode(() => driver.add([{ addr: BUF_BASE, len: 2 ** 31 }, { addr: BUF_BASE, len: 2 ** 31 }], [{ addr: BUF_BASE, len: 1 }], 'x'), VirtioErrorCode.BAD_SEGMENT);
    expect(driver.numFree).toBe(N);
  });
});

describe('SplitVirtqueueDriver kick decision', () => {
  it('without EVENT_IDX: kick unless used.flags has NO_NOTIFY', () => {
    const { memory, driver } = setup();
    memory.write16(A.used, 1);
    driver.addBuffer(BUF_BASE, 1, false, 'a');
    expect(driver.kick()).toBe(false);
    memory.write16(A.used, 0);
    driver.addBuffer(BUF_BASE, 1, false, 'b');
    expect(driver.kick()).toBe(true);
    expect(driver.kick()).toBe(false); // nothing new
  });

  it('with EVENT_IDX: kick iff avail_event lies in [old, new)', () => {
    const { memory, driver } = setup({ features: features(VirtioFeature.EVENT_IDX) });
    memory.write16(AVAIL_EVENT, 2);
    driver.addBuffer(BUF_BASE, 1, false, 'a');
    driver.addBuffer(BUF_BASE, 1, false, 'b');
    expect(driver.kick()).toBe(false); // [0,2)
    driver.addBuffer(BUF_BASE, 1, false, 'c');
    expect(driver.kick()).toBe(true); // [2,3)
  });
});

describe('SplitVirtqueueDriver.popUsed checks the device', () => {
  function published() {
    const s = setup();
    s.driver.addBuffer(BUF_BASE, 0x10, true, 'a'); // id 0, 16 writable bytes
    s.driver.add([{ addr: BUF_BASE, len: 4 }], [{ addr: BUF_BASE, len: 8 }], 'b'); // id 1 (descs 1,2), 8 writable
    s.driver.kick();
    s.driver.addBuffer(BUF_BASE, 4, false, 'c'); // id 3, added but not published
    return s;
  }

  it('returns tokens and lengths in used-ring order and recycles descriptors', () => {
    const { memory, driver } = published();
    used(memory, 2, [1, 8], [0, 3]);
    expect(driver.hasUsed()).toBe(true);
    expect(driver.popUsed()).toBe('b');
    expect(driver.lastUsedLen).toBe(8);
    expect(driver.popUsed()).toBe('a');
    expect(driver.lastUsedLen).toBe(3);
    expect(driver.popUsed()).toBeUndefined();
    expect(driver.numFree).toBe(3);
  });

  it('reports 0 written bytes for a chain with no writable byte whatever used.len says (OpenAMP writes the buffer length)', () => {
    const s = setup();
    s.driver.addBuffer(BUF_BASE, 0x40, false, 'tx'); // id 0, device-readable only
    s.driver.kick();
    used(s.memory, 1, [0, 0x40]);
    expect(s.driver.popUsed()).toBe('tx');
    expect(s.driver.lastUsedLen).toBe(0);
    expect(s.driver.readOnlyLenIgnored).toBe(1);
    expect(s.driver.broken).toBeUndefined();
  });

  const bad: [string, string, () => ReturnType<typeof published>][] = [
    ['used.idx ahead of what was published', VirtioErrorCode.USED_IDX_TOO_FAR, () => { const s = published(); used(s.memory, 3, [0, 0], [1, 0], [2, 0]); return s; }],
    ['used.idx far ahead (wrapped)', VirtioErrorCode.USED_IDX_TOO_FAR, () => { const s = published(); used(s.memory, 0x8000); return s; }],
    ['id >= N', VirtioErrorCode.USED_ID_OUT_OF_RANGE, () => { const s = published(); used(s.memory, 1, [4, 0]); return s; }],
    ['id of a non-head descriptor', VirtioErrorCode.USED_ID_NOT_OUTSTANDING, () => { const s = published(); used(s.memory, 1, [2, 0]); return s; }],
    ['id added but not yet published', VirtioErrorCode.USED_ID_NOT_OUTSTANDING, () => { const s = published(); used(s.memory, 1, [3, 0]); return s; }],
    ['len above the writable bytes', VirtioErrorCode.USED_LEN_TOO_LARGE, () => { const s = published(); used(s.memory, 1, [1, 9]); return s; }],
  ];
  for (const [name, code, make] of bad) {
    it(name, () => {
      const { driver } = make();
      expectCode(() => driver.popUsed(), code);
      expect(driver.broken?.code).toBe(code);
      expectCode(() => driver.popUsed(), VirtioErrorCode.QUEUE_BROKEN);
      expectCode(() => driver.addBuffer(BUF_BASE, 1, false, 'z'), VirtioErrorCode.QUEUE_BROKEN);
    });
  }

  it('the same id twice', () => {
    const { memory, driver } = published();
    used(memory, 2, [0, 0], [0, 0]);
    expect(driver.popUsed()).toBe('a');
    expectCode(() => driver.popUsed(), VirtioErrorCode.USED_ID_NOT_OUTSTANDING);
  });

  it('reset returns the outstanding tokens, zeroes the rings and clears broken', () => {
    const { memory, driver } = published();
    used(memory, 1, [9, 0]);
    expectCode(() => driver.popUsed(), VirtioErrorCode.USED_ID_OUT_OF_RANGE);
    expect(driver.reset().sort()).toEqual(['a', 'b', 'c']);
    expect(driver.broken).toBeUndefined();
    expect(driver.numFree).toBe(N);
    expect([...memory.bytes(A.desc, 0x50 + 6 + 8 * N)].every((b) => b === 0)).toBe(true);
  });
});

describe('SplitVirtqueueDriver interrupt suppression', () => {
  it('without EVENT_IDX: avail.flags NO_INTERRUPT; enableCallbacks re-checks for used buffers', () => {
    const { memory, driver } = setup();
    driver.disableCallbacks();
    expect(memory.read16(A.avail)).toBe(1);
    expect(driver.enableCallbacks()).toBe(true);
    expect(memory.read16(A.avail)).toBe(0);
    driver.addBuffer(BUF_BASE, 4, true, 'a');
    driver.kick();
    used(memory, 1, [0, 4]);
    expect(driver.enableCallbacks()).toBe(false); // caller must drain
  });

  it('with EVENT_IDX: used_event follows lastUsed while enabled, stays 0 flags, delayed asks after 3/4', () => {
    const { memory, driver } = setup({ features: features(VirtioFeature.EVENT_IDX) });
    for (let i = 0; i < 4; i++) driver.addBuffer(BUF_BASE, 4, true, String(i));
    driver.kick();
    used(memory, 1, [0, 4]);
    expect(driver.popUsed()).toBe('0');
    expect(memory.read16(USED_EVENT)).toBe(1);
    driver.disableCallbacks();
    expect(memory.read16(A.avail)).toBe(0);
    expect(memory.read16(USED_EVENT)).toBe(0); // lastUsed - 1: unreachable before a wrap
    expect(driver.enableCallbacksDelayed()).toBe(true); // 3 in flight -> bufs = 2
    expect(memory.read16(USED_EVENT)).toBe(3);
    expect(driver.enableCallbacks()).toBe(true);
    expect(memory.read16(USED_EVENT)).toBe(1);
  });
});

describe('IN_ORDER', () => {
  it('allocates descriptors in ring order when buffers come back in order', () => {
    const { memory, driver } = setup({ features: features(VirtioFeature.IN_ORDER) });
    const heads: number[] = [];
    let usedIdx = 0;
    for (let round = 0; round < 3; round++) {
      heads.push(driver.addBuffer(BUF_BASE, 1, false, 'a'));
      heads.push(driver.add([{ addr: BUF_BASE, len: 1 }, { addr: BUF_BASE, len: 1 }], [], 'b'));
      driver.kick();
      const a = heads[heads.length - 2]!;
      const b = heads[heads.length - 1]!;
      writeHex(memory, A.used + 4 + 8 * (usedIdx & (N - 1)), u32Hex(a, 0));
      writeHex(memory, A.used + 4 + 8 * ((usedIdx + 1) & (N - 1)), u32Hex(b, 0));
      usedIdx += 2;
      memory.write16(A.used + 2, usedIdx);
      expect(driver.popUsed()).toBe('a');
      expect(driver.popUsed()).toBe('b');
    }
    // Ring order: 0, 1(+2), 3, 0(+1), 2, 3(+0) ...
    expect(heads).toEqual([0, 1, 3, 0, 2, 3]);
  });
});
