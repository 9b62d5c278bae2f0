/**
 * SplitVirtqueueDevice against hand-written ring bytes: every rule of §2.7 a driver can break, with its code.
 * Rings: N = 8 at helpers.ringAt(8): desc 0x10000000, avail 0x10000080, used 0x10000098.
 */
import { describe, expect, it } from 'vitest';
import { DescriptorChain, PhysicalMemory, SplitVirtqueueDevice, VirtioErrorCode, VirtioFeature, features, type DeviceQueueOptions } from '../../../src/virtio/index.js';
import { BUF_BASE, MEM_BASE, MEM_SIZE, descHex, hexBytes, ringAt, u16Hex, u32Hex, writeHex } from './helpers.js';

const N = 8;
const A = ringAt(N);
const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;
const TABLE = MEM_BASE + 0x4_0000;

function setup(opts: DeviceQueueOptions = {}, extraRegions = false) {
  const memory = new PhysicalMemory([{ name: 'ram', base: MEM_BASE, size: MEM_SIZE }]);
  if (extraRegions) memory.addRegion({ name: 'high', base: 0x2_0000_0000, size: 0x1000 });
  const device = new SplitVirtqueueDevice(memory, N, A, opts);
  return { memory, device, chain: device.newChain() };
}

/** Makes `heads` available at avail ring slots 0.. and sets avail.idx. */
function avail(memory: PhysicalMemory, ...heads: number[]): void {
  writeHex(memory, A.avail, u16Hex(0, heads.length, ...heads));
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

describe('SplitVirtqueueDevice.pop decodes descriptor bytes', () => {
  it('a readable+writable chain through non-adjacent descriptors', () => {
    const { memory, device, chain } = setup();
    writeHex(memory, A.desc + 16 * 2, descHex(BUF_BASE, 0x40, NEXT, 6));
    writeHex(memory, A.desc + 16 * 6, descHex(BUF_BASE + 0x100, 0x200, WRITE, 0));
    avail(memory, 2);
    expect(device.pending()).toBe(1);
    expect(device.pop(chain)).toBe(true);
    expect(chain.toJSON()).toEqual({ head: 2, segments: [{ addr: '0x10080000', len: 0x40, write: false }, { addr: '0x10080100', len: 0x200, write: true }] });
    expect([chain.readable, chain.readableBytes, chain.writableBytes, chain.ringDescs, chain.indirect]).toEqual([1, 0x40, 0x200, 2, false]);
    expect(device.lastAvailIdx).toBe(1);
    expect(device.pop(chain)).toBe(false);
  });

  it('a buffer above 4 GiB (both u32 halves of addr)', () => {
    const { memory, device, chain } = setup({}, true);
    writeHex(memory, A.desc, descHex(0x2_0000_0010n, 16, 0, 0));
    avail(memory, 0);
    expect(device.pop(chain)).toBe(true);
    expect(chain.addr[0]).toBe(0x2_0000_0010);
  });

  it('an indirect table (entries chained from entry 0) counts as one ring descriptor', () => {
    const { memory, device, chain } = setup({ features: features(VirtioFeature.INDIRECT_DESC) });
    writeHex(memory, TABLE, descHex(BUF_BASE, 8, NEXT, 2) + descHex(BUF_BASE + 0x300, 4, WRITE, 0) + descHex(BUF_BASE + 0x200, 12, NEXT, 1));
    writeHex(memory, A.desc + 16 * 5, descHex(TABLE, 48, INDIRECT | WRITE, 0)); // WRITE on the table pointer is ignored
    avail(memory, 5);
    expect(device.pop(chain)).toBe(true);
    expect(chain.toJSON().segments.map((s) => [s.addr, s.len, s.write])).toEqual([
      ['0x10080000', 8, false],
      ['0x10080200', 12, false],
      ['0x10080300', 4, true],
    ]);
    expect([chain.indirect, chain.ringDescs, chain.head]).toEqual([true, 1, 5]);
  });

  it('zero chains when avail.idx equals the last index, a full ring of N', () => {
    const { memory, device, chain } = setup();
    for (let i = 0; i < N; i++) writeHex(memory, A.desc + 16 * i, descHex(BUF_BASE + 16 * i, 16, 0, 0));
    avail(memory, 7, 6, 5, 4, 3, 2, 1, 0);
    expect(device.pending()).toBe(N);
    const heads = [];
    while (device.pop(chain)) heads.push(chain.head);
    expect(heads).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
  });
});

describe('SplitVirtqueueDevice refuses broken chains with a code and becomes broken', () => {
  const cases: { name: string; code: string; opts?: DeviceQueueOptions; bytes: (m: PhysicalMemory) => void; heads?: number[] }[] = [
    { name: 'head >= N', code: VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE, bytes: () => {}, heads: [8] },
    { name: 'next >= N', code: VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE, bytes: (m) => writeHex(m, A.desc, descHex(BUF_BASE, 1, NEXT, 8)) },
    { name: 'self loop', code: VirtioErrorCode.DESC_LOOP, bytes: (m) => writeHex(m, A.desc, descHex(BUF_BASE, 1, NEXT, 0)) },
    {
      name: 'loop 0 -> 1 -> 0',
      code: VirtioErrorCode.DESC_LOOP,
      bytes: (m) => writeHex(m, A.desc, descHex(BUF_BASE, 1, NEXT, 1) + descHex(BUF_BASE, 1, NEXT, 0)),
    },
    {
      name: 'loop longer than maxChainSegments',
      code: VirtioErrorCode.CHAIN_TOO_LONG,
      opts: { maxChainSegments: 2 },
      bytes: (m) => writeHex(m, A.desc, descHex(BUF_BASE, 1, NEXT, 1) + descHex(BUF_BASE, 1, NEXT, 2) + descHex(BUF_BASE, 1, NEXT, 0)),
    },
    {
      name: 'chain of 3 with maxChainSegments 2',
      code: VirtioErrorCode.CHAIN_TOO_LONG,
      opts: { maxChainSegments: 2 },
      bytes: (m) => writeHex(m, A.desc, descHex(BUF_BASE, 1, NEXT, 1) + descHex(BUF_BASE, 1, NEXT, 2) + descHex(BUF_BASE, 1, 0, 0)),
    },
    { name: 'indirect not negotiated', code: VirtioErrorCode.INDIRECT_NOT_NEGOTIATED, bytes: (m) => writeHex(m, A.desc, descHex(TABLE, 16, INDIRECT, 0)) },
    {
      name: 'INDIRECT with NEXT',
      code: VirtioErrorCode.INDIRECT_WITH_NEXT,
      opts: { features: features(VirtioFeature.INDIRECT_DESC) },
      bytes: (m) => writeHex(m, A.desc, descHex(TABLE, 16, INDIRECT | NEXT, 1) + descHex(BUF_BASE, 1, 0, 0)),
    },
    {
      name: 'nested indirect',
      code: VirtioErrorCode.NESTED_INDIRECT,
      opts: { features: features(VirtioFeature.INDIRECT_DESC) },
      bytes: (m) => {
        writeHex(m, TABLE, descHex(TABLE + 0x100, 16, INDIRECT, 0));
        writeHex(m, A.desc, descHex(TABLE, 16, INDIRECT, 0));
      },
    },
    {
      name: 'indirect len 0',
      code: VirtioErrorCode.INDIRECT_BAD_LENGTH,
      opts: { features: features(VirtioFeature.INDIRECT_DESC) },
      bytes: (m) => writeHex(m, A.desc, descHex(TABLE, 0, INDIRECT, 0)),
    },
    {
      name: 'indirect len 17',
      code: VirtioErrorCode.INDIRECT_BAD_LENGTH,
      opts: { features: features(VirtioFeature.INDIRECT_DESC) },
      bytes: (m) => writeHex(m, A.desc, descHex(TABLE, 17, INDIRECT, 0)),
    },
    {
      name: 'indirect table longer than N entries (a chain too long, as on the packed ring)',
      code: VirtioErrorCode.CHAIN_TOO_LONG,
      opts: { features: features(VirtioFeature.INDIRECT_DESC) },
      bytes: (m) => writeHex(m, A.desc, descHex(TABLE, 16 * (N + 1), INDIRECT, 0)),
    },
    {
      name: 'indirect table outside memory',
      code: VirtioErrorCode.BUFFER_OUT_OF_RANGE,
      opts: { features: features(VirtioFeature.INDIRECT_DESC) },
      bytes: (m) => writeHex(m, A.desc, descHex(MEM_BASE + MEM_SIZE - 16, 32, INDIRECT, 0)),
    },
    {
      name: 'next inside an indirect table >= its length',
      code: VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE,
      opts: { features: features(VirtioFeature.INDIRECT_DESC) },
      bytes: (m) => {
        writeHex(m, TABLE, descHex(BUF_BASE, 1, NEXT, 1) + descHex(BUF_BASE, 1, NEXT, 2));
        writeHex(m, A.desc, descHex(TABLE, 32, INDIRECT, 0));
      },
    },
    {
      name: 'loop inside an indirect table',
      code: VirtioErrorCode.DESC_LOOP,
      opts: { features: features(VirtioFeature.INDIRECT_DESC) },
      bytes: (m) => {
        writeHex(m, TABLE, descHex(BUF_BASE, 1, NEXT, 1) + descHex(BUF_BASE, 1, NEXT, 0));
        writeHex(m, A.desc, descHex(TABLE, 32, INDIRECT, 0));
      },
    },
    { name: 'buffer outside memory', code: VirtioErrorCode.BUFFER_OUT_OF_RANGE, bytes: (m) => writeHex(m, A.desc, descHex(0x100, 16, 0, 0)) },
    {
      name: 'buffer straddling the end of memory',
      code: VirtioErrorCode.BUFFER_OUT_OF_RANGE,
      bytes: (m) => writeHex(m, A.desc, descHex(MEM_BASE + MEM_SIZE - 8, 16, 0, 0)),
    },
    { name: 'address above 2^53', code: VirtioErrorCode.BUFFER_OUT_OF_RANGE, bytes: (m) => writeHex(m, A.desc, descHex(0xffff_ffff_0000_0000n, 16, 0, 0)) },
    {
      name: 'readable after writable',
      code: VirtioErrorCode.READABLE_AFTER_WRITABLE,
      bytes: (m) => writeHex(m, A.desc, descHex(BUF_BASE, 4, WRITE | NEXT, 1) + descHex(BUF_BASE, 4, 0, 0)),
    },
    {
      name: 'readable after writable inside an indirect table',
      code: VirtioErrorCode.READABLE_AFTER_WRITABLE,
      opts: { features: features(VirtioFeature.INDIRECT_DESC) },
      bytes: (m) => {
        writeHex(m, TABLE, descHex(BUF_BASE, 1, WRITE | NEXT, 1) + descHex(BUF_BASE, 1, 0, 0));
        writeHex(m, A.desc, descHex(TABLE, 32, INDIRECT, 0));
      },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const { memory, device, chain } = setup(c.opts);
      c.bytes(memory);
      avail(memory, ...(c.heads ?? [0]));
      expectCode(() => device.pop(chain), c.code);
      expect(device.broken?.code).toBe(c.code);
      expect(device.pop(chain)).toBe(false); // a broken queue pops nothing
      device.reset();
      expect(device.broken).toBeUndefined();
    });
  }

  it('avail.idx more than N ahead', () => {
    const { memory, device, chain } = setup();
    writeHex(memory, A.avail, u16Hex(0, N + 1));
    expect(device.pending()).toBe(0);
    expectCode(() => device.pop(chain), VirtioErrorCode.AVAIL_IDX_TOO_FAR);
    expect(device.broken?.code).toBe(VirtioErrorCode.AVAIL_IDX_TOO_FAR);
  });

  it('a head made available again while the device still holds it', () => {
    const { memory, device, chain } = setup();
    writeHex(memory, A.desc, descHex(BUF_BASE, 4, 0, 0));
    avail(memory, 0, 0);
    expect(device.pop(chain)).toBe(true);
    expectCode(() => device.pop(chain), VirtioErrorCode.DESC_IN_USE);
  });

  it('a chain whose capacity is below maxChainSegments is our mistake, not a broken queue', () => {
    const { memory, device } = setup();
    avail(memory, 0);
    expectCode(() => device.pop(new DescriptorChain(2)), VirtioErrorCode.BAD_ARGUMENT);
    expect(device.broken).toBeUndefined();
  });
});

describe('SplitVirtqueueDevice used ring', () => {
  function popped(opts: DeviceQueueOptions = {}, n = 3) {
    const s = setup(opts);
    for (let i = 0; i < n; i++) writeHex(s.memory, A.desc + 16 * i, descHex(BUF_BASE + 0x100 * i, 0x100, WRITE, 0));
    avail(s.memory, ...Array.from({ length: n }, (_, i) => i));
    for (let i = 0; i < n; i++) s.device.pop(s.chain);
    return s;
  }

  it('pushUsed writes id/len with plain stores; publishUsed then moves used.idx', () => {
    const { memory, device } = popped();
    device.pushUsed(1, 0x10);
    device.pushUsed(0, 0x100);
    expect(hexBytes(memory.bytes(A.used, 20))).toBe(u16Hex(0, 0) + u32Hex(1, 0x10, 0, 0x100));
    expect(device.publishUsed()).toBe(true);
    expect(hexBytes(memory.bytes(A.used, 4))).toBe(u16Hex(0, 2));
    expect(device.publishUsed()).toBe(false); // nothing new
  });

  it('refuses pushUsed of an id not held, twice, or with a length above the writable bytes', () => {
    const { device } = popped();
    expectCode(() => device.pushUsed(5, 0), VirtioErrorCode.BAD_ARGUMENT);
    expectCode(() => device.pushUsed(-1, 0), VirtioErrorCode.BAD_ARGUMENT);
    expectCode(() => device.pushUsed(0, 0x101), VirtioErrorCode.BAD_ARGUMENT);
    device.pushUsed(0, 0x100);
    expectCode(() => device.pushUsed(0, 0), VirtioErrorCode.BAD_ARGUMENT);
  });

  it('IN_ORDER: buffers must be used in the order they were popped', () => {
    const { device } = popped({ features: features(VirtioFeature.IN_ORDER) });
    expectCode(() => device.pushUsed(1, 0), VirtioErrorCode.BAD_ARGUMENT);
    device.pushUsed(0, 0);
    device.pushUsed(1, 0);
    device.pushUsed(2, 0);
  });

  it('without EVENT_IDX: interrupt unless avail.flags has NO_INTERRUPT', () => {
    const { memory, device } = popped();
    writeHex(memory, A.avail, u16Hex(1));
    device.pushUsed(0, 0);
    expect(device.publishUsed()).toBe(false);
    writeHex(memory, A.avail, u16Hex(0));
    device.pushUsed(1, 0);
    expect(device.publishUsed()).toBe(true);
  });

  it('with EVENT_IDX: interrupt iff used_event lies in [old, new)', () => {
    const { memory, device } = popped({ features: features(VirtioFeature.EVENT_IDX) });
    const usedEvent = A.avail + 4 + 2 * N;
    memory.write16(usedEvent, 1); // interrupt when the entry at index 1 is published
    device.pushUsed(0, 0);
    expect(device.publishUsed()).toBe(false); // [0,1) does not hold 1
    device.pushUsed(1, 0);
    device.pushUsed(2, 0);
    expect(device.publishUsed()).toBe(true); // [1,3) holds 1
  });

  it('notification suppression bytes: used.flags without EVENT_IDX, avail_event with it', () => {
    const plain = setup();
    plain.device.disableNotifications();
    expect(plain.memory.read16(A.used)).toBe(1);
    expect(plain.device.enableNotifications()).toBe(true);
    expect(plain.memory.read16(A.used)).toBe(0);
    avail(plain.memory, 0);
    expect(plain.device.enableNotifications()).toBe(false); // pending: caller must pop

    const ev = setup({ features: features(VirtioFeature.EVENT_IDX) });
    const availEvent = A.used + 4 + 8 * N;
    ev.device.disableNotifications();
    expect(ev.memory.read16(A.used)).toBe(0);
    expect(ev.memory.read16(availEvent)).toBe(0xffff);
    writeHex(ev.memory, A.desc, descHex(BUF_BASE, 4, 0, 0));
    avail(ev.memory, 0);
    expect(ev.device.enableNotifications()).toBe(false);
    expect(ev.memory.read16(availEvent)).toBe(0);
    ev.device.pop(ev.chain);
    expect(ev.memory.read16(availEvent)).toBe(1); // kick me for the next one
  });
});
