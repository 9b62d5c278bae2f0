/**
 * virtio-console constants (VIRTIO 1.2 §5.3; checked against linux/virtio_console.h by test/console/conformance).
 *
 * Queue numbering (§5.3.2, Linux init_vqs): port 0 uses receiveq 0 and transmitq 1; with MULTIPORT the control
 * queues follow (2 = control receiveq, device -> driver; 3 = control transmitq, driver -> device), then port n >= 1
 * uses 2(n+1) and 2(n+1)+1. "receive" and "transmit" are named from the driver's side, as in the spec.
 *
 *   queue:  0      1      2       3       4      5      6      7     ...
 *           rx0    tx0    c_ivq   c_ovq   rx1    tx1    rx2    tx2   ...
 */

/** VIRTIO device id of a console (§5). */
export const VIRTIO_ID_CONSOLE = 3;

/** Device-specific feature bits (§5.3.3). */
export const ConsoleFeature = {
  /** cols and rows in config space are valid. */
  SIZE: 0,
  /** max_nr_ports is valid and the control queues exist. */
  MULTIPORT: 1,
  /** The driver may write a character to emerg_wr. */
  EMERG_WRITE: 2,
} as const;

/** Control events (§5.3.6.2, `struct virtio_console_control.event`). */
export const ControlEvent = {
  /** driver -> device: the driver is ready (value 1) or failed (0); id is BAD_ID. */
  DEVICE_READY: 0,
  /** device -> driver: a port was added (Linux calls it PORT_ADD; older texts DEVICE_ADD). */
  PORT_ADD: 1,
  /** device -> driver: a port was removed. */
  PORT_REMOVE: 2,
  /** driver -> device: the port was added (value 1) or could not be (0). */
  PORT_READY: 3,
  /** device -> driver: this port is a console (hvc). */
  CONSOLE_PORT: 4,
  /** device -> driver: console size changed; rows and cols follow the header. */
  RESIZE: 5,
  /** both ways: the sender opened (1) or closed (0) its end of the port. */
  PORT_OPEN: 6,
  /** device -> driver: the port's name follows the header (NUL-terminated). */
  PORT_NAME: 7,
} as const;
export type ControlEvent = (typeof ControlEvent)[keyof typeof ControlEvent];

export const CONTROL_EVENT_NAMES: readonly string[] = ['DEVICE_READY', 'PORT_ADD', 'PORT_REMOVE', 'PORT_READY', 'CONSOLE_PORT', 'RESIZE', 'PORT_OPEN', 'PORT_NAME'];

/** `id` of messages that concern no port (DEVICE_READY): VIRTIO_CONSOLE_BAD_ID = ~0u32. */
export const BAD_ID = 0xffff_ffff;

/** sizeof(struct virtio_console_control): id u32 @0, event u16 @4, value u16 @6. */
export const CONTROL_HEADER_SIZE = 8;
/** RESIZE payload after the header: 2 x u16 (see control.ts for the field order Linux reads). */
export const RESIZE_PAYLOAD_SIZE = 4;

/** struct virtio_console_config (packed, 12 bytes). */
export const ConfigOffset = {
  COLS: 0,
  ROWS: 2,
  MAX_NR_PORTS: 4,
  EMERG_WR: 8,
} as const;
export const CONFIG_SIZE = 12;

/** Control receiveq (device -> driver) and control transmitq (driver -> device) with MULTIPORT. */
export const CONTROL_RX_QUEUE = 2;
export const CONTROL_TX_QUEUE = 3;

/** The queue the driver receives port `port`'s data on (the device writes into it). */
export function receiveQueue(port: number): number {
  return port === 0 ? 0 : 2 * (port + 1);
}

/** The queue the driver transmits port `port`'s data on (the device reads from it). */
export function transmitQueue(port: number): number {
  return receiveQueue(port) + 1;
}

/** Number of queues: 2 without MULTIPORT, 2(max_nr_ports + 1) with it (§5.3.2). */
export function queueCount(maxNrPorts: number, multiport: boolean): number {
  return multiport ? 2 * (maxNrPorts + 1) : 2;
}

/** The port a data queue belongs to, or -1 for a control queue. */
export function portOfQueue(queue: number): number {
  if (queue === CONTROL_RX_QUEUE || queue === CONTROL_TX_QUEUE) return -1;
  return queue < 2 ? 0 : (queue >>> 1) - 1;
}

/** Largest max_nr_ports this implementation offers or accepts (queues are u16-indexed; Linux has no fixed limit). */
export const MAX_PORTS_LIMIT = 1024;
/** Longest port name we send or accept, in bytes without the NUL (a name travels in one control buffer). */
export const MAX_NAME_BYTES = 255;
