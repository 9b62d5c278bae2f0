/**
 * A hostile driver against the device (the secure side): every rule broken ends in a typed error counted by code,
 * the offending buffer returned or the queue stopped with DEVICE_NEEDS_RESET, never a crash and never a write outside
 * the buffers the driver made device-writable.
 */
import { describe, expect, it } from 'vitest';
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { BAD_ID, ConsoleDevice, ConsoleErrorCode as C, ControlEvent as E, isConsoleError, type ConsoleError } from '../../src/console/index.js';
import { VirtioErrorCode, isVirtioError } from '../../src/virtio/index.js';
import { RawDriver } from './raw-driver.js';

function setup() {
  const errors: ConsoleError[] = [];
  const device = new ConsoleDevice({ ports: ['log'], maxPorts: 3, onError: (e) => errors.push(e) });
  const raw = new RawDriver(16, 256);
  const t = new LoopbackTransport(raw, device);
  raw.post(2, 8);
  raw.control({ id: BAD_ID, event: E.DEVICE_READY, value: 1 });
  t.settle();
  raw.controlIn();
  raw.used(3);
  return { device, raw, t, errors };
}

function openPort(s: ReturnType<typeof setup>, id: number) {
  s.raw.control({ id, event: E.PORT_READY, value: 1 });
  s.raw.control({ id, event: E.PORT_OPEN, value: 1 });
  s.t.settle();
  s.raw.controlIn();
}

describe('hostile driver: control messages', () => {
  it('events a driver never sends, and unknown events, are BAD_EVENT; the buffer still comes back', () => {
    const s = setup();
    for (const event of [E.PORT_ADD, E.PORT_REMOVE, E.CONSOLE_PORT, E.RESIZE, E.PORT_NAME, 8, 0xffff]) s.raw.control({ id: 0, event, value: 1 });
    s.t.settle();
    expect(s.device.stats.errors[C.BAD_EVENT]).toBe(7);
    expect(s.raw.used(3).length).toBe(7);
    expect(s.raw.controlIn()).toEqual([]); // nothing answered
  });

  it('PORT_READY / PORT_OPEN for ports never added is UNKNOWN_PORT; a value other than 0/1 is BAD_VALUE', () => {
    const s = setup();
    s.raw.control({ id: 2, event: E.PORT_READY, value: 1 }); // within max_nr_ports, not declared
    s.raw.control({ id: 99, event: E.PORT_READY, value: 1 });
    s.raw.control({ id: BAD_ID, event: E.PORT_OPEN, value: 1 });
    s.raw.control({ id: 1, event: E.PORT_OPEN, value: 2 });
    s.t.settle();
    expect(s.device.stats.errors).toEqual({ [C.UNKNOWN_PORT]: 3, [C.BAD_VALUE]: 1 });
    expect(s.errors.every((e) => isConsoleError(e))).toBe(true);
  });

  it('a control message shorter than 8 bytes is TRUNCATED; PORT_OPEN before PORT_READY is PORT_CLOSED', () => {
    const s = setup();
    s.raw.send(3, new Uint8Array([1, 0, 0, 0, 6, 0]));
    s.raw.control({ id: 1, event: E.PORT_OPEN, value: 1 });
    s.t.settle();
    expect(s.device.stats.errors).toEqual({ [C.TRUNCATED]: 1, [C.PORT_CLOSED]: 1 });
  });

  it('DEVICE_READY 0 / PORT_READY 0 are the driver failing: PEER_FAILED, and the port stays closed', () => {
    const s = setup();
    s.raw.control({ id: BAD_ID, event: E.DEVICE_READY, value: 0 });
    s.raw.control({ id: 1, event: E.PORT_READY, value: 0 });
    s.t.settle();
    expect(s.device.stats.errors[C.PEER_FAILED]).toBe(2);
    expect(s.device.isOpen(1)).toBe(false);
  });

  it('a control receive buffer too small is returned unused and the message waits for the next one', () => {
    const device = new ConsoleDevice({ ports: ['log'] });
    const raw = new RawDriver(16, 256);
    const t = new LoopbackTransport(raw, device);
    raw.post(2, 1, 4); // 4 bytes: no room for a message
    raw.control({ id: BAD_ID, event: E.DEVICE_READY, value: 1 });
    t.settle();
    expect(raw.used(2).map((u) => u.len)).toEqual([0]);
    expect(device.stats.errors[C.BUFFER_TOO_SMALL]).toBe(1);
    raw.post(2, 2);
    t.settle();
    expect(raw.controlIn().map((m) => [m.id, m.event])).toEqual([
      [0, E.PORT_ADD],
      [1, E.PORT_ADD],
    ]);
  });

  it('endless DEVICE_READY without control buffers cannot grow the device queue: CONTROL_OVERFLOW', () => {
    const s = setup();
    for (let i = 0; i < 40; i++) {
      s.raw.control({ id: BAD_ID, event: E.DEVICE_READY, value: 1 });
      s.t.settle();
      s.raw.used(3);
    }
    expect(s.device.stats.errors[C.CONTROL_OVERFLOW]).toBeGreaterThan(0);
  });
});

describe('hostile driver: data', () => {
  it('data for a port that is not open is dropped and counted (PORT_CLOSED); for an undeclared port UNKNOWN_PORT', () => {
    const s = setup();
    s.raw.send(5, new Uint8Array(10)); // port 1, not ready
    s.raw.send(7, new Uint8Array(3)); // port 2, not declared
    s.t.settle();
    expect(s.device.stats.errors).toEqual({ [C.PORT_CLOSED]: 1, [C.UNKNOWN_PORT]: 1 });
    expect(s.device.stats.droppedBytes).toBe(13);
    expect(s.raw.used(5).length + s.raw.used(7).length).toBe(2);
  });

  it('a transmit buffer with no readable segment and a receive buffer with a readable one are BAD_BUFFER', () => {
    const s = setup();
    openPort(s, 1);
    s.raw.post(5, 1, 16); // writable buffer on port 1's transmitq
    s.t.settle();
    const addr = s.raw.send(4, new Uint8Array(16)); // readable buffer on port 1's receiveq
    expect(s.device.send(1, new Uint8Array(4))).toBe(0);
    expect(s.device.stats.errors[C.BAD_BUFFER]).toBe(2);
    expect(s.raw.a.memory.bytes(addr, 16).every((b) => b === 0)).toBe(true); // not written
  });

  it('a descriptor longer than the memory stops the queue: QUEUE_BROKEN and DEVICE_NEEDS_RESET, nothing written', () => {
    const s = setup();
    openPort(s, 1);
    s.raw.send(5, new Uint8Array(8));
    const desc = s.raw.descTable(5);
    const vqHead = 0; // the first buffer posted on the queue
    s.raw.a.memory.write32(desc + 16 * vqHead + 8, 0x7fff_ffff);
    let thrown: unknown;
    try {
      s.t.settle();
    } catch (e) {
      thrown = e;
    }
    expect(isVirtioError(thrown, VirtioErrorCode.DEVICE_NEEDS_RESET)).toBe(true); // the loopback's way of saying so
    expect(s.device.stats.errors[C.QUEUE_BROKEN]).toBe(1);
    expect(s.device.lastError?.details['virtio']).toBe(VirtioErrorCode.BUFFER_OUT_OF_RANGE);
    // the device stays usable after reset
    s.device.reset();
    expect(s.device.isOpen(1)).toBe(false);
  });

  it('config space: read-only fields and out-of-range writes are counted and ignored, out-of-range reads throw typed', () => {
    const s = setup();
    s.device.writeConfig(0, new Uint8Array([1, 2]));
    s.device.writeConfig(10, new Uint8Array(4));
    s.device.writeConfig(-1, new Uint8Array(1));
    expect(s.device.stats.errors).toEqual({ [C.CONFIG_READ_ONLY]: 1, [C.CONFIG_OUT_OF_RANGE]: 2 });
    expect(() => s.device.readConfig(8, new Uint8Array(8))).toThrow(/CONSOLE_ERR_CONFIG_OUT_OF_RANGE/);
    const cfg = new Uint8Array(2);
    s.device.readConfig(0, cfg);
    expect([...cfg]).toEqual([0, 0]);
  });
});
