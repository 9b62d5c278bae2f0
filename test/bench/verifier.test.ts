/** The in-place receive rule: a message is accepted only when every byte is the sender's message with that sequence number. */
import { describe, expect, it } from 'vitest';
import { appBuffer, MessageVerifier, stamp } from '../../src/bench/shared.js';

function message(size: number, seq: number): Uint8Array {
  const a = appBuffer(size);
  stamp(a.u32, 0, size, seq);
  return a.u8;
}

describe('MessageVerifier', () => {
  it('accepts the sender message of the expected sequence number, in shared memory at an offset', () => {
    const v = new MessageVerifier(256);
    const sab = new Uint8Array(new SharedArrayBuffer(1024));
    for (const seq of [0, 1, 7, 0xffffffff]) {
      sab.set(message(256, seq), 512);
      expect(v.check(sab.subarray(512, 768), seq)).toBe(true);
    }
  });

  it('rejects a wrong sequence number, a wrong length and a change of any single byte', () => {
    const v = new MessageVerifier(64);
    const m = message(64, 5);
    expect(v.check(m, 4)).toBe(false);
    expect(v.check(m.subarray(0, 60), 5)).toBe(false);
    for (let i = 0; i < 64; i++) {
      const bad = m.slice();
      bad[i] ^= 1;
      expect(v.check(bad, 5), `byte ${i}`).toBe(false);
    }
    expect(v.check(m, 5)).toBe(true);
  });
});
