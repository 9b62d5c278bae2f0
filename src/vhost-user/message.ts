/**
 * vhost-user message codec: the 12-byte header and each payload shape, decoded with bounds checks and encoded for
 * replies (and for the test front-ends). Decoders throw VhostUserError naming the rule; 64-bit values that are
 * addresses become numbers (-1 above 2^53, which no region contains), features stay bigint.
 */
import { toAddress } from '../virtio/memory.js';
import { VhostUserError, VhostUserErrorCode } from './errors.js';
import {
  CONFIG_HEADER,
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  FLAG_VERSION_MASK,
  HEADER_SIZE,
  MAX_CONFIG_SIZE,
  MAX_MEM_REGIONS,
  MAX_PAYLOAD,
  MEM_REGION_SIZE,
  MEM_TABLE_HEADER,
  REPLY_FLAGS,
  Req,
  requestName,
  VHOST_USER_VERSION,
  VRING_ADDR_SIZE,
  VRING_STATE_SIZE,
} from './protocol.js';

export interface MessageHeader {
  readonly request: number;
  readonly flags: number;
  readonly size: number;
}

/** A complete request: header fields, its payload bytes and the descriptors that came with it. */
export interface VhostUserMessage extends MessageHeader {
  readonly payload: Uint8Array;
  readonly fds: number[];
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Decodes and validates a request header (version 1, REPLY clear, reserved bits clear, size within MAX_PAYLOAD). */
export function decodeHeader(b: Uint8Array): MessageHeader {
  if (b.length < HEADER_SIZE) throw new VhostUserError(VhostUserErrorCode.BAD_HEADER, `header needs ${HEADER_SIZE} bytes, got ${b.length}`);
  const v = view(b);
  const request = v.getUint32(0, true);
  const flags = v.getUint32(4, true);
  const size = v.getUint32(8, true);
  if ((flags & FLAG_VERSION_MASK) !== VHOST_USER_VERSION) {
    throw new VhostUserError(VhostUserErrorCode.BAD_HEADER, `${requestName(request)}: version ${flags & FLAG_VERSION_MASK}, expected ${VHOST_USER_VERSION}`, { request, flags });
  }
  if ((flags & FLAG_REPLY) !== 0) throw new VhostUserError(VhostUserErrorCode.BAD_HEADER, `${requestName(request)}: REPLY flag set on a request`, { request, flags });
  if ((flags & ~(FLAG_VERSION_MASK | FLAG_REPLY | FLAG_NEED_REPLY)) !== 0) {
    throw new VhostUserError(VhostUserErrorCode.BAD_HEADER, `${requestName(request)}: reserved flag bits 0x${(flags >>> 0).toString(16)}`, { request, flags });
  }
  if (size > MAX_PAYLOAD) {
    throw new VhostUserError(VhostUserErrorCode.PAYLOAD_TOO_LARGE, `${requestName(request)}: payload of ${size} bytes exceeds ${MAX_PAYLOAD}`, { request, size });
  }
  return { request, flags, size };
}

/** Payload sizes of the requests this back-end implements (GET/SET_CONFIG and SET_MEM_TABLE are checked by their decoders). */
const FIXED_SIZE: Readonly<Record<number, number>> = {
  [Req.GET_FEATURES]: 0,
  [Req.SET_FEATURES]: 8,
  [Req.SET_OWNER]: 0,
  [Req.RESET_OWNER]: 0,
  [Req.SET_VRING_NUM]: VRING_STATE_SIZE,
  [Req.SET_VRING_ADDR]: VRING_ADDR_SIZE,
  [Req.SET_VRING_BASE]: VRING_STATE_SIZE,
  [Req.GET_VRING_BASE]: VRING_STATE_SIZE,
  [Req.SET_VRING_KICK]: 8,
  [Req.SET_VRING_CALL]: 8,
  [Req.SET_VRING_ERR]: 8,
  [Req.GET_PROTOCOL_FEATURES]: 0,
  [Req.SET_PROTOCOL_FEATURES]: 8,
  [Req.GET_QUEUE_NUM]: 0,
  [Req.SET_VRING_ENABLE]: VRING_STATE_SIZE,
  [Req.SET_BACKEND_REQ_FD]: 0,
  [Req.RESET_DEVICE]: 0,
  [Req.VRING_KICK]: VRING_STATE_SIZE,
};

/** Throws BAD_PAYLOAD_SIZE when a fixed-size request's payload has another size; UNSUPPORTED_REQUEST for unknown ones. */
export function checkPayloadSize(m: MessageHeader): void {
  if (m.request === Req.SET_MEM_TABLE || m.request === Req.GET_CONFIG || m.request === Req.SET_CONFIG) return;
  const want = FIXED_SIZE[m.request];
  if (want === undefined) throw new VhostUserError(VhostUserErrorCode.UNSUPPORTED_REQUEST, `${requestName(m.request)} is not supported`, { request: m.request });
  if (m.size !== want) {
    throw new VhostUserError(VhostUserErrorCode.BAD_PAYLOAD_SIZE, `${requestName(m.request)}: payload of ${m.size} bytes, expected ${want}`, { request: m.request, size: m.size });
  }
}

export function decodeU64(p: Uint8Array): bigint {
  return view(p).getBigUint64(0, true);
}

export interface VringState {
  readonly index: number;
  readonly num: number;
}
export function decodeVringState(p: Uint8Array): VringState {
  const v = view(p);
  return { index: v.getUint32(0, true), num: v.getUint32(4, true) };
}

export interface VringAddr {
  readonly index: number;
  readonly flags: number;
  /** Front-end user addresses (-1 when above 2^53). */
  readonly desc: number;
  readonly used: number;
  readonly avail: number;
  readonly log: bigint;
}
export function decodeVringAddr(p: Uint8Array): VringAddr {
  const v = view(p);
  const a = (o: number) => toAddress(v.getUint32(o, true), v.getUint32(o + 4, true));
  return { index: v.getUint32(0, true), flags: v.getUint32(4, true), desc: a(8), used: a(16), avail: a(24), log: v.getBigUint64(32, true) };
}

export interface MemRegionDesc {
  /** Guest-physical address (-1 when above 2^53). */
  readonly guestAddr: number;
  readonly size: number;
  /** The front-end's user address of the region (vring addresses are in this space). */
  readonly userAddr: number;
  /** Offset of the region in the file passed for it. */
  readonly mmapOffset: number;
}

/**
 * SET_MEM_TABLE payload: nregions (1..8), padding, then the regions. The payload may be the full 8-slot struct (Linux
 * UML sends sizeof(struct), 264 bytes) or just the used regions (QEMU): any size from 8 + 32n to 8 + 32*8 whose tail
 * is whole region slots.
 */
export function decodeMemTable(p: Uint8Array): MemRegionDesc[] {
  if (p.length < MEM_TABLE_HEADER) throw new VhostUserError(VhostUserErrorCode.BAD_PAYLOAD_SIZE, `SET_MEM_TABLE: payload of ${p.length} bytes`, { size: p.length });
  const v = view(p);
  const n = v.getUint32(0, true);
  if (n < 1 || n > MAX_MEM_REGIONS) throw new VhostUserError(VhostUserErrorCode.BAD_MEM_TABLE, `SET_MEM_TABLE: ${n} regions, expected 1..${MAX_MEM_REGIONS}`, { nregions: n });
  const slots = (p.length - MEM_TABLE_HEADER) / MEM_REGION_SIZE;
  if (!Number.isInteger(slots) || slots < n || slots > MAX_MEM_REGIONS) {
    throw new VhostUserError(VhostUserErrorCode.BAD_PAYLOAD_SIZE, `SET_MEM_TABLE: payload of ${p.length} bytes for ${n} regions`, { size: p.length, nregions: n });
  }
  const out: MemRegionDesc[] = [];
  for (let i = 0; i < n; i++) {
    const o = MEM_TABLE_HEADER + i * MEM_REGION_SIZE;
    const a = (k: number) => toAddress(v.getUint32(o + k, true), v.getUint32(o + k + 4, true));
    out.push({ guestAddr: a(0), size: a(8), userAddr: a(16), mmapOffset: a(24) });
  }
  return out;
}

export interface ConfigAccess {
  readonly offset: number;
  readonly size: number;
  readonly flags: number;
  /** The `size` bytes after the config header (SET_CONFIG's data; GET_CONFIG's placeholder). */
  readonly data: Uint8Array;
}
export function decodeConfig(p: Uint8Array): ConfigAccess {
  if (p.length < CONFIG_HEADER) throw new VhostUserError(VhostUserErrorCode.BAD_PAYLOAD_SIZE, `config payload of ${p.length} bytes < ${CONFIG_HEADER}`, { size: p.length });
  const v = view(p);
  const offset = v.getUint32(0, true);
  const size = v.getUint32(4, true);
  const flags = v.getUint32(8, true);
  if (size > MAX_CONFIG_SIZE) throw new VhostUserError(VhostUserErrorCode.BAD_CONFIG_ACCESS, `config size ${size} > ${MAX_CONFIG_SIZE}`, { size });
  if (p.length !== CONFIG_HEADER + size) {
    throw new VhostUserError(VhostUserErrorCode.BAD_PAYLOAD_SIZE, `config payload of ${p.length} bytes for a ${size}-byte access`, { size: p.length, access: size });
  }
  return { offset, size, flags, data: p.subarray(CONFIG_HEADER) };
}

// ---- encoders -----------------------------------------------------------------------------------------------------

/** A whole message: header then payload. */
export function encodeMessage(request: number, flags: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(HEADER_SIZE + payload.length);
  const v = view(b);
  v.setUint32(0, request, true);
  v.setUint32(4, flags >>> 0, true);
  v.setUint32(8, payload.length, true);
  b.set(payload, HEADER_SIZE);
  return b;
}

export function encodeReply(request: number, payload: Uint8Array): Uint8Array {
  return encodeMessage(request, REPLY_FLAGS, payload);
}

export function encodeU64(value: bigint): Uint8Array {
  const b = new Uint8Array(8);
  view(b).setBigUint64(0, BigInt.asUintN(64, value), true);
  return b;
}

export function encodeVringState(index: number, num: number): Uint8Array {
  const b = new Uint8Array(VRING_STATE_SIZE);
  const v = view(b);
  v.setUint32(0, index >>> 0, true);
  v.setUint32(4, num >>> 0, true);
  return b;
}

export function encodeVringAddr(a: { index: number; flags?: number; desc: bigint; used: bigint; avail: bigint; log?: bigint }): Uint8Array {
  const b = new Uint8Array(VRING_ADDR_SIZE);
  const v = view(b);
  v.setUint32(0, a.index >>> 0, true);
  v.setUint32(4, (a.flags ?? 0) >>> 0, true);
  v.setBigUint64(8, BigInt.asUintN(64, a.desc), true);
  v.setBigUint64(16, BigInt.asUintN(64, a.used), true);
  v.setBigUint64(24, BigInt.asUintN(64, a.avail), true);
  v.setBigUint64(32, BigInt.asUintN(64, a.log ?? -1n), true);
  return b;
}

export function encodeMemTable(regions: readonly { guestAddr: bigint; size: bigint; userAddr: bigint; mmapOffset: bigint }[], slots = regions.length): Uint8Array {
  const b = new Uint8Array(MEM_TABLE_HEADER + MEM_REGION_SIZE * Math.max(slots, regions.length));
  const v = view(b);
  v.setUint32(0, regions.length, true);
  regions.forEach((r, i) => {
    const o = MEM_TABLE_HEADER + i * MEM_REGION_SIZE;
    v.setBigUint64(o, BigInt.asUintN(64, r.guestAddr), true);
    v.setBigUint64(o + 8, BigInt.asUintN(64, r.size), true);
    v.setBigUint64(o + 16, BigInt.asUintN(64, r.userAddr), true);
    v.setBigUint64(o + 24, BigInt.asUintN(64, r.mmapOffset), true);
  });
  return b;
}

export function encodeConfig(offset: number, data: Uint8Array, flags = 0): Uint8Array {
  const b = new Uint8Array(CONFIG_HEADER + data.length);
  const v = view(b);
  v.setUint32(0, offset >>> 0, true);
  v.setUint32(4, data.length, true);
  v.setUint32(8, flags >>> 0, true);
  b.set(data, CONFIG_HEADER);
  return b;
}
