/** Counters of a console role (device or driver). `errors` counts recorded errors by code. */
export interface ConsoleStats {
  /** Data bytes and buffers this side put into the peer's direction. */
  bytesSent: number;
  buffersSent: number;
  /** Data bytes and buffers this side consumed from the peer. */
  bytesReceived: number;
  buffersReceived: number;
  controlSent: number;
  controlReceived: number;
  /** Data bytes thrown away (for a closed or unknown port). */
  droppedBytes: number;
  /** Notifications sent to the peer (used-buffer for the device, available-buffer kicks for the driver). */
  notifications: number;
  errors: Record<string, number>;
}

export function emptyStats(): ConsoleStats {
  return { bytesSent: 0, buffersSent: 0, bytesReceived: 0, buffersReceived: 0, controlSent: 0, controlReceived: 0, droppedBytes: 0, notifications: 0, errors: {} };
}

export function countError(s: ConsoleStats, code: string): void {
  s.errors[code] = (s.errors[code] ?? 0) + 1;
}
