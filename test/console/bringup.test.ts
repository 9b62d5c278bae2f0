/**
 * The device answers a driver that behaves as Linux's virtio_console.c does, message by message: DEVICE_READY ->
 * PORT_ADD per port; PORT_READY -> CONSOLE_PORT (console), PORT_NAME (named), PORT_OPEN 1; data only once the guest
 * opened the port. The driver is a hand-driven one (RawDriver), so every byte the device sent is checked.
 */
import { describe, expect, it } from 'vitest';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { BAD_ID, ConsoleDevice, ConsoleFeature, ControlEvent as E } from '../../src/console/index.js';
import { RawDriver } from './raw-driver.js';

function setup(ports: string[] = ['log', 'rpc'], accept = ~(1n << 34n), maxQueues = 16) {
  const device = new ConsoleDevice({ ports, size: { cols: 80, rows: 24 } });
  const raw = new RawDriver(16, 512, maxQueues, accept);
  const t = new LoopbackTransport(raw, device);
  return { device, raw, t };
}

describe('bring-up as Linux drives it', () => {
  it('offers SIZE, MULTIPORT, EMERG_WRITE and 2(max_nr_ports+1) queues; config holds cols, rows, max_nr_ports', () => {
    const { device } = setup();
    for (const f of [ConsoleFeature.SIZE, ConsoleFeature.MULTIPORT, ConsoleFeature.EMERG_WRITE]) expect((device.deviceFeatures >> BigInt(f)) & 1n).toBe(1n);
    expect(device.queueMaxSizes.length).toBe(8);
    const cfg = new Uint8Array(12);
    device.readConfig(0, cfg);
    expect(Buffer.from(cfg).toString('hex')).toBe('5000' + '1800' + '03000000' + '00000000');
  });

  it('DEVICE_READY -> PORT_ADD for every port, PORT_READY -> CONSOLE_PORT / PORT_NAME / PORT_OPEN in that order', () => {
    const { raw, t } = setup();
    raw.post(2, 8);
    raw.control({ id: BAD_ID, event: E.DEVICE_READY, value: 1 });
    t.settle();
    expect(raw.used(3).map((u) => u.len)).toEqual([0]); // the control buffer came back (Linux spins for it)
    expect(raw.controlIn()).toEqual([
      { id: 0, event: E.PORT_ADD, value: 1 },
      { id: 1, event: E.PORT_ADD, value: 1 },
      { id: 2, event: E.PORT_ADD, value: 1 },
    ]);
    for (const id of [0, 1, 2]) raw.control({ id, event: E.PORT_READY, value: 1 });
    t.settle();
    expect(raw.controlIn()).toEqual([
      { id: 0, event: E.CONSOLE_PORT, value: 1 },
      { id: 0, event: E.PORT_OPEN, value: 1 },
      { id: 1, event: E.PORT_NAME, value: 1, name: 'log' },
      { id: 1, event: E.PORT_OPEN, value: 1 },
      { id: 2, event: E.PORT_NAME, value: 1, name: 'rpc' },
      { id: 2, event: E.PORT_OPEN, value: 1 },
    ]);
  });

  it('holds data until the guest opens the port, then fills its receive buffers', () => {
    const { device, raw, t } = setup();
    raw.post(2, 8);
    raw.control({ id: BAD_ID, event: E.DEVICE_READY, value: 1 });
    t.settle();
    raw.controlIn();
    raw.post(4, 2, 8); // port 1's receiveq: two 8-byte buffers
    raw.control({ id: 1, event: E.PORT_READY, value: 1 });
    t.settle();
    raw.controlIn();
    expect(device.send(1, new TextEncoder().encode('hello world'))).toBe(0); // not open by the guest yet
    raw.control({ id: 1, event: E.PORT_OPEN, value: 1 });
    t.settle();
    expect(device.isOpen(1)).toBe(true);
    expect(device.send(1, new TextEncoder().encode('hello world!!'))).toBe(13);
    const got = raw.used(4);
    expect(got.map((u) => Buffer.from(u.bytes).toString())).toEqual(['hello wo', 'rld!!']);
  });

  it('driver data on transmitq reaches the device port; the buffer returns used with length 0', async () => {
    const { device, raw, t } = setup();
    const chunks: string[] = [];
    device.port('rpc').on('data', (b: Buffer) => chunks.push(b.toString()));
    raw.post(2, 8);
    raw.control({ id: BAD_ID, event: E.DEVICE_READY, value: 1 });
    t.settle();
    raw.control({ id: 2, event: E.PORT_READY, value: 1 });
    raw.control({ id: 2, event: E.PORT_OPEN, value: 1 });
    t.settle();
    raw.send(7, new TextEncoder().encode('ping'));
    t.settle();
    await new Promise((r) => setImmediate(r));
    expect(chunks).toEqual(['ping']);
    expect(raw.used(7).map((u) => u.len)).toEqual([0]);
  });

  it('without MULTIPORT: two queues, port 0 open at once, no control queue', () => {
    const { device, raw, t } = setup([], ~(1n << BigInt(ConsoleFeature.MULTIPORT)) & ~(1n << 34n), 2);
    expect(raw.a.queues.length).toBe(2);
    raw.post(0, 1, 64);
    t.settle();
    expect(device.isOpen(0)).toBe(true);
    expect(device.send(0, new Uint8Array([1, 2, 3]))).toBe(3);
    expect(raw.used(0)[0]!.len).toBe(3);
  });
});
