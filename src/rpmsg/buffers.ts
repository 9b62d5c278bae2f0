/**
 * The two kinds of buffer a user touches, both views into shared memory (zero-copy):
 *
 * - TxBuffer: a transmit buffer taken with getTxBuffer(); `data` is its payload area (capacity bytes after the
 *   16-byte header). Write the payload in place and send it with sendNoCopy(buf, len), or give it back with
 *   releaseTxBuffer(buf). One object per ring buffer, reused: no allocation per message.
 * - RxMessage: a received message, valid during the callback; hold() keeps its buffer out of the ring after the
 *   callback returns, release() gives it back (the buffer goes back to the ring only then).
 */
import { copyBytes } from '../virtio/copy.js';
import type { MemoryRegion } from '../virtio/memory.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import { RPMSG_HEADER_SIZE } from './constants.js';

/** What the role behind a buffer does when the user gives it back. */
export interface BufferOwner {
  /** @internal */ releaseRx(msg: RxMessage): void;
}

export const TX_FREE = 0;
/** Handed to the user (getTxBuffer) and not sent yet. */
export const TX_ACQUIRED = 1;

export class TxBuffer {
  /** Host: index of the buffer in its TX pool. Remote: descriptor head id on vring0. */
  readonly index: number;
  /** Physical address of the buffer (its header). */
  addr = 0;
  /** Payload bytes available (buffer length - 16). */
  capacity = 0;
  /** @internal region holding the buffer and the buffer's offset in it. */
  region: MemoryRegion | undefined = undefined;
  /** @internal */ off = 0;
  /** @internal */ state = TX_FREE;
  /** @internal role-private: the ring generation the buffer was taken in (a reset invalidates it). */
  generation = 0;
  private view: Uint8Array | undefined = undefined;

  constructor(index: number) {
    this.index = index;
  }

  /** @internal Points the buffer at [addr, addr + bytes) of `region`. */
  bind(region: MemoryRegion, addr: number, bytes: number): void {
    if (this.region !== region || this.addr !== addr || this.capacity !== bytes - RPMSG_HEADER_SIZE) {
      this.region = region;
      this.addr = addr;
      this.off = addr - region.base;
      this.capacity = bytes - RPMSG_HEADER_SIZE;
      this.view = undefined;
    }
  }

  /** The payload area, `capacity` bytes, a view of shared memory (created once per buffer placement). */
  get data(): Uint8Array {
    if (this.view === undefined) {
      const r = this.region!;
      this.view = r.u8.subarray(this.off + RPMSG_HEADER_SIZE, this.off + RPMSG_HEADER_SIZE + this.capacity);
    }
    return this.view;
  }
}

/** A message as the endpoint callback sees it. */
export interface RpmsgMessage {
  readonly src: number;
  readonly dst: number;
  /** Payload length. */
  readonly len: number;
  readonly flags: number;
  /** The payload: a view of shared memory, valid until the callback returns, or until release() when held. */
  readonly data: Uint8Array;
  /** A copy of the payload (safe to keep). */
  copy(): Uint8Array;
  /** Copies the payload into dst at offset (no allocation); returns its length. */
  copyTo(dst: Uint8Array, offset?: number): number;
  /** Keeps the buffer after the callback returns; the caller must release() it. Returns the message. */
  hold(): RpmsgMessage;
  /** Gives a held buffer back to the ring. */
  release(): void;
  readonly held: boolean;
}

export class RxMessage implements RpmsgMessage {
  src = 0;
  dst = 0;
  len = 0;
  flags = 0;
  /** Host: RX buffer index. Remote: descriptor head id on vring1. */
  readonly index: number;
  /** @internal */ region: MemoryRegion | undefined = undefined;
  /** @internal region offset of the payload. */
  payloadOff = 0;
  /** @internal role-private: e.g. the used length to report. */
  aux = 0;
  /** @internal true from delivery until the buffer is back in the ring. */
  live = false;
  held = false;
  /** @internal */ generation = 0;
  private readonly owner: BufferOwner;
  /** The last `data` view handed out and what it covered: reused while the message lands at the same place. */
  private view: Uint8Array | undefined = undefined;
  private viewRegion: MemoryRegion | undefined = undefined;
  private viewOff = -1;
  private viewLen = -1;

  constructor(owner: BufferOwner, index: number) {
    this.owner = owner;
    this.index = index;
  }

  /**
   * The payload view. The same Uint8Array object is handed out again while this ring buffer's messages keep the
   * same place and length (a steady stream allocates nothing); it is only meaningful while the message is live.
   */
  get data(): Uint8Array {
    this.check();
    const r = this.region!;
    const o = this.payloadOff;
    const n = this.len;
    let v = this.view;
    if (v === undefined || this.viewOff !== o || this.viewLen !== n || this.viewRegion !== r) {
      v = r.u8.subarray(o, o + n);
      this.view = v;
      this.viewRegion = r;
      this.viewOff = o;
      this.viewLen = n;
    }
    return v;
  }

  copy(): Uint8Array {
    this.check();
    const out = new Uint8Array(this.len);
    copyBytes(out, 0, this.data, 0, this.len);
    return out;
  }

  /** Copies the payload into `dst` at `offset` without allocating; returns the payload length (BAD_ARGUMENT when it does not fit). */
  copyTo(dst: Uint8Array, offset = 0): number {
    this.check();
    const n = this.len;
    if (!(Number.isInteger(offset) && offset >= 0 && offset + n <= dst.length)) {
      throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `a ${n}-byte payload does not fit ${dst.length} bytes at offset ${offset}`, { len: n, offset });
    }
    // from the cached view: short payloads take TypedArray.set without making a view, long ones the native copy
    // (a byte loop out of shared memory would be ~10x slower, even for 16 B)
    copyBytes(dst, offset, this.data, 0, n);
    return n;
  }

  hold(): RpmsgMessage {
    this.check();
    this.held = true;
    return this;
  }

  release(): void {
    if (!this.held || !this.live) throw new RpmsgError(RpmsgErrorCode.BAD_BUFFER, 'release() of a message that is not held');
    this.held = false;
    this.owner.releaseRx(this);
  }

  private check(): void {
    if (!this.live) throw new RpmsgError(RpmsgErrorCode.BAD_BUFFER, 'message used after its buffer went back to the ring (hold() it inside the callback)');
  }
}

/** A received message copied out of shared memory (the async-iterator / receive() form). */
export interface ReceivedMessage {
  readonly src: number;
  readonly dst: number;
  readonly data: Uint8Array;
}
