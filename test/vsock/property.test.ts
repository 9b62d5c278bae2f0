/**
 * Driver against device over the loopback transport, random programs of connect / write / end / destroy / pump on
 * several connections at once (fast-check). Oracles: every byte of a connection that was not destroyed arrives once
 * and in order (to the device's echo server and back), a destroyed one delivers a prefix; no side ever sees a credit
 * overflow or any other violation; no connection record is left behind.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VsockSocket } from '../../src/vsock/index.js';
import { makePair, pattern, run } from './helpers.js';

type Action = { kind: 'write'; conn: number; size: number } | { kind: 'end'; conn: number } | { kind: 'destroy'; conn: number } | { kind: 'pump'; rounds: number } | { kind: 'pause'; conn: number; on: boolean };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), conn: fc.nat(3), size: fc.integer({ min: 1, max: 20_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('end' as const), conn: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('destroy' as const), conn: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pump' as const), rounds: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), conn: fc.nat(3), on: fc.boolean() }) },
);

interface Conn {
  sock: VsockSocket;
  written: number;
  echoed: Buffer[];
  ended: boolean;
  destroyed: boolean;
  error: unknown;
}

describe('vsock driver vs device: random programs (fast-check)', () => {
  it('delivers every byte once and in order within the credit window, on split and packed rings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          packed: fc.boolean(),
          splitHeader: fc.boolean(),
          bufAlloc: fc.constantFrom(4096, 9000, 65536, 262144),
          txBufferSize: fc.constantFrom(512, 4096, 65536),
          actions: fc.array(action, { maxLength: 40 }),
        }),
        async ({ packed, splitHeader, bufAlloc, txBufferSize, actions }) => {
          const p = makePair({ packed, device: { bufAlloc }, driver: { bufAlloc, splitHeader, txBufferSize, txSlots: 8 } });
          const serverGot = new Map<number, Buffer[]>();
          const serverSockets = new Map<number, VsockSocket>();
          p.device
            .createServer((s) => {
              const got: Buffer[] = [];
              serverGot.set(s.remotePort, got);
              serverSockets.set(s.remotePort, s);
              s.on('error', () => {});
              s.on('data', (d: Buffer) => {
                got.push(d);
                s.write(d);
                if (s.readableLength > bufAlloc) throw new Error('receive buffer beyond buf_alloc');
              });
            })
            .listen(500);
          const conns: Conn[] = [];
          for (let i = 0; i < 4; i++) {
            const sock = p.driver.connect(500);
            const c: Conn = { sock, written: 0, echoed: [], ended: false, destroyed: false, error: undefined };
            sock.on('data', (d: Buffer) => c.echoed.push(d));
            sock.on('error', (e) => (c.error = e));
            conns.push(c);
          }
          for (const a of actions) {
            if (a.kind === 'pump') {
              for (let r = 0; r < a.rounds; r++) {
                p.lb.pump();
                await new Promise((res) => setImmediate(res));
              }
              continue;
            }
            const c = conns[a.conn]!;
            if (c.destroyed) continue;
            if (a.kind === 'write' && !c.ended) {
              c.sock.write(pattern(a.conn, c.written, a.size));
              c.written += a.size;
            } else if (a.kind === 'end') {
              c.ended = true;
              c.sock.end();
            } else if (a.kind === 'destroy') {
              c.destroyed = true;
              c.sock.destroy();
            } else if (a.kind === 'pause') {
              const s = serverSockets.get(c.sock.localPort);
              if (s) a.on ? s.pause() : s.resume();
            }
          }
          for (const s of serverSockets.values()) s.resume();
          for (const c of conns) if (!c.destroyed && !c.ended) c.sock.end();
          await run(p);
          for (const [i, c] of conns.entries()) {
            const got = Buffer.concat(serverGot.get(c.sock.localPort) ?? []);
            const echoed = Buffer.concat(c.echoed);
            const sent = pattern(i, 0, c.written);
            if (c.destroyed) {
              expect(sent.subarray(0, got.length).equals(got)).toBe(true);
              expect(got.subarray(0, echoed.length).equals(echoed)).toBe(true);
            } else {
              expect(c.error).toBeUndefined();
              expect(got.length).toBe(c.written);
              expect(got.equals(sent)).toBe(true);
              expect(echoed.equals(sent)).toBe(true);
            }
          }
          // a destroyed connection's RST can cross packets already on the way to it: those get an RST back (NO_SOCKET),
          // as in Linux; nothing else may ever be counted
          const anyDestroyed = conns.some((c) => c.destroyed);
          for (const d of [p.device.endpoint.stats.dropped, p.driver.endpoint.stats.dropped]) {
            const { VSOCK_ERR_NO_SOCKET: noSocket, ...rest } = d;
            expect(rest).toEqual({});
            if (!anyDestroyed) expect(noSocket).toBeUndefined();
          }
          expect(p.device.endpoint.connections).toBe(0);
          expect(p.driver.endpoint.connections).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  }, 300_000);
});
