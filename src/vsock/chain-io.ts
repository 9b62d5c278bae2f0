/**
 * Scatter/gather of a vsock packet over a descriptor chain's segments. §5.10.6.1: the device must not assume any
 * framing: the header and the payload may share one buffer or be split across several, at any byte. The fast path
 * (the whole header in the first segment, the payload in one segment) takes views; anything else is copied with
 * DescriptorChain.gather/scatter.
 */
import type { DescriptorChain, PhysicalMemory } from '../virtio/index.js';

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
