/** Our driver against our device over the loopback transport: named ports, console port, streams' conventions. */
import { describe, expect, it } from 'vitest';
import { ConsoleErrorCode, isConsoleError } from '../../src/console/index.js';
import { collect, drive, known, wire } from './helpers.js';

for (const packed of [false, true]) {
  describe(`driver and device (${packed ? 'packed' : 'split'})`, () => {
    it('ports are found by name after PORT_NAME; the console port without a name; unknown names are NO_SUCH_PORT', async () => {
      const { driver, t } = wire({ device: { ports: ['log', 'rpc'] }, packed });
      const seen: string[] = [];
      driver.on('port', (p: { name?: string; console: boolean }) => seen.push(p.console ? 'console' : p.name!));
      await drive(t, () => driver.knownPorts().length === 3);
      expect(seen.sort()).toEqual(['console', 'log', 'rpc']);
      expect(driver.port('rpc').id).toBe(2);
      expect(driver.port().id).toBe(0);
      let err: unknown;
      try {
        driver.port('nope');
      } catch (e) {
        err = e;
      }
      expect(isConsoleError(err, ConsoleErrorCode.NO_SUCH_PORT)).toBe(true);
    });

    it('bytes flow both ways on several ports at once', async () => {
      const { device, driver, t } = wire({ device: { ports: ['a', 'b'] }, packed });
      await drive(t, () => known(driver, 'b'));
      const pairs = ['a', 'b', undefined].map((n) => ({ dev: device.port(n), drv: driver.port(n) }));
      const sinks = pairs.map((p) => ({ dev: collect(p.dev), drv: collect(p.drv) }));
      pairs.forEach((p, i) => {
        p.drv.write(`to device ${i} `.repeat(500));
        p.dev.write(`to driver ${i} `.repeat(700));
      });
      await drive(t, () => sinks.every((s, i) => s.dev.bytes().length === `to device ${i} `.length * 500 && s.drv.bytes().length === `to driver ${i} `.length * 700));
      sinks.forEach((s, i) => {
        expect(s.dev.bytes().toString()).toBe(`to device ${i} `.repeat(500));
        expect(s.drv.bytes().toString()).toBe(`to driver ${i} `.repeat(700));
      });
    });

    it('backpressure: with the driver not reading, device writes return false; everything arrives once read', async () => {
      const { device, driver, t } = wire({ device: { ports: ['log'], highWaterMark: 1024 }, driver: { queueSize: 8, bufferSize: 256, highWaterMark: 1024 }, packed });
      await drive(t, () => known(driver, 'log'));
      const d = driver.port('log');
      const s = device.port('log');
      await drive(t, () => device.isOpen(1));
      const chunk = Buffer.alloc(512, 7);
      let writes = 0;
      while (s.write(chunk) && writes < 1000) {
        writes++;
        t.settle();
      }
      expect(writes).toBeLessThan(1000); // the driver's 8 buffers plus both high-water marks filled up
      const total = (writes + 1) * 512;
      const got = collect(d);
      await drive(t, () => got.bytes().length === total);
      expect(got.bytes().every((b) => b === 7)).toBe(true);
    });

    it("the host's end() is EOF on the driver's stream; the driver's end() is peer-close on the device's", async () => {
      const { device, driver, t } = wire({ device: { ports: ['log'] }, packed });
      await drive(t, () => known(driver, 'log'));
      const d = driver.port('log');
      const s = device.port('log');
      const dGot = collect(d);
      let peerClosed = false;
      s.on('peer-close', () => (peerClosed = true));
      s.end('bye');
      await drive(t, () => dGot.ended());
      expect(dGot.bytes().toString()).toBe('bye');
      d.end();
      await drive(t, () => peerClosed);
      expect(device.isOpen(1)).toBe(false);
    });

    it('hot-plug: addPort() after bring-up reaches the driver by name; removePort() ends its stream (after the data)', async () => {
      const { device, driver, t } = wire({ device: { ports: ['log'], maxPorts: 3 }, packed });
      await drive(t, () => known(driver, 'log'));
      const late = device.addPort('late');
      await drive(t, () => known(driver, 'late'));
      const d = driver.port('late');
      const got = collect(d);
      await drive(t, () => device.isOpen(2));
      late.write('last words');
      device.removePort('late');
      await drive(t, () => got.ended());
      expect(got.bytes().toString()).toBe('last words');
      expect(known(driver, 'late')).toBe(false);
      expect(() => device.addPort('no-room')).toThrow(/CONSOLE_ERR_BAD_ARGUMENT/);
      expect(device.stats.errors).toEqual({});
    });

    it('disarm() stops notifications for a port; arm() asks again and reports buffers already waiting', async () => {
      const { device, driver, t } = wire({ device: { ports: ['log'] }, packed });
      await drive(t, () => known(driver, 'log'));
      driver.openPort(1);
      await drive(t, () => device.isOpen(1));
      device.disarm(1);
      const k0 = t.stats.driverKicks;
      expect(driver.send(1, new Uint8Array(10))).toBe(10);
      expect(t.stats.driverKicks).toBe(k0); // the device asked not to be notified
      expect(device.arm(1)).toBe(false); // a buffer is waiting: poll instead of sleeping
      device.poll();
      expect(device.arm(1)).toBe(true);
      driver.send(1, new Uint8Array(10));
      expect(t.stats.driverKicks).toBe(k0 + 1);
    });

    it('emergency write: a character written to emerg_wr arrives on port 0', async () => {
      const { device, driver, t } = wire({ device: { ports: [] }, packed });
      const got = collect(device.port());
      driver.emergencyWrite(0x21);
      await drive(t, () => got.bytes().length === 1);
      expect(got.bytes().toString()).toBe('!');
    });

    it('RESIZE reaches the console port (MULTIPORT)', async () => {
      const { device, driver, t } = wire({ device: { size: { cols: 80, rows: 24 } }, packed });
      await drive(t, () => known(driver));
      const sizes: unknown[] = [];
      driver.port().on('resize', (z) => sizes.push(z));
      device.resize(132, 43);
      await drive(t, () => sizes.length === 1);
      expect(sizes).toEqual([{ cols: 132, rows: 43 }]);
      expect(driver.config).toMatchObject({ cols: 132, rows: 43 });
    });

    it('without MULTIPORT only port 0 exists and works both ways', async () => {
      const { device, driver, t } = wire({ device: { multiport: false }, packed });
      const d = driver.port();
      const dev = device.port();
      const a = collect(d);
      const b = collect(dev);
      d.write('up');
      dev.write('down');
      await drive(t, () => a.bytes().length === 4 && b.bytes().length === 2);
      expect([a.bytes().toString(), b.bytes().toString()]).toEqual(['down', 'up']);
      expect(t.memory.regions.length).toBe(1);
    });

    it("a reset ends the driver's streams (EOF) and closes the device's ports", async () => {
      const { device, driver, t } = wire({ device: { ports: ['log'] }, packed });
      await drive(t, () => known(driver, 'log'));
      const d = driver.port('log');
      const ended = collect(d);
      driver.reset();
      device.reset();
      await drive(t, () => ended.ended());
      expect(device.isOpen(1)).toBe(false);
      expect(device.stats.errors).toEqual({});
      expect(driver.stats.errors).toEqual({});
    });
  });
}
