import { describe, expect, it } from 'vitest';
import {
  decodeNsMessage,
  decodeResourceTable,
  decodeRpmsgHeader,
  decodeRpmsgMessage,
  encodeNsMessage,
  encodeResourceTable,
  encodeRpmsgHeader,
  encodeRpmsgMessage,
  RpmsgErrorCode,
  type ResourceTable,
} from '../../src/rpmsg/index.js';
import { hexOf } from './helpers.js';

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('RPMsg header', () => {
  it('encodes src, dst, reserved, len, flags little-endian in 16 bytes', () => {
    const b = encodeRpmsgHeader({ src: 0x400, dst: 0x35, reserved: 0, len: 0x28, flags: 0 });
    expect(hexOf(b)).toBe('00040000' + '35000000' + '00000000' + '2800' + '0000');
    const full = encodeRpmsgHeader({ src: 0x11223344, dst: 0xffffffff, reserved: 0xaabbccdd, len: 0xfffe, flags: 0x0102 });
    expect(hexOf(full)).toBe('44332211ffffffffddccbbaafeff0201');
  });

  it('decodes the same bytes back', () => {
    expect(decodeRpmsgHeader(h('00040000 35000000 00000000 2800 0000'))).toEqual({ src: 0x400, dst: 0x35, reserved: 0, len: 40, flags: 0 });
  });

  it('rejects a short header and a payload length beyond the buffer', () => {
    expect(() => decodeRpmsgHeader(new Uint8Array(15))).toThrow(RpmsgErrorCode.TRUNCATED);
    const m = encodeRpmsgMessage(1024, 53, new Uint8Array([1, 2, 3]));
    expect(hexOf(m)).toBe('00040000350000000000000003000000010203');
    expect(decodeRpmsgMessage(m).payload).toEqual(new Uint8Array([1, 2, 3]));
    expect(() => decodeRpmsgMessage(m.subarray(0, 18))).toThrow(RpmsgErrorCode.INCONSISTENT);
    const padded = new Uint8Array(24);
    padded.set(m);
    expect(decodeRpmsgMessage(padded).header.len).toBe(3);
    expect(() => decodeRpmsgMessage(padded, true)).toThrow(RpmsgErrorCode.OVERSIZED);
    expect(() => encodeRpmsgHeader({ src: 0, dst: 0, reserved: 0, len: 0x10000, flags: 0 })).toThrow(RpmsgErrorCode.OVERSIZED);
  });
});

describe('name-service message', () => {
  const vec = h('7270 6d73 672d 636c 6965 6e74 2d73 616d 706c 6500' + '00'.repeat(12) + '00040000' + '00000000');

  it('is name[32] NUL-terminated, addr u32 @32, flags u32 @36 (40 bytes)', () => {
    const b = encodeNsMessage({ name: 'rpmsg-client-sample', addr: 1024, flags: 0 });
    expect(b.length).toBe(40);
    expect(hexOf(b)).toBe(hexOf(vec));
    expect(decodeNsMessage(vec)).toEqual({ name: 'rpmsg-client-sample', addr: 1024, flags: 0 });
    const d = encodeNsMessage({ name: 'x', addr: 0xdeadbeef, flags: 1 });
    expect(hexOf(d)).toBe('78' + '00'.repeat(31) + 'efbeadde' + '01000000');
  });

  it('rejects short, long, unterminated, empty names and unknown flags', () => {
    expect(() => decodeNsMessage(vec.subarray(0, 39))).toThrow(RpmsgErrorCode.TRUNCATED);
    const long = new Uint8Array(41);
    long.set(vec);
    expect(() => decodeNsMessage(long)).toThrow(RpmsgErrorCode.OVERSIZED);
    const unterminated = vec.slice();
    unterminated.fill(0x41, 0, 32);
    expect(() => decodeNsMessage(unterminated)).toThrow(RpmsgErrorCode.BAD_NAME);
    const empty = vec.slice();
    empty[0] = 0;
    expect(() => decodeNsMessage(empty)).toThrow(RpmsgErrorCode.BAD_NAME);
    const flags = vec.slice();
    flags[36] = 2;
    expect(() => decodeNsMessage(flags)).toThrow(RpmsgErrorCode.INCONSISTENT);
    expect(() => encodeNsMessage({ name: 'a'.repeat(32), addr: 1, flags: 0 })).toThrow(RpmsgErrorCode.BAD_NAME);
    expect(() => encodeNsMessage({ name: 'a'.repeat(31), addr: 1, flags: 0 })).not.toThrow();
  });
});

describe('resource table', () => {
  const table: ResourceTable = {
    version: 1,
    entries: [
      {
        type: 'vdev',
        id: 7,
        notifyid: 0,
        dfeatures: 1,
        gfeatures: 0,
        status: 0,
        vrings: [
          { da: 0x10001000, align: 0x1000, num: 256, notifyid: 0, pa: 0 },
          { da: 0x10009000, align: 0x1000, num: 256, notifyid: 1, pa: 0 },
        ],
        config: new Uint8Array([0xaa, 0xbb, 0xcc, 0xdd]),
      },
      { type: 'carveout', da: 0x10011000, pa: 0x10011000, len: 0x40000, flags: 0, name: 'vdev0buffer' },
      { type: 'trace', da: 0x20000000, len: 0x1000, name: 'trace0' },
    ],
  };
  // header | 3 offsets | vdev (28 + 2*20 + 4 config = 72) @0x1c | carveout (56) @0x64 | trace (48) @0x9c ; total 0xcc
  const vector =
    '01000000 03000000 00000000 00000000' +
    '1c000000 64000000 9c000000' +
    // vdev: type 3, id 7, notifyid 0, dfeatures 1, gfeatures 0, config_len 4, status 0, nvrings 2, reserved
    '03000000 07000000 00000000 01000000 00000000 04000000 00 02 0000' +
    '00100010 00100000 00010000 00000000 00000000' +
    '00900010 00100000 00010000 01000000 00000000' +
    'aabbccdd' +
    // carveout: type 0, da, pa, len, flags, reserved, name
    '00000000 00100110 00100110 00000400 00000000 00000000' +
    hexOf(new TextEncoder().encode('vdev0buffer')) + '00'.repeat(21) +
    // trace: type 2, da, len, reserved, name
    '02000000 00000020 00100000 00000000' +
    hexOf(new TextEncoder().encode('trace0')) + '00'.repeat(26);

  it('encodes header, offsets, VDEV with vrings and config, CARVEOUT and TRACE to exact bytes', () => {
    expect(hexOf(encodeResourceTable(table))).toBe(vector.replace(/\s+/g, ''));
  });

  it('decodes the same bytes, with entry offsets and sizes', () => {
    const d = decodeResourceTable(h(vector));
    expect(d.version).toBe(1);
    expect(d.size).toBe(0xcc);
    expect(d.entries.map((e) => [e.type, e.offset, e.size])).toEqual([
      ['vdev', 0x1c, 72],
      ['carveout', 0x64, 56],
      ['trace', 0x9c, 48],
    ]);
    const v = d.entries[0]!;
    if (v.type !== 'vdev') throw new Error('vdev expected');
    expect(v.vrings[1]).toEqual(table.entries[0]!.type === 'vdev' ? table.entries[0]!.vrings[1] : undefined);
    expect(Array.from(v.config)).toEqual([0xaa, 0xbb, 0xcc, 0xdd]);
    expect(d.entries[1]).toMatchObject({ name: 'vdev0buffer', len: 0x40000 });
    expect(d.entries[2]).toMatchObject({ name: 'trace0', da: 0x20000000 });
  });

  it('rejects short, oversized and inconsistent tables with typed errors', () => {
    const good = h(vector);
    const mut = (f: (v: DataView, b: Uint8Array) => void): Uint8Array => {
      const b = good.slice();
      f(new DataView(b.buffer), b);
      return b;
    };
    expect(() => decodeResourceTable(good.subarray(0, 12))).toThrow(RpmsgErrorCode.TRUNCATED);
    expect(() => decodeResourceTable(good.subarray(0, 20))).toThrow(RpmsgErrorCode.TRUNCATED);
    expect(() => decodeResourceTable(good.subarray(0, 0xcc - 1))).toThrow(RpmsgErrorCode.TRUNCATED);
    expect(() => decodeResourceTable(mut((v) => v.setUint32(0, 2, true)))).toThrow(RpmsgErrorCode.BAD_VERSION);
    expect(() => decodeResourceTable(mut((v) => v.setUint32(4, 100000, true)))).toThrow(RpmsgErrorCode.OVERSIZED);
    expect(() => decodeResourceTable(mut((v) => v.setUint32(0x1c + 25, 200, true)))).toThrow(RpmsgErrorCode.OVERSIZED);
    expect(() => decodeResourceTable(mut((v) => v.setUint32(0x1c + 20, 0x100000, true)))).toThrow(RpmsgErrorCode.OVERSIZED);
    // config_len running past the end
    expect(() => decodeResourceTable(mut((v) => v.setUint32(0x1c + 20, 2000, true)))).toThrow(RpmsgErrorCode.TRUNCATED);
    // offset into the header, misaligned, overlapping, unknown type
    expect(() => decodeResourceTable(mut((v) => v.setUint32(16, 8, true)))).toThrow(RpmsgErrorCode.INCONSISTENT);
    expect(() => decodeResourceTable(mut((v) => v.setUint32(16, 0x1e, true)))).toThrow(RpmsgErrorCode.INCONSISTENT);
    expect(() => decodeResourceTable(mut((v) => v.setUint32(20, 0x20, true)))).toThrow(RpmsgErrorCode.INCONSISTENT);
    expect(() => decodeResourceTable(mut((v) => v.setUint32(0x9c, 9, true)))).toThrow(RpmsgErrorCode.INCONSISTENT);
    expect(() => decodeResourceTable(mut((_v, b) => b.fill(0x41, 0x9c + 16, 0x9c + 48)))).toThrow(RpmsgErrorCode.BAD_NAME);
  });

  it('round-trips random well-formed tables', () => {
    for (let seed = 1; seed < 50; seed++) {
      const t: ResourceTable = {
        version: 1,
        entries: Array.from({ length: seed % 5 }, (_, i) =>
          i % 2 === 0
            ? { type: 'vdev' as const, id: 7, notifyid: i, dfeatures: seed, gfeatures: 0, status: seed & 0xff, vrings: [{ da: seed * 16, align: 16, num: 4, notifyid: i, pa: 0 }], config: new Uint8Array(seed % 7).fill(seed) }
            : { type: 'carveout' as const, da: seed, pa: seed + 1, len: seed * 3, flags: 0, name: `c${seed}` },
        ),
      };
      const d = decodeResourceTable(encodeResourceTable(t));
      expect(d.entries.map(({ offset: _o, size: _s, ...e }) => e)).toEqual(t.entries);
    }
  });
});
