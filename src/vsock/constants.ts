/**
 * Numbers of virtio-vsock (VIRTIO 1.2 §5.10; Linux include/uapi/linux/virtio_vsock.h and linux/vm_sockets.h).
 */

/** Device id (§5: "19 socket device"). */
export const VIRTIO_ID_VSOCK = 19;

/** Queue indices (§5.10.2): rx carries device → driver packets, tx driver → device, event device → driver events. */
export const VSOCK_QUEUE_RX = 0;
export const VSOCK_QUEUE_TX = 1;
export const VSOCK_QUEUE_EVENT = 2;
export const VSOCK_NUM_QUEUES = 3;

/** Feature bits (§5.10.3). STREAM is always there; SEQPACKET is bit 1. */
export const VIRTIO_VSOCK_F_STREAM = 0;
export const VIRTIO_VSOCK_F_SEQPACKET = 1;

/** Size of struct virtio_vsock_hdr on the wire (§5.10.6), and of the config space (u64 guest_cid, §5.10.4). */
export const VSOCK_HEADER_SIZE = 44;
export const VSOCK_CONFIG_SIZE = 8;
/** struct virtio_vsock_event: a u32 id (§5.10.6.5). */
export const VSOCK_EVENT_SIZE = 4;

export const VsockType = {
  STREAM: 1,
  SEQPACKET: 2,
} as const;

export const VsockOp = {
  INVALID: 0,
  REQUEST: 1,
  RESPONSE: 2,
  RST: 3,
  SHUTDOWN: 4,
  RW: 5,
  CREDIT_UPDATE: 6,
  CREDIT_REQUEST: 7,
} as const;
export type VsockOp = (typeof VsockOp)[keyof typeof VsockOp];

export const VSOCK_OP_NAMES: Readonly<Record<number, string>> = {
  0: 'INVALID',
  1: 'REQUEST',
  2: 'RESPONSE',
  3: 'RST',
  4: 'SHUTDOWN',
  5: 'RW',
  6: 'CREDIT_UPDATE',
  7: 'CREDIT_REQUEST',
};

/** SHUTDOWN flags (§5.10.6.4): the sender will receive (RCV) / send (SEND) no more. */
export const VSOCK_SHUTDOWN_RCV = 1;
export const VSOCK_SHUTDOWN_SEND = 2;
export const VSOCK_SHUTDOWN_BOTH = 3;

/** RW flags of SEQPACKET (end of message / end of record). */
export const VSOCK_SEQ_EOM = 1;
export const VSOCK_SEQ_EOR = 2;

/** Events (§5.10.6.5). */
export const VSOCK_EVENT_TRANSPORT_RESET = 0;

/** Well-known CIDs (linux/vm_sockets.h): the host (the device side) is 2; guests start at 3. */
export const VMADDR_CID_HYPERVISOR = 0;
export const VMADDR_CID_LOCAL = 1;
export const VMADDR_CID_HOST = 2;
export const VMADDR_CID_ANY = 0xffffffff;
export const VMADDR_PORT_ANY = 0xffffffff;
/** Ports below this are reserved (privileged) in Linux; ephemeral ports are allocated above it. */
export const VSOCK_LAST_RESERVED_PORT = 1023;

/** Largest payload of one packet Linux sends or accepts (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE, 64 KiB). */
export const VSOCK_MAX_PKT_PAYLOAD = 64 * 1024;
/** Linux's default receive buffer per socket (buf_alloc), 256 KiB. */
export const VSOCK_DEFAULT_BUF_ALLOC = 256 * 1024;
/** Linux's rx buffer payload size (VIRTIO_VSOCK_DEFAULT_RX_BUF_SIZE). */
export const VSOCK_DEFAULT_RX_BUF_SIZE = 4096;
