/** Soak frames: CRC-32 against the standard check value, and the receiver's lost/duplicated/corrupted accounting. */
import { describe, expect, it } from 'vitest';
import { crc32, decodeFrame, encodeFrame, fillBody, FRAME_HEADER, KIND_ACK, KIND_DATA, StreamChecker } from '../../src/soak/frame.js';

function frame(seq: number, bodyLen: number, kind = KIND_DATA): Uint8Array {
  const b = new Uint8Array(FRAME_HEADER + bodyLen);
  encodeFrame(b, seq, kind, bodyLen, (x) => fillBody(x, 7, seq));
  return b;
}

describe('soak frames', () => {
  it('CRC-32 is the IEEE/zlib one (check value of "123456789")', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('round-trips, and any flipped bit, wrong length or other kind is refused', () => {
    const f = frame(41, 100);
    expect(decodeFrame(f)).toMatchObject({ seq: 41, kind: KIND_DATA });
    for (const at of [0, 4, 6, 9, 12, 111]) {
      const g = f.slice();
      g[at]! ^= 0x10;
      expect(decodeFrame(g), `byte ${at}`).toBeUndefined();
    }
    expect(decodeFrame(f.subarray(0, 50))).toBeUndefined();
    expect(decodeFrame(new Uint8Array(5))).toBeUndefined();
    const c = new StreamChecker();
    expect(c.accept(frame(0, 4, KIND_ACK), KIND_DATA)).toBeUndefined();
    expect(c.corrupted).toBe(1);
  });

  it('counts gaps as lost, repeats as duplicated', () => {
    const c = new StreamChecker();
    for (const seq of [0, 1, 2, 5, 5, 3, 6]) c.accept(frame(seq, seq), KIND_DATA);
    expect({ delivered: c.delivered, lost: c.lost, duplicated: c.duplicated, expected: c.expected }).toEqual({ delivered: 5, lost: 2, duplicated: 2, expected: 7 });
  });
});
