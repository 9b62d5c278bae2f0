/**
 * The secure signer's AF_VSOCK service (what Linux's client reaches at CID 2, port 1234), driven here by our own vsock
 * driver over the loopback transport, split and packed; the same service answers Linux in nonsecure-linux.test.ts.
 */
import { verify, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LinuxMonitor } from '../../src/hypervisor/linux/one-core-monitor.js';
import { SecureSliceDevice } from '../../src/hypervisor/linux/secure-slice-device.js';
import { Signer } from '../../src/hypervisor/linux/signer.js';
import { MAX_REQUEST_LINE, VsockLineService } from '../../src/hypervisor/linux/vsock-line-service.js';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { VsockDevice, VsockDriver, type VsockSocket } from '../../src/vsock/index.js';
import { makePair, run } from '../vsock/helpers.js';

const publicKey = (hex: string) =>
  createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });

function client(c: VsockSocket): { lines: string[]; ended: () => boolean } {
  const lines: string[] = [];
  let buf = '';
  let ended = false;
  c.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  c.on('end', () => (ended = true));
  return { lines, ended: () => ended };
}

for (const packed of [false, true]) {
  describe(`the signer on a vsock port (${packed ? 'packed' : 'split'} rings)`, () => {
    it('answers P and S lines sent in arbitrary pieces; every signature verifies with the published key', async () => {
      const p = makePair({ packed });
      const signer = new Signer();
      const svc = new VsockLineService(p.device, 1234, (l) => signer.handle(l)).listen();
      const c = p.driver.connect(1234);
      const got = client(c);
      const msgs = [Buffer.from('hello'), Buffer.alloc(4096, 0xab), Buffer.from([0])];
      const text = `P\n${msgs.map((m, i) => `S ${i} ${m.toString('hex')}`).join('\n')}\n`;
      // cut the request stream at odd places: lines span packets
      for (let at = 0; at < text.length; at += 777) c.write(text.slice(at, at + 777));
      await run(p, () => got.lines.length === 4);
      expect(got.lines[0]).toBe(`K ${signer.publicKeyHex}`);
      const key = publicKey(signer.publicKeyHex);
      msgs.forEach((m, i) => {
        const [tag, seq, sig] = got.lines[i + 1]!.split(' ');
        expect([tag, seq]).toEqual(['G', String(i)]);
        expect(verify(null, m, key, Buffer.from(sig!, 'hex'))).toBe(true);
      });
      expect(svc.stats).toMatchObject({ connections: 1, open: 1, linesIn: 4, linesOut: 4, overlong: 0 });
      expect(signer.signed).toBe(3);
    });

    it("closes its side when the client shuts down its sending side (the guest's SHUT_WR), and counts the connection closed", async () => {
      const p = makePair({ packed });
      const svc = new VsockLineService(p.device, 1234, (l) => `echo ${l}`).listen();
      const c = p.driver.connect(1234);
      const got = client(c);
      let closed = false;
      c.on('close', () => (closed = true));
      c.end('one\n');
      await run(p, () => closed);
      expect(got.lines).toEqual(['echo one']);
      expect(got.ended()).toBe(true);
      await run(p, () => svc.stats.open === 0);
      expect(svc.stats).toMatchObject({ connections: 1, open: 0, socketErrors: 0 });
    });

    it('drops an overlong line, answers E for garbage, and serves several connections independently', async () => {
      const p = makePair({ packed });
      const signer = new Signer();
      const svc = new VsockLineService(p.device, 1234, (l) => signer.handle(l)).listen();
      const a = p.driver.connect(1234);
      const b = p.driver.connect(1234);
      const ga = client(a);
      const gb = client(b);
      a.write(Buffer.concat([Buffer.alloc(MAX_REQUEST_LINE + 10, 0x41), Buffer.from('\nP\n')]));
      b.write('S x 00\nS 1 0g\nhello\n');
      await run(p, () => ga.lines.length === 1 && gb.lines.length === 3);
      expect(ga.lines).toEqual([`K ${signer.publicKeyHex}`]);
      expect(gb.lines.every((l) => l.startsWith('E '))).toBe(true);
      expect(svc.stats.overlong).toBe(1);
      expect(signer.refused).toBe(3);
    });

    it('resets a connection whose client sends requests but never reads the answers', async () => {
      const p = makePair({ packed, driver: { bufAlloc: 4096 } });
      const svc = new VsockLineService(p.device, 1234, () => 'x'.repeat(60_000)).listen();
      const c = p.driver.connect(1234);
      c.pause(); // never reads: its window closes, the answers pile up on the secure side
      let err: Error | undefined;
      let closed = false;
      c.on('error', (e) => (err = e));
      c.on('close', () => (closed = true));
      await run(p, () => c.connected);
      for (let i = 0; i < 40; i++) c.write('P\n');
      await run(p, () => closed);
      expect(svc.stats.resetUnread).toBe(1);
      expect(err).toBeDefined();
    });
  });
}

describe('SecureSliceDevice', () => {
  it('runs every kick, activation and reset of the device as one secure slice of the monitor', async () => {
    const monitor = new LinuxMonitor(2, () => undefined);
    const device = new VsockDevice();
    const wrapped = new SecureSliceDevice(device, monitor);
    expect([wrapped.deviceType, wrapped.deviceFeatures, wrapped.configSize]).toEqual([device.deviceType, device.deviceFeatures, device.configSize]);
    const driver = new VsockDriver();
    const lb = new LoopbackTransport(driver, wrapped);
    new VsockLineService(device, 5, (l) => l.toUpperCase()).listen();
    const c = driver.connect(5);
    const got = client(c);
    c.write('abc\n');
    for (let i = 0; i < 1000 && got.lines.length === 0; i++) {
      lb.pump();
      await new Promise((r) => setImmediate(r));
    }
    expect(got.lines).toEqual(['ABC']);
    expect(monitor.counters.byCause['activate']).toBe(1);
    expect(monitor.counters.byCause['kick']).toBeGreaterThan(0);
    expect(monitor.counters.worldSwitches).toBe(0); // two cores: no switch
  });
});
