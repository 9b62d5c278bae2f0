/**
 * vhost-user wire constants (QEMU docs/interop/vhost-user.rst). All fields are little-endian; a message is a 12-byte
 * header then `size` bytes of payload, and file descriptors travel as SCM_RIGHTS ancillary data with the header.
 *
 *   0        4        8        12
 *   +--------+--------+--------+----------------------+
 *   |request | flags  | size   | payload (size bytes) |
 *   +--------+--------+--------+----------------------+
 *   flags: bits 0-1 version (1), bit 2 REPLY, bit 3 NEED_REPLY, bits 4-31 reserved (0)
 */

export const HEADER_SIZE = 12;
export const VHOST_USER_VERSION = 1;
export const FLAG_VERSION_MASK = 0x3;
export const FLAG_REPLY = 1 << 2;
export const FLAG_NEED_REPLY = 1 << 3;
/** Replies carry exactly this: version 1 and REPLY (Linux UML refuses any other value). */
export const REPLY_FLAGS = VHOST_USER_VERSION | FLAG_REPLY;
/** Largest payload this back-end accepts: the largest request it implements is GET/SET_CONFIG (12 + 256). */
export const MAX_PAYLOAD = 4096;
/** Most descriptors one message may carry (the memory table's region limit). */
export const MAX_FDS = 8;

/** Front-end requests (front-end -> back-end). */
export const Req = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
  SET_BACKEND_REQ_FD: 21,
  IOTLB_MSG: 22,
  SET_VRING_ENDIAN: 23,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  RESET_DEVICE: 34,
  VRING_KICK: 35,
  GET_MAX_MEM_SLOTS: 36,
  ADD_MEM_REG: 37,
  REM_MEM_REG: 38,
  SET_STATUS: 39,
  GET_STATUS: 40,
} as const;

/** Back-end requests (back-end -> front-end, on the SET_BACKEND_REQ_FD channel). */
export const BackendReq = {
  IOTLB_MSG: 1,
  CONFIG_CHANGE_MSG: 2,
  VRING_HOST_NOTIFIER_MSG: 3,
  VRING_CALL: 4,
  VRING_ERR: 5,
} as const;

/** Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
export const ProtocolFeature = {
  MQ: 0,
  LOG_SHMFD: 1,
  RARP: 2,
  REPLY_ACK: 3,
  MTU: 4,
  BACKEND_REQ: 5,
  CROSS_ENDIAN: 6,
  CRYPTO_SESSION: 7,
  PAGEFAULT: 8,
  CONFIG: 9,
  BACKEND_SEND_FD: 10,
  HOST_NOTIFIER: 11,
  INFLIGHT_SHMFD: 12,
  RESET_DEVICE: 13,
  INBAND_NOTIFICATIONS: 14,
  CONFIGURE_MEM_SLOTS: 15,
  STATUS: 16,
} as const;

/** Virtio feature bit 30, borrowed by vhost-user: "GET/SET_PROTOCOL_FEATURES are available". */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;

/** SET_VRING_KICK/CALL/ERR u64: bits 0-7 queue index, bit 8 "no fd" (poll, or in-band with INBAND_NOTIFICATIONS). */
export const VRING_INDEX_MASK = 0xff;
export const VRING_NOFD_MASK = 1 << 8;

/** Memory table (SET_MEM_TABLE): u32 nregions, u32 padding, then regions of 32 bytes (up to 8). */
export const MEM_TABLE_HEADER = 8;
export const MEM_REGION_SIZE = 32;
export const MAX_MEM_REGIONS = 8;
/** struct vhost_vring_state: u32 index, u32 num. */
export const VRING_STATE_SIZE = 8;
/** struct vhost_vring_addr: u32 index, u32 flags, u64 desc, u64 used, u64 avail, u64 log (user addresses). */
export const VRING_ADDR_SIZE = 40;
/** Config payload: u32 offset, u32 size, u32 flags, then `size` bytes (at most 256). */
export const CONFIG_HEADER = 12;
export const MAX_CONFIG_SIZE = 256;

const reqNames = new Map<number, string>(Object.entries(Req).map(([k, v]) => [v, k]));
/** The name of a request number for messages and logs ("SET_VRING_ADDR", or "request 99"). */
export function requestName(req: number): string {
  return reqNames.get(req) ?? `request ${req}`;
}

export function protocolBit(b: number): bigint {
  return 1n << BigInt(b);
}
