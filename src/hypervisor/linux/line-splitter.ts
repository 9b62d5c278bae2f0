/**
 * Splits a byte stream from the non-secure side into lines, with a bound: bytes are copied into a buffer of our own
 * (a view of shared memory is never kept or decoded in place), a line longer than `maxLine` bytes is dropped whole and
 * counted, and a CR before the LF is removed. One splitter per stream (a console port, a vsock connection).
 */
/** Longest line of a Linux process's (UML's, QEMU's) console output that is kept; a longer one is dropped and counted. */
export const OUTPUT_MAX_LINE = 64 * 1024;

const NL = 10;
const CR = 13;

export class LineSplitter {
  /** Lines dropped because they exceeded maxLine. */
  overlong = 0;
  private readonly line: Uint8Array;
  private len = 0;
  private skipping = false;

  constructor(readonly maxLine: number) {
    this.line = new Uint8Array(maxLine);
  }

  /** Feeds bytes; `onLine` is called for every complete line (without its newline), in order. */
  push(bytes: Uint8Array, onLine: (line: string) => void): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === NL) {
        if (!this.skipping) {
          let end = this.len;
          if (end > 0 && this.line[end - 1] === CR) end--;
          this.len = 0;
          onLine(Buffer.from(this.line.buffer, this.line.byteOffset, end).toString('utf8'));
        }
        this.len = 0;
        this.skipping = false;
      } else if (this.skipping) {
        continue;
      } else if (this.len >= this.maxLine) {
        this.overlong++;
        this.skipping = true;
        this.len = 0;
      } else this.line[this.len++] = b;
    }
  }

  /** The stream ended: a last line without its newline is delivered too (unless it was overlong). */
  flush(onLine: (line: string) => void): void {
    if (this.len > 0 && !this.skipping) onLine(Buffer.from(this.line.buffer, this.line.byteOffset, this.len).toString('utf8'));
    this.reset();
  }

  /** Forgets a partial line (the stream was reset). */
  reset(): void {
    this.len = 0;
    this.skipping = false;
  }
}
