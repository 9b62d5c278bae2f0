/**
 * SEQPACKET driver against device over the loopback transport, random message programs (fast-check). The model is
 * the list of messages each side wrote; the oracle: the other side reads exactly that list (every message whole, once,
 * in order), through windows small enough that messages wait for credit and span packets, rx buffers and updates; no
 * side ever sees a credit overflow or any other violation; the bytes a receiver holds never exceed its buf_alloc.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VsockSocket } from '../../src/vsock/index.js';
import { makePair, pattern, run } from './helpers.js';

type Step = { kind: 'send'; toDevice: boolean; size: number } | { kind: 'read'; device: boolean; max: number } | { kind: 'pump' };

describe('vsock SEQPACKET: random message programs (fast-check)', () => {
  it('every message arrives whole, once and in order, credit counted in bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          packed: fc.boolean(),
          splitHeader: fc.boolean(),
          bufAlloc: fc.constantFrom(4096, 9000, 32768),
          txBufferSize: fc.constantFrom(512, 4096, 65536),
          rxBufferSize: fc.constantFrom(1024, 4096),
          steps: fc.array(
            fc.oneof(
              { weight: 5, arbitrary: fc.record({ kind: fc.constant('send' as const), toDevice: fc.boolean(), size: fc.integer({ min: 0, max: 40_000 }) }) },
              { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), device: fc.boolean(), max: fc.integer({ min: 1, max: 4 }) }) },
              { weight: 2, arbitrary: fc.record({ kind: fc.constant('pump' as const) }) },
            ),
            { maxLength: 40 },
          ),
        }),
        async ({ packed, splitHeader, bufAlloc, txBufferSize, rxBufferSize, steps }) => {
          const p = makePair({ packed, device: { bufAlloc }, driver: { bufAlloc, splitHeader, txBufferSize, rxBufferSize, txSlots: 4 } });
          let server: VsockSocket | undefined;
          p.device.createServer((s) => (server = s), { seqpacket: true }).listen(9);
          const client = p.driver.connect(9, undefined, { seqpacket: true });
          await run(p, () => server !== undefined && client.connected);
          const srv = server!;
          // the model: what each side wrote (message sizes fit the receiver's window, as a sender must keep them)
          const sentToDevice: Buffer[] = [];
          const sentToDriver: Buffer[] = [];
          const gotByDevice: Buffer[] = [];
          const gotByDriver: Buffer[] = [];
          const readSome = (s: VsockSocket, into: Buffer[], max: number): void => {
            for (let i = 0; i < max; i++) {
              const m = s.read() as Buffer | null;
              if (m === null) return;
              into.push(m);
            }
          };
          for (const st of steps) {
            if (st.kind === 'send') {
              const size = Math.min(st.size, bufAlloc);
              if (size === 0) continue;
              const list = st.toDevice ? sentToDevice : sentToDriver;
              const m = pattern(list.length + (st.toDevice ? 0 : 1000), 0, size);
              list.push(m);
              (st.toDevice ? client : srv).write(m);
            } else if (st.kind === 'read') {
              readSome(st.device ? srv : client, st.device ? gotByDevice : gotByDriver, st.max);
            } else p.lb.pump();
            await new Promise<void>((r) => setImmediate(r));
            for (const [s, ep] of [
              [srv, p.device.endpoint],
              [client, p.driver.endpoint],
            ] as const) {
              // what a receiver holds (assembled, pushed and unread) stays within the window it advertised
              expect(s.bufferedBytes()).toBeLessThanOrEqual(bufAlloc);
              expect(ep.stats.dropped).toEqual({});
            }
          }
          // drain: read everything, both ways
          await run(p, () => {
            readSome(srv, gotByDevice, 1000);
            readSome(client, gotByDriver, 1000);
            return gotByDevice.length === sentToDevice.length && gotByDriver.length === sentToDriver.length;
          });
          expect(gotByDevice.map((m) => m.length)).toEqual(sentToDevice.map((m) => m.length));
          expect(gotByDriver.map((m) => m.length)).toEqual(sentToDriver.map((m) => m.length));
          gotByDevice.forEach((m, i) => expect(m.equals(sentToDevice[i]!)).toBe(true));
          gotByDriver.forEach((m, i) => expect(m.equals(sentToDriver[i]!)).toBe(true));
          expect(p.device.endpoint.stats.dropped).toEqual({});
          expect(p.driver.endpoint.stats.dropped).toEqual({});
          expect(p.device.endpoint.stats.messagesIn).toBe(sentToDevice.length);
          expect(p.driver.endpoint.stats.messagesIn).toBe(sentToDriver.length);
        },
      ),
      { numRuns: 60, seed: 0x5e9 },
    );
  }, 120_000);
});
