/**
 * The wire format of the "tz-signer" service (little-endian), shared by examples/secure-signer.ts and
 * examples/nonsecure-client.ts.
 *
 *   request:   op u8 @0 | client u8 @1 | len u16 @2 | seq u32 @4 | data[len] @8
 *              SIGN:   data = message                 VERIFY: data = message ‖ signature (64 B)
 *              PUBKEY: no data                        RESUME: no data (seq ignored)
 *   response:  op u8 @0 | status u8 @1 | len u16 @2 | seq u32 @4 | data[len] @8
 *              SIGN: signature (64 B)   VERIFY: 1 byte, 1 = valid   PUBKEY: raw Ed25519 public key (32 B)
 *              RESUME: next u32 ‖ public key (32 B)
 *
 * Exactly-once stream (per client id): SIGN, VERIFY and PUBKEY requests are numbered 0, 1, 2, ... The service keeps
 * `next` (the first sequence number not yet delivered) per client in secure memory and delivers a request only when
 * seq == next (then next = seq + 1); seq < next is answered DUPLICATE without being delivered again, seq > next
 * OUT_OF_ORDER (data: next u32). RESUME is not numbered: it returns `next`, a cumulative acknowledgement of every
 * request below it, so a client that lost its state (the non-secure partition rebooted) resumes at `next` and no
 * request is delivered twice or skipped.
 */
export const SERVICE_NAME = 'tz-signer';
export const Op = { SIGN: 1, VERIFY: 2, PUBKEY: 3, RESUME: 4 } as const;
export const Status = { OK: 0, BAD_REQUEST: 1, DUPLICATE: 2, OUT_OF_ORDER: 3 } as const;
/** Clients with a stream table entry (client ids 0..MAX_CLIENTS-1). */
export const MAX_CLIENTS = 256;
export const HEADER = 8;
export const SIG_BYTES = 64;
export const PUBKEY_BYTES = 32;

export interface Frame {
  readonly op: number;
  /** Response: the status; request: the client id. */
  readonly status: number;
  readonly seq: number;
  readonly data: Uint8Array;
}

export function encode(op: number, status: number, seq: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + data.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, op);
  v.setUint8(1, status);
  v.setUint16(2, data.length, true);
  v.setUint32(4, seq >>> 0, true);
  out.set(data, HEADER);
  return out;
}

/** Decodes a frame; undefined when it is malformed (short, or len disagreeing with the size). */
export function decode(buf: Uint8Array): Frame | undefined {
  if (buf.length < HEADER) return undefined;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = v.getUint16(2, true);
  if (HEADER + len !== buf.length) return undefined;
  return { op: v.getUint8(0), status: v.getUint8(1), seq: v.getUint32(4, true), data: buf.slice(HEADER) };
}

/** Deterministic message bytes for request `seq` (so any corruption is detectable). */
export function messageFor(seq: number, len: number): Uint8Array {
  const m = new Uint8Array(len);
  let x = (seq * 2654435761) >>> 0;
  for (let i = 0; i < len; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    m[i] = x & 0xff;
  }
  return m;
}
