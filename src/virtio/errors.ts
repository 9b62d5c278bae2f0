/**
 * Typed errors of the VirtIO layer. Every rule of the spec that a peer can break has its own stable code
 * (in the style of ws's WS_ERR_* codes and rust-vmm's error enum), so callers and tests match on `code`,
 * never on message text.
 */
import { CodedError, hasCode } from '../errors/coded-error.js';

export const VirtioErrorCode = {
  // physical memory
  MEM_OUT_OF_RANGE: 'VIRTIO_ERR_MEM_OUT_OF_RANGE',
  MEM_MISALIGNED: 'VIRTIO_ERR_MEM_MISALIGNED',
  MEM_REGION_OVERLAP: 'VIRTIO_ERR_MEM_REGION_OVERLAP',
  MEM_BAD_REGION: 'VIRTIO_ERR_MEM_BAD_REGION',
  BIG_ENDIAN_HOST: 'VIRTIO_ERR_BIG_ENDIAN_HOST',
  /** A bulk copy (copy.ts) whose source or destination range is not wholly inside its array. */
  COPY_OUT_OF_RANGE: 'VIRTIO_ERR_COPY_OUT_OF_RANGE',
  // queue configuration
  BAD_QUEUE_SIZE: 'VIRTIO_ERR_BAD_QUEUE_SIZE',
  BAD_RING_ADDRESS: 'VIRTIO_ERR_BAD_RING_ADDRESS',
  BAD_ALIGNMENT: 'VIRTIO_ERR_BAD_ALIGNMENT',
  // driver-side usage errors (our own caller's mistakes, not the peer's)
  QUEUE_FULL: 'VIRTIO_ERR_QUEUE_FULL',
  EMPTY_CHAIN: 'VIRTIO_ERR_EMPTY_CHAIN',
  BAD_SEGMENT: 'VIRTIO_ERR_BAD_SEGMENT',
  // rules a peer can break in shared memory (device reading the driver's rings, or the reverse)
  DESC_INDEX_OUT_OF_RANGE: 'VIRTIO_ERR_DESC_INDEX_OUT_OF_RANGE',
  DESC_LOOP: 'VIRTIO_ERR_DESC_LOOP',
  CHAIN_TOO_LONG: 'VIRTIO_ERR_CHAIN_TOO_LONG',
  INDIRECT_WITH_NEXT: 'VIRTIO_ERR_INDIRECT_WITH_NEXT',
  NESTED_INDIRECT: 'VIRTIO_ERR_NESTED_INDIRECT',
  INDIRECT_BAD_LENGTH: 'VIRTIO_ERR_INDIRECT_BAD_LENGTH',
  INDIRECT_NOT_NEGOTIATED: 'VIRTIO_ERR_INDIRECT_NOT_NEGOTIATED',
  BUFFER_OUT_OF_RANGE: 'VIRTIO_ERR_BUFFER_OUT_OF_RANGE',
  READABLE_AFTER_WRITABLE: 'VIRTIO_ERR_READABLE_AFTER_WRITABLE',
  AVAIL_IDX_TOO_FAR: 'VIRTIO_ERR_AVAIL_IDX_TOO_FAR',
  /** The driver made a head available again while the device still holds it (popped, not yet used). */
  DESC_IN_USE: 'VIRTIO_ERR_DESC_IN_USE',
  USED_IDX_TOO_FAR: 'VIRTIO_ERR_USED_IDX_TOO_FAR',
  USED_ID_OUT_OF_RANGE: 'VIRTIO_ERR_USED_ID_OUT_OF_RANGE',
  USED_ID_NOT_OUTSTANDING: 'VIRTIO_ERR_USED_ID_NOT_OUTSTANDING',
  USED_LEN_TOO_LARGE: 'VIRTIO_ERR_USED_LEN_TOO_LARGE',
  PACKED_BAD_ID: 'VIRTIO_ERR_PACKED_BAD_ID',
  PACKED_BAD_FLAGS: 'VIRTIO_ERR_PACKED_BAD_FLAGS',
  QUEUE_BROKEN: 'VIRTIO_ERR_QUEUE_BROKEN',
  // features and status
  FEATURE_NOT_OFFERED: 'VIRTIO_ERR_FEATURE_NOT_OFFERED',
  FEATURE_DEPENDENCY: 'VIRTIO_ERR_FEATURE_DEPENDENCY',
  FEATURES_LOCKED: 'VIRTIO_ERR_FEATURES_LOCKED',
  BAD_STATUS_TRANSITION: 'VIRTIO_ERR_BAD_STATUS_TRANSITION',
  DEVICE_NEEDS_RESET: 'VIRTIO_ERR_DEVICE_NEEDS_RESET',
  FEATURES_REFUSED: 'VIRTIO_ERR_FEATURES_REFUSED',
  // virtio-mmio
  MMIO_BAD_MAGIC: 'VIRTIO_ERR_MMIO_BAD_MAGIC',
  MMIO_LEGACY_DEVICE: 'VIRTIO_ERR_MMIO_LEGACY_DEVICE',
  MMIO_BAD_VERSION: 'VIRTIO_ERR_MMIO_BAD_VERSION',
  MMIO_NO_DEVICE: 'VIRTIO_ERR_MMIO_NO_DEVICE',
  MMIO_BAD_REGISTER: 'VIRTIO_ERR_MMIO_BAD_REGISTER',
  MMIO_QUEUE_UNAVAILABLE: 'VIRTIO_ERR_MMIO_QUEUE_UNAVAILABLE',
  MMIO_BAD_ACCESS: 'VIRTIO_ERR_MMIO_BAD_ACCESS',
  // inspect / decoding of images
  IMAGE_TRUNCATED: 'VIRTIO_ERR_IMAGE_TRUNCATED',
  BAD_ARGUMENT: 'VIRTIO_ERR_BAD_ARGUMENT',
} as const;

export type VirtioErrorCode = (typeof VirtioErrorCode)[keyof typeof VirtioErrorCode];

/** Every error the VirtIO layer throws on purpose. `details` carries the offending values (indices, addresses). */
export class VirtioError extends CodedError<VirtioErrorCode> {
  constructor(code: VirtioErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('VirtioError', code, message, details);
  }
}

export function isVirtioError(e: unknown, code?: VirtioErrorCode): e is VirtioError {
  return hasCode(e, VirtioError, code);
}
