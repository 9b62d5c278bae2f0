/**
 * A line service of the secure world on an AF_VSOCK port of the vsock device (src/vsock): every connection's bytes
 * are split into lines, each line goes to the handler, and its answer goes back on the same connection. The Linux
 * client reaches it as (CID 2, port), the host's well-known CID.
 *
 * Trust: received payloads are views of the driver's buffers (zero-copy receive); the splitter copies them before a
 * line is decoded and bounds a line's length. A client that sends requests without reading the answers cannot make
 * us buffer without bound: past MAX_UNREAD bytes of answers waiting on its connection, the connection is reset.
 */
import type { VsockDevice, VsockServer, VsockSocket } from '../../vsock/index.js';
import { LineSplitter } from './line-splitter.js';

/** Longest request line (bytes); longer ones are dropped and counted. */
export const MAX_REQUEST_LINE = 16 * 1024;
/** Answer bytes that may wait unread on one connection before it is reset. */
const MAX_UNREAD = 1 << 20;

export interface VsockLineStats {
  connections: number;
  open: number;
  linesIn: number;
  linesOut: number;
  bytesIn: number;
  bytesOut: number;
  overlong: number;
  /** Connections reset because their client left more than MAX_UNREAD bytes of answers unread. */
  resetUnread: number;
  /** Connections that ended with an error (an RST from Linux, a transport reset). */
  socketErrors: number;
}

export class VsockLineService {
  readonly stats: VsockLineStats = { connections: 0, open: 0, linesIn: 0, linesOut: 0, bytesIn: 0, bytesOut: 0, overlong: 0, resetUnread: 0, socketErrors: 0 };
  private server: VsockServer | undefined;

  constructor(
    private readonly device: VsockDevice,
    readonly port: number,
    private readonly handler: (line: string) => string | undefined,
  ) {}

  listen(): this {
    this.server = this.device.createServer((s) => this.serve(s)).listen(this.port);
    return this;
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
  }

  private serve(s: VsockSocket): void {
    this.stats.connections++;
    this.stats.open++;
    const lines = new LineSplitter(MAX_REQUEST_LINE);
    let overlongSeen = 0;
    const onLine = (line: string): void => {
      this.stats.linesIn++;
      const answer = this.handler(line);
      if (answer === undefined || s.destroyed) return;
      const bytes = Buffer.from(`${answer}\n`, 'utf8');
      this.stats.linesOut++;
      this.stats.bytesOut += bytes.length;
      s.write(bytes);
      if (s.writableLength > MAX_UNREAD) {
        this.stats.resetUnread++;
        s.destroy();
      }
    };
    s.setZeroCopyReceive((view) => {
      this.stats.bytesIn += view.length;
      lines.push(view, onLine);
      this.stats.overlong += lines.overlong - overlongSeen;
      overlongSeen = lines.overlong;
    });
    // the readable side carries nothing (zero-copy receive) but must flow, or its 'end' (Linux's SHUTDOWN) never fires
    s.resume();
    s.on('end', () => s.end());
    s.on('error', () => {
      this.stats.socketErrors++;
    });
    s.on('close', () => {
      this.stats.open--;
    });
  }
}
