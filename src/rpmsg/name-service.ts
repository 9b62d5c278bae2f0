/**
 * The name-service message (Linux struct rpmsg_ns_msg, OpenAMP struct rpmsg_ns_msg), sent to address 53:
 *
 *   0                               32     36      40
 *   +-------------------------------+------+-------+
 *   | name[32], NUL-terminated      | addr | flags |   flags: 0 = CREATE, 1 = DESTROY
 *   +-------------------------------+------+-------+
 *
 * Linux and OpenAMP ignore a message whose length is not exactly 40; we refuse it with a typed error. A name must
 * leave room for its NUL (at most 31 bytes); the bytes after the NUL are zero when we encode and ignored on decode.
 */
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import { RPMSG_NAME_SIZE, RPMSG_NS_MSG_SIZE, RpmsgNsFlags } from './constants.js';

export interface NsMessage {
  readonly name: string;
  readonly addr: number;
  /** RpmsgNsFlags.CREATE (0) or RpmsgNsFlags.DESTROY (1). */
  readonly flags: number;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** The name as bytes; throws BAD_NAME when empty, too long for name[32] with its NUL, or containing a NUL. */
export function encodeServiceName(name: string): Uint8Array {
  const b = utf8.encode(name);
  if (b.length === 0 || b.length > RPMSG_NAME_SIZE - 1 || b.includes(0)) {
    throw new RpmsgError(RpmsgErrorCode.BAD_NAME, `service name '${name}' must be 1..${RPMSG_NAME_SIZE - 1} bytes without NUL`, { name });
  }
  return b;
}

export function encodeNsMessage(m: NsMessage, out: Uint8Array = new Uint8Array(RPMSG_NS_MSG_SIZE), offset = 0): Uint8Array {
  const name = encodeServiceName(m.name);
  if (!Number.isInteger(m.addr) || m.addr < 0 || m.addr > 0xffffffff) {
    throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `name-service addr ${m.addr} is not a u32`, { addr: m.addr });
  }
  if (m.flags !== RpmsgNsFlags.CREATE && m.flags !== RpmsgNsFlags.DESTROY) {
    throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `name-service flags ${m.flags} must be 0 (create) or 1 (destroy)`, { flags: m.flags });
  }
  if (offset < 0 || offset + RPMSG_NS_MSG_SIZE > out.length) {
    throw new RpmsgError(RpmsgErrorCode.TRUNCATED, `no room for a 40-byte name-service message at offset ${offset}`);
  }
  out.fill(0, offset, offset + RPMSG_NAME_SIZE);
  out.set(name, offset);
  const v = new DataView(out.buffer, out.byteOffset + offset, RPMSG_NS_MSG_SIZE);
  v.setUint32(32, m.addr, true);
  v.setUint32(36, m.flags, true);
  return out;
}

/** Decodes exactly 40 bytes: TRUNCATED when shorter, OVERSIZED when longer, BAD_NAME / INCONSISTENT on bad fields. */
export function decodeNsMessage(bytes: Uint8Array): NsMessage {
  if (bytes.length < RPMSG_NS_MSG_SIZE) {
    throw new RpmsgError(RpmsgErrorCode.TRUNCATED, `a name-service message is 40 bytes, ${bytes.length} given`, { length: bytes.length });
  }
  if (bytes.length > RPMSG_NS_MSG_SIZE) {
    throw new RpmsgError(RpmsgErrorCode.OVERSIZED, `a name-service message is 40 bytes, ${bytes.length} given`, { length: bytes.length });
  }
  const nul = bytes.subarray(0, RPMSG_NAME_SIZE).indexOf(0);
  if (nul <= 0) {
    throw new RpmsgError(RpmsgErrorCode.BAD_NAME, nul === 0 ? 'name-service message with an empty name' : 'name-service name is not NUL-terminated within 32 bytes');
  }
  let name: string;
  try {
    name = utf8Strict.decode(bytes.subarray(0, nul));
  } catch {
    throw new RpmsgError(RpmsgErrorCode.BAD_NAME, 'name-service name is not valid UTF-8');
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, RPMSG_NS_MSG_SIZE);
  const addr = v.getUint32(32, true);
  const flags = v.getUint32(36, true);
  if (flags !== RpmsgNsFlags.CREATE && flags !== RpmsgNsFlags.DESTROY) {
    throw new RpmsgError(RpmsgErrorCode.INCONSISTENT, `name-service flags 0x${flags.toString(16)} are neither create (0) nor destroy (1)`, { flags });
  }
  return { name, addr, flags };
}
