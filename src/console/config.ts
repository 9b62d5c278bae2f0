/**
 * The device configuration space (§5.3.4), `struct virtio_console_config`, packed, little-endian:
 *
 *   0          2          4                  8                  12
 *   | cols u16 | rows u16 | max_nr_ports u32 | emerg_wr u32     |
 *
 * cols/rows are valid with SIZE, max_nr_ports with MULTIPORT; emerg_wr is write-only (reads as 0) with EMERG_WRITE.
 */
import { CONFIG_SIZE, ConfigOffset } from './constants.js';
import { ConsoleError, ConsoleErrorCode } from './errors.js';

export interface ConsoleConfig {
  readonly cols: number;
  readonly rows: number;
  readonly maxNrPorts: number;
}

/** The config space image (emerg_wr reads as 0). */
export function encodeConfig(c: ConsoleConfig): Uint8Array {
  const out = new Uint8Array(CONFIG_SIZE);
  const v = new DataView(out.buffer);
  v.setUint16(ConfigOffset.COLS, c.cols, true);
  v.setUint16(ConfigOffset.ROWS, c.rows, true);
  v.setUint32(ConfigOffset.MAX_NR_PORTS, c.maxNrPorts, true);
  return out;
}

export function decodeConfig(b: Uint8Array): ConsoleConfig {
  if (b.length < CONFIG_SIZE) throw new ConsoleError(ConsoleErrorCode.TRUNCATED, `console config of ${b.length} bytes, ${CONFIG_SIZE} needed`);
  const v = new DataView(b.buffer, b.byteOffset, CONFIG_SIZE);
  return { cols: v.getUint16(ConfigOffset.COLS, true), rows: v.getUint16(ConfigOffset.ROWS, true), maxNrPorts: v.getUint32(ConfigOffset.MAX_NR_PORTS, true) };
}

/** Throws CONFIG_OUT_OF_RANGE unless [offset, offset + len) lies inside the config space. */
export function checkConfigRange(offset: number, len: number): void {
  if (!Number.isInteger(offset) || offset < 0 || len < 0 || offset + len > CONFIG_SIZE) {
    throw new ConsoleError(ConsoleErrorCode.CONFIG_OUT_OF_RANGE, `config access of ${len} bytes at ${offset} outside the ${CONFIG_SIZE}-byte console config`, { offset, len });
  }
}
