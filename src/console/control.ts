/**
 * Codec of the control messages (§5.3.6.2): `struct virtio_console_control`, little-endian, 8 bytes, optionally
 * followed by an event-specific payload.
 *
 *   0        4        6        8
 *   +--------+--------+--------+------------------------------+
 *   | id u32 |event16 |value16 | PORT_NAME: name bytes, NUL    |
 *   +--------+--------+--------+ RESIZE:    rows u16, cols u16 |
 *                               +------------------------------+
 *
 * RESIZE: the spec's struct virtio_console_resize lists cols before rows, but Linux (drivers/char/virtio_console.c,
 * handle_control_message, 6.1) reads rows first; the driver we must satisfy is Linux, so rows go first here.
 *
 * decodeControl() checks only the format (lengths, the name's encoding); which events a role accepts is the role's
 * business (device.ts, driver.ts).
 */
import { CONTROL_HEADER_SIZE, ControlEvent, MAX_NAME_BYTES, RESIZE_PAYLOAD_SIZE } from './constants.js';
import { ConsoleError, ConsoleErrorCode } from './errors.js';

export interface ControlMessage {
  readonly id: number;
  readonly event: number;
  readonly value: number;
  /** PORT_NAME only: the port's name (UTF-8 on the wire, NUL-terminated). */
  readonly name?: string;
  /** RESIZE only. */
  readonly size?: { readonly cols: number; readonly rows: number };
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Checks a port name and returns its UTF-8 bytes (without the NUL). */
export function nameBytes(name: string): Uint8Array {
  const b = utf8.encode(name);
  if (b.length === 0 || b.length > MAX_NAME_BYTES || b.includes(0)) {
    throw new ConsoleError(ConsoleErrorCode.BAD_NAME, `port name must be 1..${MAX_NAME_BYTES} UTF-8 bytes without NUL (got ${b.length} bytes)`, { name });
  }
  return b;
}

/** Bytes the message takes on the wire. */
export function controlSize(m: ControlMessage): number {
  if (m.event === ControlEvent.PORT_NAME && m.name !== undefined) return CONTROL_HEADER_SIZE + nameBytes(m.name).length + 1;
  if (m.event === ControlEvent.RESIZE && m.size !== undefined) return CONTROL_HEADER_SIZE + RESIZE_PAYLOAD_SIZE;
  return CONTROL_HEADER_SIZE;
}

function checkU(v: number, bits: 16 | 32, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > (bits === 16 ? 0xffff : 0xffff_ffff)) {
    throw new ConsoleError(ConsoleErrorCode.BAD_ARGUMENT, `${what} ${v} is not a u${bits}`, { [what]: v });
  }
}

/** Writes `m` at `dst[off..]`; returns the bytes written. Throws TRUNCATED when it does not fit. */
export function encodeControl(m: ControlMessage, dst: Uint8Array, off = 0): number {
  checkU(m.id, 32, 'id');
  checkU(m.event, 16, 'event');
  checkU(m.value, 16, 'value');
  const name = m.event === ControlEvent.PORT_NAME && m.name !== undefined ? nameBytes(m.name) : undefined;
  const resize = m.event === ControlEvent.RESIZE && m.size !== undefined ? m.size : undefined;
  if (resize) {
    checkU(resize.cols, 16, 'cols');
    checkU(resize.rows, 16, 'rows');
  }
  const n = CONTROL_HEADER_SIZE + (name ? name.length + 1 : resize ? RESIZE_PAYLOAD_SIZE : 0);
  if (off < 0 || off + n > dst.length) throw new ConsoleError(ConsoleErrorCode.TRUNCATED, `control message of ${n} bytes does not fit in ${dst.length - off} bytes`);
  const v = new DataView(dst.buffer, dst.byteOffset + off, n);
  v.setUint32(0, m.id, true);
  v.setUint16(4, m.event, true);
  v.setUint16(6, m.value, true);
  if (name) {
    dst.set(name, off + CONTROL_HEADER_SIZE);
    dst[off + n - 1] = 0;
  } else if (resize) {
    v.setUint16(8, resize.rows, true);
    v.setUint16(10, resize.cols, true);
  }
  return n;
}

/** The message as a fresh byte array. */
export function encodeControlBytes(m: ControlMessage): Uint8Array {
  const out = new Uint8Array(controlSize(m));
  encodeControl(m, out);
  return out;
}

/**
 * Decodes the `len` first bytes of `src` (default: all). TRUNCATED when shorter than the header or than the
 * event's payload; BAD_NAME for a PORT_NAME whose name is empty, too long or not UTF-8. A name ends at its first NUL
 * or at the end of the message (Linux terminates it at the buffer's end either way).
 */
export function decodeControl(src: Uint8Array, len = src.length): ControlMessage {
  if (len < CONTROL_HEADER_SIZE || len > src.length) {
    throw new ConsoleError(ConsoleErrorCode.TRUNCATED, `control message of ${len} bytes is shorter than its ${CONTROL_HEADER_SIZE}-byte header`, { len });
  }
  const v = new DataView(src.buffer, src.byteOffset, len);
  const id = v.getUint32(0, true);
  const event = v.getUint16(4, true);
  const value = v.getUint16(6, true);
  if (event === ControlEvent.PORT_NAME) {
    const body = src.subarray(CONTROL_HEADER_SIZE, len);
    const nul = body.indexOf(0);
    const raw = nul < 0 ? body : body.subarray(0, nul);
    if (raw.length === 0 || raw.length > MAX_NAME_BYTES) {
      throw new ConsoleError(ConsoleErrorCode.BAD_NAME, `PORT_NAME for port ${id}: name of ${raw.length} bytes (1..${MAX_NAME_BYTES})`, { id, bytes: raw.length });
    }
    let name: string;
    try {
      name = utf8Strict.decode(raw);
    } catch {
      throw new ConsoleError(ConsoleErrorCode.BAD_NAME, `PORT_NAME for port ${id}: name is not UTF-8`, { id });
    }
    return { id, event, value, name };
  }
  if (event === ControlEvent.RESIZE) {
    if (len < CONTROL_HEADER_SIZE + RESIZE_PAYLOAD_SIZE) {
      throw new ConsoleError(ConsoleErrorCode.TRUNCATED, `RESIZE for port ${id}: ${len} bytes, ${CONTROL_HEADER_SIZE + RESIZE_PAYLOAD_SIZE} needed`, { id, len });
    }
    return { id, event, value, size: { rows: v.getUint16(8, true), cols: v.getUint16(10, true) } };
  }
  return { id, event, value };
}
