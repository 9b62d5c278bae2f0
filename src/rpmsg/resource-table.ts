/**
 * The remoteproc resource table codec now lives with the transport that carries it (src/transport/rsc-table/codec.ts).
 * This module keeps the RPMsg layer's names: the same constants and types, and encode/decode functions whose errors
 * are RpmsgErrors with the matching code (RPMSG_ERR_TRUNCATED for TRANSPORT_ERR_TRUNCATED, ...), so callers matching
 * on RPMsg codes keep working.
 */
import {
  decodeResourceTable as decodeTable,
  encodeResourceTable as encodeTable,
  type DecodedResourceTable,
  type ResourceTable,
} from '../transport/rsc-table/codec.js';
import { isTransportError, TransportErrorCode } from '../transport/errors.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';

export {
  entrySize,
  findVdev,
  resourceTableOffsets,
  FW_RSC_ADDR_ANY,
  RSC_CARVEOUT_SIZE,
  RSC_DEVMEM_SIZE,
  RSC_HEADER_SIZE,
  RSC_MAX_CONFIG_LEN,
  RSC_MAX_ENTRIES,
  RSC_MAX_VRINGS,
  RSC_NAME_SIZE,
  RSC_TABLE_VERSION,
  RSC_TRACE_SIZE,
  RSC_VDEV_SIZE,
  RSC_VDEV_STATUS_OFFSET,
  RSC_VRING_SIZE,
  ResourceType,
  type CarveoutEntry,
  type DecodedResourceTable,
  type LocatedEntry,
  type ResourceEntry,
  type ResourceTable,
  type TraceEntry,
  type VdevEntry,
  type VringEntry,
} from '../transport/rsc-table/codec.js';

const CODE_MAP: Partial<Record<TransportErrorCode, RpmsgErrorCode>> = {
  [TransportErrorCode.TRUNCATED]: RpmsgErrorCode.TRUNCATED,
  [TransportErrorCode.OVERSIZED]: RpmsgErrorCode.OVERSIZED,
  [TransportErrorCode.INCONSISTENT]: RpmsgErrorCode.INCONSISTENT,
  [TransportErrorCode.BAD_VERSION]: RpmsgErrorCode.BAD_VERSION,
  [TransportErrorCode.BAD_NAME]: RpmsgErrorCode.BAD_NAME,
  [TransportErrorCode.BAD_ARGUMENT]: RpmsgErrorCode.BAD_ARGUMENT,
  [TransportErrorCode.BAD_LAYOUT]: RpmsgErrorCode.BAD_LAYOUT,
  [TransportErrorCode.NO_VDEV]: RpmsgErrorCode.NO_VDEV,
};

/** Runs `f`, turning a TransportError into the RpmsgError of the same rule (other errors pass unchanged). */
export function asRpmsgErrors<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!isTransportError(e)) throw e;
    const code = CODE_MAP[e.code] ?? RpmsgErrorCode.INCONSISTENT;
    throw new RpmsgError(code, e.message.slice(e.code.length + 2), { ...e.details });
  }
}

export function encodeResourceTable(t: ResourceTable): Uint8Array {
  return asRpmsgErrors(() => encodeTable(t));
}

export function decodeResourceTable(bytes: Uint8Array): DecodedResourceTable {
  return asRpmsgErrors(() => decodeTable(bytes));
}
