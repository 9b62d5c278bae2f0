/**
 * Notification suppression by event index (VIRTIO 1.2 §2.7.10, Linux `vring_need_event`).
 *
 * After the publisher moves its index from `oldIdx` to `newIdx`, the other side asked to be notified when the index
 * passes `eventIdx`. It must be notified iff eventIdx lies in [oldIdx, newIdx), computed in free-running u16
 * arithmetic:  (u16)(new - event - 1) < (u16)(new - old).
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
