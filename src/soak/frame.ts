/**
 * Soak message frames: every message carries a sequence number and a CRC-32 of everything after the CRC field, so
 * the receiver can tell a lost, duplicated or corrupted message apart.
 *
 *   0 seq u32 | 4 kind u8 | 5 reserved u8 | 6 bodyLen u16 | 8 crc32 u32 (of bytes 0..7 and the body) | 12 body
 *
 * Bodies are pseudo-random bytes derived from (seed, seq), so a body that arrives intact but belongs to another
 * message is caught too (its CRC covers the seq).
 */
export const FRAME_HEADER = 12;
export const KIND_DATA = 1;
/** Receiver -> sender: body = u32 count of messages delivered in order so far (a cumulative acknowledgement). */
export const KIND_ACK = 2;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib) of bytes[from, to), continuing from `crc` (start with 0). */
export function crc32(bytes: Uint8Array, from = 0, to = bytes.length, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function frameCrc(f: Uint8Array, bodyLen: number): number {
  return crc32(f, FRAME_HEADER, FRAME_HEADER + bodyLen, crc32(f, 0, 8));
}

/** Writes a frame into `out` (at least FRAME_HEADER + bodyLen bytes); returns its length. */
export function encodeFrame(out: Uint8Array, seq: number, kind: number, bodyLen: number, fill: (body: Uint8Array) => void): number {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint32(0, seq >>> 0, true);
  out[4] = kind;
  out[5] = 0;
  v.setUint16(6, bodyLen, true);
  fill(out.subarray(FRAME_HEADER, FRAME_HEADER + bodyLen));
  v.setUint32(8, frameCrc(out, bodyLen), true);
  return FRAME_HEADER + bodyLen;
}

/** Fills a data body deterministically from (seed, seq). */
export function fillBody(body: Uint8Array, seed: number, seq: number): void {
  let x = (seed ^ Math.imul(seq, 0x9e3779b1)) >>> 0 || 1;
  for (let i = 0; i < body.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    body[i] = x & 0xff;
  }
}

export interface DecodedFrame {
  readonly seq: number;
  readonly kind: number;
  readonly body: Uint8Array;
}

/** Decodes and checks a frame; undefined when it is truncated, its length is inconsistent or its CRC is wrong. */
export function decodeFrame(f: Uint8Array): DecodedFrame | undefined {
  if (f.length < FRAME_HEADER) return undefined;
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const bodyLen = v.getUint16(6, true);
  if (FRAME_HEADER + bodyLen !== f.length) return undefined;
  if (v.getUint32(8, true) !== frameCrc(f, bodyLen)) return undefined;
  return { seq: v.getUint32(0, true), kind: f[4]!, body: f.subarray(FRAME_HEADER) };
}

/**
 * The receiver's bookkeeping for one in-order stream: `expected` is the next sequence number; an earlier one is a
 * duplicate, a later one means the ones in between were lost.
 */
export class StreamChecker {
  expected = 0;
  delivered = 0;
  lost = 0;
  duplicated = 0;
  corrupted = 0;
  bytes = 0;

  /** Checks one received frame (already known to be of this stream's kind when decoded). */
  accept(raw: Uint8Array, kind: number): DecodedFrame | undefined {
    const f = decodeFrame(raw);
    if (f === undefined || f.kind !== kind) {
      this.corrupted++;
      return undefined;
    }
    if (f.seq < this.expected) {
      this.duplicated++;
      return undefined;
    }
    if (f.seq > this.expected) this.lost += f.seq - this.expected;
    this.expected = f.seq + 1;
    this.delivered++;
    this.bytes += raw.length;
    return f;
  }
}
