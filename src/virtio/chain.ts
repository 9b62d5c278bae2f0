/**
 * A descriptor chain as the device sees it after walking it (split or packed, NEXT and INDIRECT followed): an ordered
 * list of segments, the device-readable ones first, then the device-writable ones (§2.7.4.2: a driver must not put a
 * readable descriptor after a writable one).
 *
 * Chains are reused: a device pops into a caller-owned DescriptorChain, so the hot path allocates nothing.
 * Segment i is writable iff i >= readable.
 */
import { VirtioError, VirtioErrorCode } from './errors.js';
import { hex, span, type PhysicalMemory } from './memory.js';

export class DescriptorChain {
  /** Buffer id to return on the used ring (split: head descriptor index; packed: the id field). */
  head = 0;
  /** Number of segments. */
  count = 0;
  /** Number of device-readable segments (they come first). */
  readable = 0;
  readableBytes = 0;
  writableBytes = 0;
  /** Ring slots the chain occupies (packed: how far the device's ring position moved; split: descriptors in the table). */
  ringDescs = 0;
  /** Whether the chain went through an indirect table. */
  indirect = false;
  readonly addr: Float64Array;
  readonly len: Uint32Array;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.addr = new Float64Array(capacity);
    this.len = new Uint32Array(capacity);
  }

  get writable(): number {
    return this.count - this.readable;
  }

  clear(head: number): void {
    this.head = head;
    this.count = 0;
    this.readable = 0;
    this.readableBytes = 0;
    this.writableBytes = 0;
    this.ringDescs = 0;
    this.indirect = false;
  }

  /**
   * Appends one segment after checking the rules that apply to any segment: the chain's length bound, readable
   * before writable, and the buffer lying wholly inside the memory given to the device.
   */
  push(memory: PhysicalMemory, addr: number, len: number, writable: boolean): void {
    if (this.count >= this.capacity) {
      throw new VirtioError(VirtioErrorCode.CHAIN_TOO_LONG, `chain of head ${this.head} has more than ${this.capacity} descriptors`, { head: this.head });
    }
    if (!writable && this.readable !== this.count) {
      throw new VirtioError(VirtioErrorCode.READABLE_AFTER_WRITABLE, `chain of head ${this.head}: readable descriptor after a writable one`, { head: this.head, index: this.count });
    }
    if (addr < 0 || !memory.contains(addr, len)) {
      throw new VirtioError(VirtioErrorCode.BUFFER_OUT_OF_RANGE, `chain of head ${this.head}: buffer ${span(addr, len)} is outside the device's memory`, { head: this.head, addr, len });
    }
    const i = this.count++;
    this.addr[i] = addr;
    this.len[i] = len;
    if (writable) this.writableBytes += len;
    else {
      this.readable++;
      this.readableBytes += len;
    }
  }

  isWritable(i: number): boolean {
    return i >= this.readable;
  }

  /** Zero-copy view of segment i. */
  segment(memory: PhysicalMemory, i: number): Uint8Array {
    return memory.bytes(this.addr[i]!, this.len[i]!);
  }

  /** Copies the device-readable bytes into dst in order; returns how many were copied (at most dst.length). */
  readInto(memory: PhysicalMemory, dst: Uint8Array): number {
    return this.gather(memory, 0, dst, 0, dst.length);
  }

  /** Copies src into the writable segments in order; returns how many bytes fit (the length to report as used.len). */
  writeFrom(memory: PhysicalMemory, src: Uint8Array): number {
    return this.scatter(memory, 0, src, 0, src.length);
  }

  /**
   * Copies up to `len` device-readable bytes, starting `offset` bytes into the readable part, into dst[dstOff..];
   * returns the bytes copied. Segment boundaries mean nothing (§2.6.4: no framing may be assumed).
   */
  gather(memory: PhysicalMemory, offset: number, dst: Uint8Array, dstOff: number, len: number): number {
    return this.copySegments(memory, 0, this.readable, offset, dst, dstOff, len, false);
  }

  /** Copies src[srcOff, srcOff+len) into the writable part, starting `offset` bytes into it; returns the bytes written. */
  scatter(memory: PhysicalMemory, offset: number, src: Uint8Array, srcOff: number, len: number): number {
    return this.copySegments(memory, this.readable, this.count, offset, src, srcOff, len, true);
  }

  /** The one segment walk of gather/scatter: segments [first, end), `offset` bytes in, `toMemory` = scatter. */
  private copySegments(memory: PhysicalMemory, first: number, end: number, offset: number, buf: Uint8Array, bufOff: number, len: number, toMemory: boolean): number {
    let skip = offset;
    let done = 0;
    for (let i = first; i < end && done < len; i++) {
      const segLen = this.len[i]!;
      if (skip >= segLen) {
        skip -= segLen;
        continue;
      }
      const n = Math.min(segLen - skip, len - done);
      if (toMemory) memory.writeBytes(this.addr[i]! + skip, buf, bufOff + done, n);
      else memory.readBytes(this.addr[i]! + skip, buf, bufOff + done, n);
      done += n;
      skip = 0;
    }
    return done;
  }

  /** A plain-object copy for reports and tests. */
  toJSON(): { head: number; segments: { addr: string; len: number; write: boolean }[] } {
    const segments = [];
    for (let i = 0; i < this.count; i++) segments.push({ addr: hex(this.addr[i]!), len: this.len[i]!, write: i >= this.readable });
    return { head: this.head, segments };
  }
}
