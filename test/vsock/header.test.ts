import { describe, expect, it } from 'vitest';
import {
  VsockErrorCode,
  VsockOp,
  decodeVsockConfig,
  decodeVsockEvent,
  decodeVsockHeader,
  encodeVsockConfig,
  encodeVsockEvent,
  encodeVsockHeader,
  type VsockHeader,
} from '../../src/vsock/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// guest CID 3 port 1024 ↔ host CID 2 port 1234; fields: src_cid dst_cid src_port dst_port len type op flags buf_alloc fwd_cnt
const G2H = '0300000000000000 0200000000000000 00040000 d2040000';
const H2G = '0200000000000000 0300000000000000 d2040000 00040000';
const base = (dir: 'g2h' | 'h2g'): Omit<VsockHeader, 'len' | 'op' | 'flags' | 'fwdCnt'> =>
  dir === 'g2h'
    ? { srcCid: 3, dstCid: 2, srcPort: 1024, dstPort: 1234, type: 1, bufAlloc: 0x40000 }
    : { srcCid: 2, dstCid: 3, srcPort: 1234, dstPort: 1024, type: 1, bufAlloc: 0x40000 };

const vectors: { name: string; h: VsockHeader; bytes: string }[] = [
  { name: 'REQUEST', h: { ...base('g2h'), len: 0, op: VsockOp.REQUEST, flags: 0, fwdCnt: 0 }, bytes: `${G2H} 00000000 0100 0100 00000000 00000400 00000000` },
  { name: 'RESPONSE', h: { ...base('h2g'), len: 0, op: VsockOp.RESPONSE, flags: 0, fwdCnt: 0 }, bytes: `${H2G} 00000000 0100 0200 00000000 00000400 00000000` },
  { name: 'RW (4096 bytes)', h: { ...base('g2h'), len: 4096, op: VsockOp.RW, flags: 0, fwdCnt: 0x1234 }, bytes: `${G2H} 00100000 0100 0500 00000000 00000400 34120000` },
  { name: 'CREDIT_UPDATE', h: { ...base('h2g'), len: 0, op: VsockOp.CREDIT_UPDATE, flags: 0, fwdCnt: 0xfffffffe }, bytes: `${H2G} 00000000 0100 0600 00000000 00000400 feffffff` },
  { name: 'CREDIT_REQUEST', h: { ...base('g2h'), len: 0, op: VsockOp.CREDIT_REQUEST, flags: 0, fwdCnt: 7 }, bytes: `${G2H} 00000000 0100 0700 00000000 00000400 07000000` },
  { name: 'SHUTDOWN RCV', h: { ...base('g2h'), len: 0, op: VsockOp.SHUTDOWN, flags: 1, fwdCnt: 0 }, bytes: `${G2H} 00000000 0100 0400 01000000 00000400 00000000` },
  { name: 'SHUTDOWN SEND', h: { ...base('h2g'), len: 0, op: VsockOp.SHUTDOWN, flags: 2, fwdCnt: 0 }, bytes: `${H2G} 00000000 0100 0400 02000000 00000400 00000000` },
  { name: 'SHUTDOWN RCV|SEND', h: { ...base('g2h'), len: 0, op: VsockOp.SHUTDOWN, flags: 3, fwdCnt: 0 }, bytes: `${G2H} 00000000 0100 0400 03000000 00000400 00000000` },
  { name: 'RST', h: { ...base('h2g'), len: 0, op: VsockOp.RST, flags: 0, fwdCnt: 0, bufAlloc: 0 }, bytes: `${H2G} 00000000 0100 0300 00000000 00000000 00000000` },
  {
    name: 'a CID above 2^32 and SEQPACKET',
    h: { srcCid: 0x1_0000_0005, dstCid: 2, srcPort: 0xffffffff, dstPort: 1, len: 1, type: 2, op: VsockOp.RW, flags: 1, bufAlloc: 0xffffffff, fwdCnt: 0 },
    bytes: '0500000001000000 0200000000000000 ffffffff 01000000 01000000 0200 0500 01000000 ffffffff 00000000',
  },
];

describe('virtio_vsock_hdr byte vectors (44 bytes, little-endian)', () => {
  for (const v of vectors) {
    it(`${v.name} encodes to and decodes from its bytes`, () => {
      expect(hex(v.bytes)).toHaveLength(44);
      expect(Buffer.from(encodeVsockHeader(v.h)).toString('hex')).toBe(hex(v.bytes).toString('hex'));
      expect(decodeVsockHeader(hex(v.bytes))).toEqual(v.h);
    });
  }

  it('decodes at an offset and encodes into a larger buffer', () => {
    const buf = Buffer.alloc(50, 0xee);
    encodeVsockHeader(vectors[0]!.h, buf, 3);
    expect(buf.subarray(3, 47).equals(hex(vectors[0]!.bytes))).toBe(true);
    expect(buf[2]).toBe(0xee);
    expect(buf[47]).toBe(0xee);
    expect(decodeVsockHeader(buf, 3)).toEqual(vectors[0]!.h);
  });

  it('a CID whose high half makes it unsafe decodes to -1 (matches no endpoint)', () => {
    const b = hex(vectors[0]!.bytes);
    b.writeUInt32LE(0xffffffff, 4);
    expect(decodeVsockHeader(b).srcCid).toBe(-1);
  });

  it('rejects short input and out-of-range fields with typed errors', () => {
    expect(() => decodeVsockHeader(new Uint8Array(43))).toThrow(expect.objectContaining({ code: VsockErrorCode.TRUNCATED }));
    expect(() => decodeVsockHeader(new Uint8Array(44), 1)).toThrow(expect.objectContaining({ code: VsockErrorCode.TRUNCATED }));
    expect(() => encodeVsockHeader(vectors[0]!.h, new Uint8Array(40))).toThrow(expect.objectContaining({ code: VsockErrorCode.TRUNCATED }));
    expect(() => encodeVsockHeader({ ...vectors[0]!.h, op: 0x10000 })).toThrow(expect.objectContaining({ code: VsockErrorCode.BAD_FIELD }));
    expect(() => encodeVsockHeader({ ...vectors[0]!.h, srcPort: -1 })).toThrow(expect.objectContaining({ code: VsockErrorCode.BAD_FIELD }));
    expect(() => encodeVsockHeader({ ...vectors[0]!.h, len: 1.5 })).toThrow(expect.objectContaining({ code: VsockErrorCode.BAD_FIELD }));
  });
});

describe('config space and event', () => {
  it('guest_cid is a little-endian u64', () => {
    expect(Buffer.from(encodeVsockConfig(3)).toString('hex')).toBe('0300000000000000');
    expect(Buffer.from(encodeVsockConfig(0x1_0000_0003)).toString('hex')).toBe('0300000001000000');
    expect(decodeVsockConfig(hex('2a00000000000000'))).toEqual({ guestCid: 42 });
    expect(() => decodeVsockConfig(new Uint8Array(4))).toThrow(expect.objectContaining({ code: VsockErrorCode.TRUNCATED }));
  });

  it('TRANSPORT_RESET is event id 0 as a u32', () => {
    expect(Buffer.from(encodeVsockEvent(0)).toString('hex')).toBe('00000000');
    expect(decodeVsockEvent(hex('01000000'))).toEqual({ id: 1 });
  });
});
