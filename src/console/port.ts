/**
 * A console port as a Node `stream.Duplex`, the same class on both sides (device: a port declared by name; driver:
 * a port found by name). The role behind it implements PortIo; the stream adds Node's conventions:
 *
 * - write(): the chunk is copied into free buffers of the port's queue (driver: its own transmit buffers; device: the
 *   driver's receive buffers); its callback runs once every byte is in shared memory, so while no buffer is free the
 *   writable side fills up and write() returns false until 'drain' (backpressure).
 * - reading: bytes are copied out of shared memory and pushed; when push() says the reader is full, the role stops
 *   consuming the queue (its buffers stay with it, so the peer's writes back up) until _read() asks for more.
 * - end() / destroy(): our end of the port closes (PORT_OPEN 0 to the peer).
 * - 'peer-open' / 'peer-close': the other side opened or closed its end (PORT_OPEN). On the driver side a closing
 *   host also ends the readable side (EOF), as a Linux read() returns 0 once the host is gone.
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import { copyBytes } from '../virtio/copy.js';

export interface PortIo {
  /** Copies from data[off..] into free buffers now; returns the bytes taken (0: no buffer, or the port is not open). */
  write(data: Uint8Array, off: number): number;
  /** The reader wants more: consume what was held back. */
  resume(): void;
  /** Our end of the port closed (end() finished, or destroy()). */
  close(): void;
}

interface PendingWrite {
  readonly data: Uint8Array;
  off: number;
  readonly cb: (err?: Error | null) => void;
}

export class ConsolePort extends Duplex {
  private pending: PendingWrite | undefined;
  private closedIo = false;
  private eof = false;

  constructor(
    /** Port number (0 = the console port). */
    readonly id: number,
    /** Name announced with PORT_NAME (undefined for an unnamed port, or until the name arrives). */
    public portName: string | undefined,
    private readonly io: PortIo,
    opts: DuplexOptions = {},
  ) {
    super({ ...opts, decodeStrings: true });
  }

  /** True while a written chunk waits for buffers. */
  get writePending(): boolean {
    return this.pending !== undefined;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pending = { data: chunk, off: 0, cb };
    this.flush();
  }

  /** Moves the pending chunk into buffers as far as they go (the role calls it when buffers came back). Returns whether anything moved. */
  flush(): boolean {
    let moved = false;
    while (this.pending !== undefined) {
      const p = this.pending;
      if (p.off < p.data.length) {
        const n = this.io.write(p.data, p.off);
        p.off += n;
        if (n > 0) moved = true;
        if (p.off < p.data.length) return moved;
      }
      this.pending = undefined;
      p.cb(); // may write the next buffered chunk (re-entering flush)
    }
    return moved;
  }

  /** Several buffered chunks go out together, so small writes share buffers instead of taking one each. */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this._write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), 'binary', cb);
  }

  override _read(): void {
    this.io.resume();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.closeIo();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.pending = undefined;
    this.closeIo();
    cb(err);
  }

  private closeIo(): void {
    if (this.closedIo) return;
    this.closedIo = true;
    this.io.close();
  }

  /** Data arrived (a view into shared memory, copied here). Returns false when the reader is full. */
  deliver(view: Uint8Array): boolean {
    if (this.eof || this.destroyed) return true;
    const data = Buffer.allocUnsafe(view.length);
    copyBytes(data, 0, view, 0, view.length);
    return this.push(data);
  }

  /** No more data will arrive: EOF on the readable side. */
  endOfInput(): void {
    if (this.eof || this.destroyed) return;
    this.eof = true;
    this.push(null);
  }
}
