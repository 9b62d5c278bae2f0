/** The bounded line splitter that both the console and the vsock signer use on bytes from the non-secure side. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/hypervisor/linux/line-splitter.js';

const collect = (sp: LineSplitter, chunks: Uint8Array[]): string[] => {
  const out: string[] = [];
  for (const c of chunks) sp.push(c, (l) => out.push(l));
  return out;
};
const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

describe('LineSplitter', () => {
  it('splits on LF, drops one CR before it, and keeps a partial line for the next chunk', () => {
    expect(collect(new LineSplitter(64), [bytes('P\nS 1 ab'), bytes('cd\r\n\nx')])).toEqual(['P', 'S 1 abcd', '']);
  });

  it('drops a line longer than its bound whole, counts it, and goes on with the next line', () => {
    const sp = new LineSplitter(4);
    expect(collect(sp, [bytes('abcd\nabcde'), bytes('fgh\nok\n')])).toEqual(['abcd', 'ok']);
    expect(sp.overlong).toBe(1);
  });

  it('reset() forgets a partial line', () => {
    const sp = new LineSplitter(16);
    collect(sp, [bytes('half')]);
    sp.reset();
    expect(collect(sp, [bytes('new\n')])).toEqual(['new']);
  });

  it('matches a model for any bytes cut into any chunks', () => {
    const max = 8;
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...'ab\r\n'.split('')), { maxLength: 120 }), fc.array(fc.nat(20), { maxLength: 10 }), (chars, cuts) => {
        const text = chars.join('');
        // model: every complete line; a line (after CR removal) whose raw bytes exceed `max` is dropped
        const parts = text.split('\n');
        const partial = parts.pop()!;
        const want = parts.filter((l) => l.length <= max).map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
        const data = bytes(text);
        const chunks: Uint8Array[] = [];
        let at = 0;
        for (const c of cuts) {
          chunks.push(data.subarray(at, Math.min(data.length, at + c)));
          at = Math.min(data.length, at + c);
        }
        chunks.push(data.subarray(at));
        const sp = new LineSplitter(max);
        expect(collect(sp, chunks)).toEqual(want);
        // an overlong line is counted as soon as it passes the bound, complete or not
        expect(sp.overlong).toBe(parts.length - want.length + (partial.length > max ? 1 : 0));
      }),
      { numRuns: 300 },
    );
  });

  it('flush delivers a last line without its newline, but never an overlong one', () => {
    const got: string[] = [];
    const sp = new LineSplitter(8);
    sp.push(new TextEncoder().encode('one\r\ntwo'), (l) => got.push(l));
    sp.flush((l) => got.push(l));
    expect(got).toEqual(['one', 'two']);
    sp.push(new TextEncoder().encode('far-too-long-a-line'), (l) => got.push(l));
    sp.flush((l) => got.push(l));
    expect(got).toEqual(['one', 'two']);
    expect(sp.overlong).toBe(1);
  });
});
