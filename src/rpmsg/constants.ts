/**
 * Constants of the RPMsg wire protocol, as Linux drivers/rpmsg/virtio_rpmsg_bus.c and OpenAMP lib/rpmsg define them.
 */
import { VirtioFeature } from '../virtio/features.js';

/** struct rpmsg_hdr: src u32, dst u32, reserved u32, len u16, flags u16; payload follows. */
export const RPMSG_HEADER_SIZE = 16;
/** Address of the name-service endpoint on both sides. */
export const RPMSG_NS_ADDR = 53;
/** "Any address": ask for a dynamic address, or an endpoint not bound to a peer yet. */
export const RPMSG_ADDR_ANY = 0xffffffff;
/** Addresses below this are reserved (static); dynamic addresses start here. */
export const RPMSG_RESERVED_ADDRESSES = 1024;
/** struct rpmsg_ns_msg: name[32], addr u32, flags u32. */
export const RPMSG_NS_MSG_SIZE = 40;
export const RPMSG_NAME_SIZE = 32;
/** Name-service flags. */
export const RpmsgNsFlags = { CREATE: 0, DESTROY: 1 } as const;

/** VirtIO device id of an RPMsg device. */
export const VIRTIO_ID_RPMSG = 7;
/** Device feature bit: the remote supports name-service announcements. */
export const VIRTIO_RPMSG_F_NS = 0;
/** Transport feature bit negotiated through the same u32 fields of the vdev entry. */
export const VIRTIO_RING_F_EVENT_IDX = VirtioFeature.EVENT_IDX;

/** Linux's MAX_RPMSG_BUF_SIZE and buffers per direction (MAX_RPMSG_NUM_BUFS / 2). */
export const DEFAULT_BUFFER_SIZE = 512;
export const DEFAULT_BUFFERS_PER_DIRECTION = 256;
/** Legacy vring alignment used by remoteproc (PAGE_SIZE). */
export const DEFAULT_VRING_ALIGN = 4096;

/** Index of the vring the host receives on (the remote transmits on) and the other one. */
export const VRING_HOST_RX = 0;
export const VRING_HOST_TX = 1;

/** Trace tracks of the RPMsg vrings (src/trace: ring operations and flow arrows per queue). */
export const RPMSG_TRACE_TRACK = { vring0: 0, vring1: 1 } as const;
export const RPMSG_TRACE_QUEUE_NAMES: Readonly<Record<number, string>> = { 0: 'rpmsg vring0 (host rx)', 1: 'rpmsg vring1 (host tx)' };
