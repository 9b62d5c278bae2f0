/**
 * OpenAMP's *driver* side (its host, e.g. rpmsg-echo-ping) depends on a non-standard used.len on its TX ring: when
 * it reuses a TX buffer the device returned, it takes that buffer's capacity from the used entry
 * (open-amp lib/rpmsg/rpmsg_virtio.c rpmsg_virtio_get_tx_buffer -> virtqueue_get_buffer(svq, len, idx), which sets
 * *len = used.ring[i].len; then *len -= sizeof(struct rpmsg_hdr)). OpenAMP's own device side writes the descriptor
 * length there. A device that follows VIRTIO 1.2 §2.7.8.2 (bytes written = 0 for a device-readable buffer), as our
 * RpmsgRemote does, makes the OpenAMP host compute a capacity of 0 - 16 and fail its next send (found against
 * open-amp v2026.04.0-5-g23d4c5d: "Failed to send data..." on the first ping after the name-service message).
 *
 * Adapter: on the remote's host-TX queue (vring1 from the host's side), every used entry is written with the
 * descriptor's length instead of 0, after our device records it and before it is published (publishUsed stores
 * used.idx later, so the peer never sees the entry half-written). Linux's virtio_rpmsg_bus ignores this length, so
 * the change is harmless for other hosts.
 *
 * TODO(hook): this reaches into RpmsgRemote's private `rxq` and SplitVirtqueueDevice's private `usedNext`; it should
 * become an option of RpmsgRemote (e.g. `consumedUsedLen: 'zero' | 'descriptor'`), reported to the rpmsg owner.
 * Until then it is confined here and re-installed whenever the remote (re)attaches.
 */
import type { PhysicalMemory } from '../virtio/memory.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import type { RpmsgRemote } from '../rpmsg/remote.js';

interface DeviceInternals {
  pushUsed(id: number, writtenLen: number): void;
  usedNext: number;
  __openampLen?: true;
}

/**
 * Makes the remote's consumed host-TX buffers report used.len = descriptor length. Idempotent; call after every
 * attach (the remote makes a new queue object each time). Returns false when the remote is not attached.
 */
export function reportConsumedBufferLength(remote: RpmsgRemote, memory: PhysicalMemory): boolean {
  const q = (remote as unknown as { rxq?: DeviceInternals }).rxq;
  if (q === undefined || typeof q.pushUsed !== 'function' || typeof q.usedNext !== 'number') return false;
  if (q.__openampLen === true) return true;
  const L = remote.layout.vring1;
  const lay = splitLegacyLayout(L.da, L.num, L.align);
  const mask = L.num - 1;
  const original = q.pushUsed.bind(q);
  q.pushUsed = (id: number, writtenLen: number): void => {
    original(id, writtenLen);
    if (writtenLen !== 0) return;
    // The entry just written: slot (usedNext - 1) of used.ring, {id u32, len u32} at used + 4 + 8 * slot (§2.7.8).
    const slot = (q.usedNext - 1) & mask;
    const descLen = memory.read32(lay.desc + 16 * id + 8); // desc.len at offset 8 (§2.7.5); the driver does not change it while we hold it
    memory.write32(lay.used + 4 + 8 * slot + 4, descLen);
  };
  q.__openampLen = true;
  return true;
}
