/**
 * The 16-byte RPMsg header (Linux struct rpmsg_hdr, OpenAMP struct rpmsg_hdr), little-endian:
 *
 *   0        4        8          12     14      16
 *   +--------+--------+----------+------+-------+----------------
 *   | src    | dst    | reserved | len  | flags | payload (len bytes)
 *   +--------+--------+----------+------+-------+----------------
 *
 * `reserved` is 0 on the wire (OpenAMP uses it locally for its buffer index; we never rely on a peer's value).
 * The codecs here are for tests, tools and slow paths; the roles read and write headers in place as four u32 words
 * (word 3 = len | flags << 16; the host is little-endian), through the region's DataView only when unaligned.
 */
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import { RPMSG_HEADER_SIZE } from './constants.js';

export interface RpmsgHeader {
  readonly src: number;
  readonly dst: number;
  readonly reserved: number;
  /** Payload length in bytes (u16). */
  readonly len: number;
  readonly flags: number;
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `header ${name} ${v} is not a u32`, { [name]: v });
  }
}

/** Writes `h` at `offset` of `out` (default: a new 16-byte array) and returns `out`. */
export function encodeRpmsgHeader(h: RpmsgHeader, out: Uint8Array = new Uint8Array(RPMSG_HEADER_SIZE), offset = 0): Uint8Array {
  checkU32('src', h.src);
  checkU32('dst', h.dst);
  checkU32('reserved', h.reserved);
  if (!Number.isInteger(h.len) || h.len < 0 || h.len > 0xffff) {
    throw new RpmsgError(RpmsgErrorCode.OVERSIZED, `payload length ${h.len} does not fit the u16 len field`, { len: h.len });
  }
  if (!Number.isInteger(h.flags) || h.flags < 0 || h.flags > 0xffff) {
    throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `header flags ${h.flags} is not a u16`, { flags: h.flags });
  }
  if (offset < 0 || offset + RPMSG_HEADER_SIZE > out.length) {
    throw new RpmsgError(RpmsgErrorCode.TRUNCATED, `no room for a 16-byte header at offset ${offset} of ${out.length} bytes`);
  }
  const v = new DataView(out.buffer, out.byteOffset + offset, RPMSG_HEADER_SIZE);
  v.setUint32(0, h.src, true);
  v.setUint32(4, h.dst, true);
  v.setUint32(8, h.reserved, true);
  v.setUint16(12, h.len, true);
  v.setUint16(14, h.flags, true);
  return out;
}

/** Reads the header at `offset` of `bytes`; only checks that 16 bytes are there. */
export function decodeRpmsgHeader(bytes: Uint8Array, offset = 0): RpmsgHeader {
  if (offset < 0 || offset + RPMSG_HEADER_SIZE > bytes.length) {
    throw new RpmsgError(RpmsgErrorCode.TRUNCATED, `an RPMsg header needs 16 bytes, ${Math.max(0, bytes.length - offset)} given`, { length: bytes.length, offset });
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, RPMSG_HEADER_SIZE);
  return { src: v.getUint32(0, true), dst: v.getUint32(4, true), reserved: v.getUint32(8, true), len: v.getUint16(12, true), flags: v.getUint16(14, true) };
}

export interface RpmsgMessageBytes {
  readonly header: RpmsgHeader;
  /** The payload, a view into the input. */
  readonly payload: Uint8Array;
}

/** Encodes a whole message (header + payload). */
export function encodeRpmsgMessage(src: number, dst: number, payload: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(RPMSG_HEADER_SIZE + payload.length);
  encodeRpmsgHeader({ src, dst, reserved: 0, len: payload.length, flags }, out);
  out.set(payload, RPMSG_HEADER_SIZE);
  return out;
}

/**
 * Decodes a message found in a buffer of `bytes.length` bytes (the buffer or the used length the peer reported).
 * The header's len must fit in what follows it (INCONSISTENT otherwise), as Linux rpmsg_recv_single checks.
 * With `exact`, trailing bytes after the payload are refused (OVERSIZED).
 */
export function decodeRpmsgMessage(bytes: Uint8Array, exact = false): RpmsgMessageBytes {
  const header = decodeRpmsgHeader(bytes);
  const room = bytes.length - RPMSG_HEADER_SIZE;
  if (header.len > room) {
    throw new RpmsgError(RpmsgErrorCode.INCONSISTENT, `header len ${header.len} exceeds the ${room} payload bytes of the buffer`, { len: header.len, room });
  }
  if (exact && header.len !== room) {
    throw new RpmsgError(RpmsgErrorCode.OVERSIZED, `${room - header.len} bytes follow the ${header.len}-byte payload`, { len: header.len, room });
  }
  return { header, payload: bytes.subarray(RPMSG_HEADER_SIZE, RPMSG_HEADER_SIZE + header.len) };
}
