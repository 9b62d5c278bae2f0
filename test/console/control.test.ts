/** Byte vectors for every control message and the config space; decoder rules; queue numbering (§5.3.2). */
import { describe, expect, it } from 'vitest';
import {
  BAD_ID,
  ConsoleErrorCode,
  ControlEvent,
  decodeConfig,
  decodeControl,
  encodeConfig,
  encodeControl,
  encodeControlBytes,
  isConsoleError,
  portOfQueue,
  queueCount,
  receiveQueue,
  transmitQueue,
  type ControlMessage,
} from '../../src/console/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

// id (le32) | event (le16) | value (le16) [| payload]
const VECTORS: [string, ControlMessage, string][] = [
  ['DEVICE_READY', { id: BAD_ID, event: ControlEvent.DEVICE_READY, value: 1 }, 'ffffffff 0000 0100'],
  ['DEVICE_READY failed', { id: BAD_ID, event: ControlEvent.DEVICE_READY, value: 0 }, 'ffffffff 0000 0000'],
  ['PORT_ADD', { id: 2, event: ControlEvent.PORT_ADD, value: 1 }, '02000000 0100 0100'],
  ['PORT_REMOVE', { id: 0x10, event: ControlEvent.PORT_REMOVE, value: 1 }, '10000000 0200 0100'],
  ['PORT_READY', { id: 1, event: ControlEvent.PORT_READY, value: 1 }, '01000000 0300 0100'],
  ['CONSOLE_PORT', { id: 0, event: ControlEvent.CONSOLE_PORT, value: 1 }, '00000000 0400 0100'],
  ['RESIZE (rows first, as Linux reads it)', { id: 0, event: ControlEvent.RESIZE, value: 0, size: { cols: 132, rows: 43 } }, '00000000 0500 0000 2b00 8400'],
  ['PORT_OPEN', { id: 0x01020304, event: ControlEvent.PORT_OPEN, value: 1 }, '04030201 0600 0100'],
  ['PORT_OPEN close', { id: 3, event: ControlEvent.PORT_OPEN, value: 0 }, '03000000 0600 0000'],
  ['PORT_NAME', { id: 1, event: ControlEvent.PORT_NAME, value: 1, name: 'log' }, '01000000 0700 0100 6c6f6700'],
  ['PORT_NAME utf-8', { id: 5, event: ControlEvent.PORT_NAME, value: 1, name: 'é' }, '05000000 0700 0100 c3a900'],
];

describe('control message byte vectors', () => {
  for (const [name, msg, wire] of VECTORS) {
    it(`${name} encodes and decodes`, () => {
      expect(hex(encodeControlBytes(msg))).toBe(hex(bytes(wire)));
      expect(decodeControl(bytes(wire))).toEqual(msg);
    });
  }

  it('encodes at an offset and refuses a destination too small', () => {
    const dst = new Uint8Array(12).fill(0xee);
    expect(encodeControl({ id: 1, event: ControlEvent.PORT_READY, value: 1 }, dst, 2)).toBe(8);
    expect(hex(dst)).toBe('eeee' + '010000000300' + '0100' + 'eeee');
    const e = (() => {
      try {
        encodeControl({ id: 1, event: ControlEvent.PORT_NAME, value: 1, name: 'abcdef' }, new Uint8Array(10));
      } catch (x) {
        return x;
      }
    })();
    expect(isConsoleError(e, ConsoleErrorCode.TRUNCATED)).toBe(true);
  });

  it('refuses values that are not u16/u32', () => {
    expect(() => encodeControlBytes({ id: -1, event: 0, value: 0 })).toThrow(/BAD_ARGUMENT/);
    expect(() => encodeControlBytes({ id: 0, event: 0x1_0000, value: 0 })).toThrow(/BAD_ARGUMENT/);
    expect(() => encodeControlBytes({ id: 0, event: 0, value: 1.5 })).toThrow(/BAD_ARGUMENT/);
  });
});

describe('control message decoder rules', () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return isConsoleError(e) ? e.code : `untyped ${String(e)}`;
    }
    return 'no error';
  };

  it('a message shorter than the 8-byte header is TRUNCATED', () => {
    for (let n = 0; n < 8; n++) expect(code(() => decodeControl(new Uint8Array(n)))).toBe(ConsoleErrorCode.TRUNCATED);
    expect(code(() => decodeControl(new Uint8Array(8), 9))).toBe(ConsoleErrorCode.TRUNCATED);
  });

  it('RESIZE without its 4-byte payload is TRUNCATED', () => {
    expect(code(() => decodeControl(bytes('00000000 0500 0000 2b00')))).toBe(ConsoleErrorCode.TRUNCATED);
  });

  it('PORT_NAME: empty, not UTF-8, or too long is BAD_NAME; the name ends at the first NUL or the message end', () => {
    expect(code(() => decodeControl(bytes('01000000 0700 0100')))).toBe(ConsoleErrorCode.BAD_NAME);
    expect(code(() => decodeControl(bytes('01000000 0700 0100 00')))).toBe(ConsoleErrorCode.BAD_NAME);
    expect(code(() => decodeControl(bytes('01000000 0700 0100 ff fe 00')))).toBe(ConsoleErrorCode.BAD_NAME);
    const long = new Uint8Array(8 + 300).fill(0x41);
    long.set(bytes('01000000 0700 0100'));
    expect(code(() => decodeControl(long))).toBe(ConsoleErrorCode.BAD_NAME);
    expect(decodeControl(bytes('01000000 0700 0100 6c6f67')).name).toBe('log');
    expect(decodeControl(bytes('01000000 0700 0100 6c6f6700 7878')).name).toBe('log');
    expect(code(() => encodeControlBytes({ id: 1, event: ControlEvent.PORT_NAME, value: 1, name: 'a\0b' }))).toBe(ConsoleErrorCode.BAD_NAME);
  });

  it('decodes only the first len bytes', () => {
    expect(decodeControl(bytes('01000000 0700 0100 6c6f6767'), 11).name).toBe('log');
  });
});

describe('config space', () => {
  it('cols u16 @0, rows u16 @2, max_nr_ports u32 @4, emerg_wr u32 @8 (reads 0)', () => {
    const b = encodeConfig({ cols: 80, rows: 25, maxNrPorts: 0x01020304 });
    expect(hex(b)).toBe('5000' + '1900' + '04030201' + '00000000');
    expect(decodeConfig(b)).toEqual({ cols: 80, rows: 25, maxNrPorts: 0x01020304 });
    expect(() => decodeConfig(b.subarray(0, 11))).toThrow(/TRUNCATED/);
  });
});

describe('queue numbering (§5.3.2)', () => {
  it('port 0 = 0/1, control = 2/3, port n >= 1 = 2(n+1)/2(n+1)+1', () => {
    expect([receiveQueue(0), transmitQueue(0)]).toEqual([0, 1]);
    expect([receiveQueue(1), transmitQueue(1)]).toEqual([4, 5]);
    expect([receiveQueue(7), transmitQueue(7)]).toEqual([16, 17]);
    expect([queueCount(1, false), queueCount(1, true), queueCount(4, true)]).toEqual([2, 4, 10]);
    expect([0, 1, 2, 3, 4, 5, 16, 17].map(portOfQueue)).toEqual([0, 0, -1, -1, 1, 1, 7, 7]);
  });
});
