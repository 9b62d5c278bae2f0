/**
 * Copying between a popped descriptor chain and plain bytes, segment by segment. The chain's segments were checked
 * against the device's memory when it was walked (DescriptorChain.push), so these copies never leave that memory.
 */
import type { DescriptorChain, PhysicalMemory } from '../virtio/index.js';

/** Copies src[off..] into the chain's device-writable segments, in order; returns the bytes written. */
export function writeChain(memory: PhysicalMemory, c: DescriptorChain, src: Uint8Array, off: number): number {
  let written = 0;
  for (let i = c.readable; i < c.count && off + written < src.length; i++) {
    const len = Math.min(c.len[i]!, src.length - off - written);
    if (len === 0) continue;
    memory.writeBytes(c.addr[i]!, src, off + written, len);
    written += len;
  }
  return written;
}

/** Copies up to dst.length bytes of the chain's device-readable segments into dst; returns the bytes copied. */
export function gatherChain(memory: PhysicalMemory, c: DescriptorChain, dst: Uint8Array): number {
  let got = 0;
  for (let i = 0; i < c.readable && got < dst.length; i++) {
    const len = Math.min(c.len[i]!, dst.length - got);
    if (len === 0) continue;
    memory.readBytes(c.addr[i]!, dst, got, len);
    got += len;
  }
  return got;
}
