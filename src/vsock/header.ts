/**
 * struct virtio_vsock_hdr (VIRTIO 1.2 §5.10.6, Linux uapi virtio_vsock.h), 44 bytes, packed, little-endian:
 *
 *   0         8         16        20        24    28     30    32      36         40        44
 *   +---------+---------+---------+---------+-----+------+-----+-------+----------+---------+---------
 *   | src_cid | dst_cid | src_prt | dst_prt | len | type | op  | flags | buf_alloc| fwd_cnt | payload (len)
 *   +---------+---------+---------+---------+-----+------+-----+-------+----------+---------+---------
 *     u64       u64       u32       u32       u32   u16    u16   u32     u32        u32
 *
 * CIDs are u64 on the wire; here a number (hi·2^32 + lo). A CID whose high half makes it unsafe as a number decodes
 * to -1, which matches no endpoint (Linux uses 32-bit CIDs in practice). The roles decode into one reused
 * VsockHeader object per endpoint, so the hot path allocates nothing.
 */
import { VsockError, VsockErrorCode } from './errors.js';
import { VSOCK_CONFIG_SIZE, VSOCK_EVENT_SIZE, VSOCK_HEADER_SIZE } from './constants.js';

/** A decoded header (mutable, so a role can reuse one). */
export interface VsockHeader {
  srcCid: number;
  dstCid: number;
  srcPort: number;
  dstPort: number;
  len: number;
  type: number;
  op: number;
  flags: number;
  bufAlloc: number;
  fwdCnt: number;
}

export function emptyHeader(): VsockHeader {
  return { srcCid: 0, dstCid: 0, srcPort: 0, dstPort: 0, len: 0, type: 0, op: 0, flags: 0, bufAlloc: 0, fwdCnt: 0 };
}

/** Field offsets, checked against the C header by test/vsock/conformance.test.ts. */
export const VsockHeaderOffset = {
  srcCid: 0,
  dstCid: 8,
  srcPort: 16,
  dstPort: 20,
  len: 24,
  type: 28,
  op: 30,
  flags: 32,
  bufAlloc: 36,
  fwdCnt: 40,
} as const;

const TWO32 = 0x1_0000_0000;

function readCid(v: DataView, o: number): number {
  const lo = v.getUint32(o, true);
  const hi = v.getUint32(o + 4, true);
  return hi > 0x1fffff ? -1 : hi * TWO32 + lo;
}

function writeCid(v: DataView, o: number, cid: number): void {
  v.setUint32(o, cid >>> 0, true);
  v.setUint32(o + 4, Math.floor(cid / TWO32), true);
}

function checkUint(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new VsockError(VsockErrorCode.BAD_FIELD, `header ${name} ${v} is out of range 0..${max}`, { [name]: v });
  }
}

/** Checks the fields of `h` fit their wire widths (for encodeVsockHeader; the roles' own headers always fit). */
export function checkHeader(h: VsockHeader): void {
  checkUint('srcCid', h.srcCid, Number.MAX_SAFE_INTEGER);
  checkUint('dstCid', h.dstCid, Number.MAX_SAFE_INTEGER);
  checkUint('srcPort', h.srcPort, 0xffffffff);
  checkUint('dstPort', h.dstPort, 0xffffffff);
  checkUint('len', h.len, 0xffffffff);
  checkUint('type', h.type, 0xffff);
  checkUint('op', h.op, 0xffff);
  checkUint('flags', h.flags, 0xffffffff);
  checkUint('bufAlloc', h.bufAlloc, 0xffffffff);
  checkUint('fwdCnt', h.fwdCnt, 0xffffffff);
}

/** Writes the header into `v` at `o` without checks (the hot path: fields are known to fit). */
export function writeHeader(v: DataView, o: number, h: VsockHeader): void {
  writeCid(v, o, h.srcCid);
  writeCid(v, o + 8, h.dstCid);
  v.setUint32(o + 16, h.srcPort >>> 0, true);
  v.setUint32(o + 20, h.dstPort >>> 0, true);
  v.setUint32(o + 24, h.len >>> 0, true);
  v.setUint16(o + 28, h.type, true);
  v.setUint16(o + 30, h.op, true);
  v.setUint32(o + 32, h.flags >>> 0, true);
  v.setUint32(o + 36, h.bufAlloc >>> 0, true);
  v.setUint32(o + 40, h.fwdCnt >>> 0, true);
}

/** Reads the header at `o` of `v` into `h` (the hot path: the caller checked that 44 bytes are there). */
export function readHeader(v: DataView, o: number, h: VsockHeader): VsockHeader {
  h.srcCid = readCid(v, o);
  h.dstCid = readCid(v, o + 8);
  h.srcPort = v.getUint32(o + 16, true);
  h.dstPort = v.getUint32(o + 20, true);
  h.len = v.getUint32(o + 24, true);
  h.type = v.getUint16(o + 28, true);
  h.op = v.getUint16(o + 30, true);
  h.flags = v.getUint32(o + 32, true);
  h.bufAlloc = v.getUint32(o + 36, true);
  h.fwdCnt = v.getUint32(o + 40, true);
  return h;
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Encodes `h` at `offset` of `out` (default: a new 44-byte array) after checking every field; returns `out`. */
export function encodeVsockHeader(h: VsockHeader, out: Uint8Array = new Uint8Array(VSOCK_HEADER_SIZE), offset = 0): Uint8Array {
  checkHeader(h);
  if (!Number.isInteger(offset) || offset < 0 || offset + VSOCK_HEADER_SIZE > out.length) {
    throw new VsockError(VsockErrorCode.TRUNCATED, `no room for a 44-byte vsock header at offset ${offset} of ${out.length} bytes`);
  }
  writeHeader(viewOf(out), offset, h);
  return out;
}

/** Decodes the header at `offset` of `bytes`; only checks that 44 bytes are there (field rules are the roles' job). */
export function decodeVsockHeader(bytes: Uint8Array, offset = 0): VsockHeader {
  if (!Number.isInteger(offset) || offset < 0 || offset + VSOCK_HEADER_SIZE > bytes.length) {
    throw new VsockError(VsockErrorCode.TRUNCATED, `a vsock header needs 44 bytes, ${Math.max(0, bytes.length - offset)} given`, { length: bytes.length, offset });
  }
  return readHeader(viewOf(bytes), offset, emptyHeader());
}

/** struct virtio_vsock_config: u64 guest_cid. */
export function encodeVsockConfig(guestCid: number): Uint8Array {
  checkUint('guestCid', guestCid, Number.MAX_SAFE_INTEGER);
  const out = new Uint8Array(VSOCK_CONFIG_SIZE);
  writeCid(viewOf(out), 0, guestCid);
  return out;
}

export function decodeVsockConfig(bytes: Uint8Array): { guestCid: number } {
  if (bytes.length < VSOCK_CONFIG_SIZE) throw new VsockError(VsockErrorCode.TRUNCATED, `the vsock config space has 8 bytes, ${bytes.length} given`);
  return { guestCid: readCid(viewOf(bytes), 0) };
}

/** struct virtio_vsock_event: u32 id. */
export function encodeVsockEvent(id: number): Uint8Array {
  checkUint('id', id, 0xffffffff);
  const out = new Uint8Array(VSOCK_EVENT_SIZE);
  viewOf(out).setUint32(0, id, true);
  return out;
}

export function decodeVsockEvent(bytes: Uint8Array): { id: number } {
  if (bytes.length < VSOCK_EVENT_SIZE) throw new VsockError(VsockErrorCode.TRUNCATED, `a vsock event has 4 bytes, ${bytes.length} given`);
  return { id: viewOf(bytes).getUint32(0, true) };
}
