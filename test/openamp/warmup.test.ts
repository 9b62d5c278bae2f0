import { describe, expect, it } from 'vitest';
import { warmUpRpmsg, MAX_WARMUP_MESSAGES } from '../../src/openamp/warmup.js';
import { echoHandler, flushEchoes, newEchoState } from '../../src/openamp/echo-handler.js';
import { OpenAmpError, OpenAmpErrorCode } from '../../src/openamp/errors.js';
import type { Endpoint, RpmsgMessage } from '../../src/rpmsg/index.js';

describe('JIT warm-up', () => {
  it('echoes exactly the messages asked for over its private pair (mixed sizes, windows of 64)', () => {
    expect(warmUpRpmsg(1000)).toBe(1000);
    expect(warmUpRpmsg(1)).toBe(1);
    expect(warmUpRpmsg(0)).toBe(0);
  });

  it('rejects a count that is not an integer 0..max with a typed error', () => {
    for (const bad of [-1, 1.5, Number.NaN, MAX_WARMUP_MESSAGES + 1]) {
      let err: unknown;
      try {
        warmUpRpmsg(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OpenAmpError);
      expect((err as OpenAmpError).code).toBe(OpenAmpErrorCode.BAD_ARGUMENT);
    }
  });
});

describe('echo handler', () => {
  /** An endpoint stand-in whose TX has `free` buffers. */
  function fakeEndpoint(free: number): { ep: Endpoint; sent: { dst: number; data: number[] }[]; setFree: (n: number) => void } {
    const sent: { dst: number; data: number[] }[] = [];
    const ep = {
      destroyed: false,
      trySendTo(dst: number, data: Uint8Array): boolean {
        if (free <= 0) return false;
        free--;
        sent.push({ dst, data: [...data] });
        return true;
      },
    } as unknown as Endpoint;
    return { ep, sent, setFree: (n) => (free = n) };
  }
  const msg = (src: number, bytes: number[]): RpmsgMessage => ({ src, dst: 0x400, data: Uint8Array.from(bytes) }) as unknown as RpmsgMessage;

  it('echoes to the sender, queues copies in order when TX is full, and flushes them before newer echoes', () => {
    const st = newEchoState();
    const { ep, sent, setFree } = fakeEndpoint(1);
    const h = echoHandler(st);
    const reused = Uint8Array.from([1, 2, 3]);
    h(msg(7, [9]), ep);
    h({ src: 7, dst: 0x400, data: reused } as unknown as RpmsgMessage, ep);
    reused.fill(0); // the received buffer goes back to the host: the queued echo must be a copy
    h(msg(8, [4]), ep);
    expect(sent).toEqual([{ dst: 7, data: [9] }]);
    expect(st.backlog.length).toBe(2);
    setFree(1);
    expect(flushEchoes(st, ep)).toBe(1);
    setFree(5);
    expect(flushEchoes(st, ep)).toBe(0);
    expect(sent).toEqual([
      { dst: 7, data: [9] },
      { dst: 7, data: [1, 2, 3] },
      { dst: 8, data: [4] },
    ]);
    expect(st.echoed).toBe(3);
  });

  it('the shutdown word 0xEF56A55A (little-endian) ends the service and is not echoed', () => {
    const st = newEchoState();
    const { ep, sent } = fakeEndpoint(4);
    echoHandler(st)(msg(7, [0x5a, 0xa5, 0x56, 0xef]), ep);
    expect(st.shutdown).toBe(true);
    expect(sent).toEqual([]);
    echoHandler(st)(msg(7, [0x5a, 0xa5, 0x56]), ep); // 3 bytes: an ordinary message
    expect(sent.length).toBe(1);
  });
});
