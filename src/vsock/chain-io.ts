/**
 * Scatter/gather of a vsock packet over a descriptor chain's segments. §5.10.6.1: the device must not assume any
 * framing: the header and the payload may share one buffer or be split across several, at any byte. The fast path
 * (the whole header in the first segment, the payload in one segment) takes views; anything else is copied.
 */
import type { DescriptorChain, PhysicalMemory } from '../virtio/index.js';

/** Copies `len` readable bytes starting `offset` bytes into the chain's readable part into dst[dstOff..]; returns bytes copied. */
export function gatherReadable(memory: PhysicalMemory, c: DescriptorChain, offset: number, dst: Uint8Array, dstOff: number, len: number): number {
  let skip = offset;
  let done = 0;
  for (let i = 0; i < c.readable && done < len; i++) {
    const segLen = c.len[i]!;
    if (skip >= segLen) {
      skip -= segLen;
      continue;
    }
    const n = Math.min(segLen - skip, len - done);
    memory.readBytes(c.addr[i]! + skip, dst, dstOff + done, n);
    done += n;
    skip = 0;
  }
  return done;
}

/**
 * A view of `len` readable bytes at `offset` when they lie in one segment, else undefined (the caller gathers).
 */
export function readableView(memory: PhysicalMemory, c: DescriptorChain, offset: number, len: number): Uint8Array | undefined {
  let skip = offset;
  for (let i = 0; i < c.readable; i++) {
    const segLen = c.len[i]!;
    if (skip < segLen || (len === 0 && skip === segLen)) {
      return skip + len <= segLen ? memory.bytes(c.addr[i]! + skip, len) : undefined;
    }
    skip -= segLen;
  }
  return len === 0 ? new Uint8Array(0) : undefined;
}

/** Copies src[srcOff, srcOff+len) into the chain's writable part starting `offset` bytes in; returns bytes written. */
export function scatterWritable(memory: PhysicalMemory, c: DescriptorChain, offset: number, src: Uint8Array, srcOff: number, len: number): number {
  let skip = offset;
  let done = 0;
  for (let i = c.readable; i < c.count && done < len; i++) {
    const segLen = c.len[i]!;
    if (skip >= segLen) {
      skip -= segLen;
      continue;
    }
    const n = Math.min(segLen - skip, len - done);
    memory.writeBytes(c.addr[i]! + skip, src, srcOff + done, n);
    done += n;
    skip = 0;
  }
  return done;
}
