/**
 * OpenAMP quirk: its device side returns a consumed *device-readable* buffer with used.len = the buffer's length
 * (rpmsg_virtio_return_buffer -> virtqueue_add_consumed_buffer(vq, idx, virtqueue_get_buffer_length(vq, idx))),
 * whereas VIRTIO 1.2 §2.7.8.2 has the device report the bytes it *wrote*: 0 for a TX buffer. Our split driver
 * treats a larger len as a device error (USED_LEN_TOO_LARGE) and stops the queue, so against an OpenAMP remote the
 * host's TX ring (vring1) would break at the first returned buffer.
 *
 * The used length of a device-readable buffer carries no information, so this adapter zeroes it before our driver
 * reads the entry: every popUsed() of the host's TX queue first rewrites the len of the entries the remote has
 * published (they are final once used.idx covers them) and only pops an entry it has normalized.
 *
 * TODO(hook): this reaches into RpmsgHost's private `svq`; it should become an option of SplitVirtqueueDriver
 * ("ignore used.len of device-readable chains") passed down by RpmsgHostOptions. Until then it is confined here.
 */
import type { PhysicalMemory } from '../virtio/memory.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import type { RpmsgHost } from '../rpmsg/host.js';

interface PoppingQueue {
  popUsed(): unknown;
}

/** Installs the normalization on the host's TX queue (call after host.start(); again after every restart). */
export function tolerateTxUsedLen(host: RpmsgHost, memory: PhysicalMemory): boolean {
  const q = (host as unknown as { svq?: PoppingQueue }).svq;
  if (q === undefined || typeof q.popUsed !== 'function') return false;
  const L = host.layout.vring1;
  const used = splitLegacyLayout(L.da, L.num, L.align).used;
  const region = memory.regionFor(used, 4 + 8 * L.num);
  const u16 = region.u16;
  const u32 = region.u32;
  const idxAt = (used + 2 - region.base) >>> 1;
  const ringAt = (used + 4 - region.base) >>> 2;
  const mask = L.num - 1;
  const original = q.popUsed.bind(q);
  let normalized = 0; // entries [popped, normalized) have len 0
  let popped = 0;
  q.popUsed = (): unknown => {
    const usedIdx = Atomics.load(u16, idxAt);
    while (normalized !== usedIdx) {
      u32[ringAt + 2 * (normalized & mask) + 1] = 0;
      normalized = (normalized + 1) & 0xffff;
    }
    if (popped === normalized) return undefined; // nothing normalized is pending: do not let the driver look further
    const r = original();
    if (r !== undefined) popped = (popped + 1) & 0xffff;
    return r;
  };
  return true;
}
