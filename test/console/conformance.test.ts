/**
 * Conformance against the Linux uapi header <linux/virtio_console.h>, compiled with the machine's C compiler:
 * structure sizes and offsets, constants, and bytes of structures filled in C compared with our codecs. Skipped,
 * with the reason, when no C compiler or no header is present.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BAD_ID, CONFIG_SIZE, CONTROL_HEADER_SIZE, ConfigOffset, ConsoleFeature, ControlEvent, VIRTIO_ID_CONSOLE, encodeConfig, encodeControlBytes } from '../../src/console/index.js';

const SOURCE = fileURLToPath(new URL('./fixtures/console_ref.c', import.meta.url));
const CC = process.env['CC'] ?? '/usr/bin/gcc';
const HEADER = '/usr/include/linux/virtio_console.h';

const why = !existsSync(CC) ? `no C compiler at ${CC}` : !existsSync(HEADER) ? `no ${HEADER}` : undefined;

interface RefJson {
  sizeof: Record<string, number>;
  offsetof: Record<string, number>;
  features: Record<string, number>;
  events: Record<string, number>;
  badId: number;
  deviceId: number;
  bytes: Record<string, string>;
}

function buildAndRun(): RefJson {
  const dir = mkdtempSync(join(tmpdir(), 'tz-virtio-console-ref-'));
  dirs.push(dir);
  const bin = join(dir, 'console_ref');
  execFileSync(CC, ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', bin, SOURCE], { stdio: 'pipe' });
  return JSON.parse(execFileSync(bin, { encoding: 'utf8' })) as RefJson;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe.skipIf(why !== undefined)(`console structures match <linux/virtio_console.h>${why ? ` (skipped: ${why})` : ''}`, () => {
  const ref = why === undefined ? buildAndRun() : undefined!;

  it('sizes and field offsets', () => {
    expect(ref.sizeof).toEqual({ config: CONFIG_SIZE, control: CONTROL_HEADER_SIZE });
    expect(ref.offsetof).toEqual({ cols: ConfigOffset.COLS, rows: ConfigOffset.ROWS, max_nr_ports: ConfigOffset.MAX_NR_PORTS, emerg_wr: ConfigOffset.EMERG_WR, id: 0, event: 4, value: 6 });
  });

  it('feature bits, control events, BAD_ID and the device id', () => {
    expect(ref.features).toEqual({ ...ConsoleFeature });
    expect(ref.events).toEqual({ ...ControlEvent });
    expect(ref.badId).toBe(BAD_ID);
    expect(ref.deviceId).toBe(VIRTIO_ID_CONSOLE);
  });

  it('bytes filled in C equal our encoders', () => {
    expect(hex(encodeConfig({ cols: 80, rows: 25, maxNrPorts: 4 }))).toBe(ref.bytes['config']);
    expect(hex(encodeControlBytes({ id: BAD_ID, event: ControlEvent.DEVICE_READY, value: 1 }))).toBe(ref.bytes['deviceReady']);
    expect(hex(encodeControlBytes({ id: 3, event: ControlEvent.PORT_ADD, value: 1 }))).toBe(ref.bytes['portAdd']);
    expect(hex(encodeControlBytes({ id: 0x01020304, event: ControlEvent.PORT_OPEN, value: 0 }))).toBe(ref.bytes['portOpen0']);
    expect(hex(encodeControlBytes({ id: 1, event: ControlEvent.PORT_NAME, value: 1, name: 'log' }))).toBe(ref.bytes['portName']);
  });
});
