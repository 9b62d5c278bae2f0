import { describe, expect, it } from 'vitest';
import { VsockErrorCode, type VsockSocket } from '../../src/vsock/index.js';
import { makePair, pattern, run } from './helpers.js';

for (const packed of [false, true]) {
  describe(`vsock streams over the loopback transport (${packed ? 'packed' : 'split'} rings)`, () => {
    it('connects a driver client to a device server and echoes bytes both ways', async () => {
      const p = makePair({ packed });
      const accepted: VsockSocket[] = [];
      p.device.createServer((s) => {
        accepted.push(s);
        s.on('data', (d: Buffer) => s.write(d));
      }).listen(1234);
      const c = p.driver.connect(1234);
      let connected = false;
      c.on('connect', () => (connected = true));
      const got: Buffer[] = [];
      c.on('data', (d: Buffer) => got.push(d));
      c.write('hello vsock');
      await run(p, () => Buffer.concat(got).toString() === 'hello vsock');
      expect(connected).toBe(true);
      expect(accepted).toHaveLength(1);
      expect(accepted[0]!.remoteCid).toBe(3);
      expect(accepted[0]!.remotePort).toBe(c.localPort);
      expect(c.remoteCid).toBe(2);
      expect(c.localPort).toBeGreaterThanOrEqual(1024);
    });

    it('delivers a large transfer once and in order, in both directions, then closes both ends', async () => {
      const p = makePair({ packed });
      const N = 1_000_000;
      const fromHost: Buffer[] = [];
      let serverClosed = false;
      p.device.createServer((s) => {
        const got: Buffer[] = [];
        s.on('data', (d: Buffer) => got.push(d));
        s.on('end', () => {
          fromHost.push(Buffer.concat(got));
        });
        s.on('close', () => (serverClosed = true));
        s.end(pattern(2, 0, N));
      }).listen(7);
      const c = p.driver.connect(7);
      const got: Buffer[] = [];
      let clientClosed = false;
      c.on('data', (d: Buffer) => got.push(d));
      c.on('close', () => (clientClosed = true));
      c.end(pattern(1, 0, N));
      await run(p, () => serverClosed && clientClosed);
      expect(Buffer.concat(got).equals(pattern(2, 0, N))).toBe(true);
      expect(fromHost[0]!.equals(pattern(1, 0, N))).toBe(true);
      expect(p.device.endpoint.connections).toBe(0);
      expect(p.driver.endpoint.connections).toBe(0);
      expect(p.device.endpoint.stats.dropped).toEqual({});
      expect(p.driver.endpoint.stats.dropped).toEqual({});
    });

    it('write() returns false when the peer window is exhausted and drain follows when the reader consumes', async () => {
      const p = makePair({ packed, device: { bufAlloc: 16 * 1024 } });
      let server: VsockSocket | undefined;
      p.device.createServer((s) => {
        server = s;
        s.pause();
      }).listen(9);
      const c = p.driver.connect(9);
      await run(p, () => c.connected);
      let writes = 0;
      while (c.write(Buffer.alloc(4096, 1))) writes++;
      await run(p);
      // the device advertised 16 KiB: no more than that is in flight, the rest waits in the writer
      expect(c.credit.peerCredit()).toBe(0);
      expect(server!.readableLength).toBe(16 * 1024);
      expect(c.writableLength).toBeGreaterThan(0);
      let drained = false;
      c.on('drain', () => (drained = true));
      let read = 0;
      server!.on('data', (d: Buffer) => (read += d.length));
      server!.resume();
      await run(p, () => drained);
      expect(drained).toBe(true);
      await run(p);
      expect(read).toBe((writes + 1) * 4096);
    });

    it('refuses a connection to a port where nothing listens (RST → CONNECTION_REFUSED)', async () => {
      const p = makePair({ packed });
      const c = p.driver.connect(4444);
      let err: unknown;
      c.on('error', (e) => (err = e));
      await run(p, () => err !== undefined);
      expect((err as { code: string }).code).toBe(VsockErrorCode.CONNECTION_REFUSED);
      expect(p.device.endpoint.stats.dropped[VsockErrorCode.NO_SOCKET]).toBe(1);
      expect(p.driver.endpoint.connections).toBe(0);
    });

    it('destroy() resets the connection: the peer sees CONNECTION_RESET', async () => {
      const p = makePair({ packed });
      let server: VsockSocket | undefined;
      p.device.createServer((s) => (server = s)).listen(5);
      const c = p.driver.connect(5);
      await run(p, () => c.connected && server !== undefined);
      let err: unknown;
      server!.on('error', (e) => (err = e));
      c.destroy();
      await run(p, () => err !== undefined);
      expect((err as { code: string }).code).toBe(VsockErrorCode.CONNECTION_RESET);
      await run(p);
      expect(p.device.endpoint.connections).toBe(0);
      expect(p.driver.endpoint.connections).toBe(0);
    });

    it('half-close: end() on one side ends the other side’s readable while it can still write (allowHalfOpen)', async () => {
      const p = makePair({ packed, device: { allowHalfOpen: true }, driver: { allowHalfOpen: true } });
      let server: VsockSocket | undefined;
      let serverEnded = false;
      p.device.createServer((s) => {
        server = s;
        s.on('end', () => (serverEnded = true));
        s.resume();
      }).listen(6);
      const c = p.driver.connect(6);
      const got: Buffer[] = [];
      c.on('data', (d: Buffer) => got.push(d));
      c.end('bye');
      await run(p, () => serverEnded);
      server!.write('still talking');
      let clientEnded = false;
      c.on('end', () => (clientEnded = true));
      server!.end();
      await run(p, () => clientEnded);
      expect(Buffer.concat(got).toString()).toBe('still talking');
      await run(p);
      expect(p.device.endpoint.connections).toBe(0);
      expect(p.driver.endpoint.connections).toBe(0);
    });

    it('the device connects to a server in the guest', async () => {
      const p = makePair({ packed });
      const got: Buffer[] = [];
      p.driver.createServer((s) => s.on('data', (d: Buffer) => got.push(d))).listen(80);
      const c = p.device.connect(80, 3);
      c.end('from the secure side');
      await run(p, () => Buffer.concat(got).toString() === 'from the secure side');
      expect(() => p.device.connect(80, 4)).toThrow(expect.objectContaining({ code: VsockErrorCode.NO_ROUTE }));
    });

    it('a transport reset reaches the driver as TRANSPORT_RESET: its sockets error, the new guest CID is read, new connections work', async () => {
      const p = makePair({ packed });
      const serverErrors: string[] = [];
      p.device.createServer((s) => s.on('error', (e: Error & { code?: string }) => serverErrors.push(e.code ?? ''))).listen(11);
      const c = p.driver.connect(11);
      let err: unknown;
      c.on('error', (e) => (err = e));
      await run(p, () => c.connected);
      p.device.transportReset(7);
      await run(p, () => err !== undefined);
      expect((err as { code: string }).code).toBe(VsockErrorCode.TRANSPORT_RESET);
      expect(serverErrors).toEqual([VsockErrorCode.TRANSPORT_RESET]);
      expect(p.driver.stats.transportResets).toBe(1);
      expect(p.driver.guestCid).toBe(7);
      const got: Buffer[] = [];
      p.device.createServer((s) => s.on('data', (d: Buffer) => got.push(d))).listen(12);
      const c2 = p.driver.connect(12);
      c2.end('after the reset');
      await run(p, () => Buffer.concat(got).toString() === 'after the reset');
      expect(c2.localCid).toBe(7);
    });

    it('a device reset (status 0) errors every socket on the device with TRANSPORT_RESET and keeps listeners', async () => {
      const p = makePair({ packed });
      let server: VsockSocket | undefined;
      const srv = p.device.createServer((s) => (server = s)).listen(13);
      const c = p.driver.connect(13);
      await run(p, () => c.connected && server !== undefined);
      let err: unknown;
      server!.on('error', (e) => (err = e));
      p.device.reset();
      await new Promise((r) => setImmediate(r));
      expect((err as { code: string }).code).toBe(VsockErrorCode.TRANSPORT_RESET);
      expect(p.device.endpoint.connections).toBe(0);
      expect(p.device.active).toBe(false);
      expect(srv.listening).toBe(true);
    });

    it('the connection limit and a bad port are typed errors at connect()', () => {
      const p = makePair({ packed, driver: { maxConnections: 1 } });
      p.driver.connect(1).on('error', () => {});
      expect(() => p.driver.connect(2)).toThrow(expect.objectContaining({ code: VsockErrorCode.TOO_MANY_CONNECTIONS }));
      expect(() => p.driver.connect(-1)).toThrow(expect.objectContaining({ code: VsockErrorCode.BAD_ARGUMENT }));
      expect(() => p.device.createServer().listen(5).listen(5)).toThrow(expect.objectContaining({ code: VsockErrorCode.ADDR_IN_USE }));
    });

    it('zero-copy receive hands payload views to the handler, returns the credit at once, and survives a throwing handler', async () => {
      const p = makePair({ packed, device: { bufAlloc: 8192 } });
      const seen: Buffer[] = [];
      let views = 0;
      let bad: VsockSocket | undefined;
      p.device
        .createServer((s) => {
          if (s.remotePort === 1024) {
            s.setZeroCopyReceive((v) => {
              views++;
              seen.push(Buffer.from(v)); // copy what we keep
            });
          } else {
            bad = s;
            s.on('error', () => {});
            s.setZeroCopyReceive(() => {
              throw new Error('handler failed');
            });
          }
        })
        .listen(14);
      const c = p.driver.connect(14);
      const N = 100_000; // far beyond the 8 KiB window: only flows if the credit comes back
      c.end(pattern(3, 0, N));
      await run(p, () => seen.reduce((n, b) => n + b.length, 0) === N);
      expect(Buffer.concat(seen).equals(pattern(3, 0, N))).toBe(true);
      expect(views).toBeGreaterThan(1);
      const c2 = p.driver.connect(14);
      let err: unknown;
      c2.on('error', (e) => (err = e));
      c2.write('boom');
      await run(p, () => err !== undefined);
      expect((err as { code: string }).code).toBe(VsockErrorCode.CONNECTION_RESET);
      expect(bad!.destroyed).toBe(true);
      expect(p.device.active).toBe(true);
    });

    it('handlers that call poll()/interrupt() re-entrantly do not disturb the rings: every byte arrives in order', async () => {
      const p = makePair({ packed });
      const got: Buffer[] = [];
      let reentered = 0;
      p.device
        .createServer((s) => {
          s.on('data', (d: Buffer) => {
            got.push(d);
            reentered += p.device.poll() === 0 ? 1 : 0; // inside the device's own poll: asks for another round
            p.driver.interrupt();
          });
        })
        .listen(15);
      const c = p.driver.connect(15);
      c.on('data', () => p.driver.interrupt());
      const N = 300_000;
      c.end(pattern(4, 0, N));
      await run(p, () => got.reduce((n, b) => n + b.length, 0) === N);
      expect(Buffer.concat(got).equals(pattern(4, 0, N))).toBe(true);
      expect(reentered).toBeGreaterThan(0);
      expect(p.device.endpoint.stats.dropped).toEqual({});
    });
  });
}
