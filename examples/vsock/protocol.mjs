// The signer's wire format over a vsock stream (a byte stream, so every frame carries its length):
//   request   len u32 | op u8 | seq u32 | data[len - 5]          op: 1 = SIGN, 3 = PUBKEY
//   response  len u32 | status u8 | seq u32 | data[len - 5]      status 0 = OK, 1 = BAD_REQUEST
// all little-endian. `frames(onFrame)` returns a chunk handler that cuts a stream into frames.
export const PORT = 5000;
export const Op = { SIGN: 1, PUBKEY: 3 };
export const MAX_FRAME = 64 * 1024;

export function frame(kind, seq, data) {
  const b = Buffer.alloc(9 + data.length);
  b.writeUInt32LE(5 + data.length, 0);
  b.writeUInt8(kind, 4);
  b.writeUInt32LE(seq >>> 0, 5);
  b.set(data, 9);
  return b;
}

export function frames(onFrame) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 4) {
      const len = buf.readUInt32LE(0);
      if (len < 5 || len > MAX_FRAME) throw new Error(`bad frame length ${len}`);
      if (buf.length < 4 + len) break;
      onFrame(buf.readUInt8(4), buf.readUInt32LE(5), buf.subarray(9, 4 + len));
      buf = buf.subarray(4 + len);
    }
  };
}

/** The message the client asks to have signed as request `seq` (deterministic, so both sides can check it). */
export function messageFor(seq) {
  const b = Buffer.alloc(32 + (seq % 97));
  for (let i = 0; i < b.length; i++) b[i] = (seq * 31 + i * 7) & 0xff;
  return b;
}
