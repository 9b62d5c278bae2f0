/**
 * The remoteproc resource table (Linux include/linux/remoteproc.h, OpenAMP lib/include/openamp/remoteproc.h),
 * little-endian, entries packed:
 *
 *   header (16 B)      ver u32 = 1 | num u32 | reserved u32[2]
 *   offsets            u32[num], each the byte offset of an entry from the start of the table
 *   entry              type u32, then by type:
 *     CARVEOUT (0) / DEVMEM (1)   da u32, pa u32, len u32, flags u32, reserved u32, name[32]     56 B with type
 *     TRACE (2)                   da u32, len u32, reserved u32, name[32]                        48 B with type
 *     VDEV (3)                    id u32, notifyid u32, dfeatures u32, gfeatures u32, config_len u32,
 *                                 status u8 @24, num_of_vrings u8 @25, reserved u8[2]           28 B with type
 *                                 then num_of_vrings x fw_rsc_vdev_vring (20 B each):
 *                                   da u32, align u32, num u32, notifyid u32, pa u32 (was "reserved")
 *                                 then config_len bytes of the device's config space
 *
 * `dfeatures` are the device's (remote's) features, `gfeatures` those the driver (host) accepted; `status` is the
 * VirtIO status byte the host writes (the remote waits for DRIVER_OK, OpenAMP rpmsg_virtio_wait_remote_ready).
 * A vring's notifyid is the rproc-wide index carried by a kick for that vring.
 *
 * The table's total size is not stored; decoding takes the bytes available and checks every entry against them.
 */
import { TransportError, TransportErrorCode } from '../errors.js';

export const RSC_TABLE_VERSION = 1;
export const RSC_HEADER_SIZE = 16;
export const ResourceType = { CARVEOUT: 0, DEVMEM: 1, TRACE: 2, VDEV: 3 } as const;
export const RSC_CARVEOUT_SIZE = 56;
export const RSC_DEVMEM_SIZE = 56;
export const RSC_TRACE_SIZE = 48;
export const RSC_VDEV_SIZE = 28;
export const RSC_VRING_SIZE = 20;
/** Offset of the status byte inside a vdev entry. */
export const RSC_VDEV_STATUS_OFFSET = 24;
export const RSC_NAME_SIZE = 32;
/** FW_RSC_ADDR_ANY (u32): "allocate it for me". */
export const FW_RSC_ADDR_ANY = 0xffffffff;

/** Limits that make a table "oversized" (far beyond anything remoteproc firmware carries). */
export const RSC_MAX_ENTRIES = 256;
export const RSC_MAX_VRINGS = 16;
export const RSC_MAX_CONFIG_LEN = 4096;

export interface VringEntry {
  readonly da: number;
  readonly align: number;
  readonly num: number;
  readonly notifyid: number;
  /** Physical address (Linux names it pa; older headers "reserved"); 0 when unused. */
  readonly pa: number;
}

export interface VdevEntry {
  readonly type: 'vdev';
  readonly id: number;
  readonly notifyid: number;
  readonly dfeatures: number;
  readonly gfeatures: number;
  readonly status: number;
  readonly vrings: readonly VringEntry[];
  readonly config: Uint8Array;
}

export interface CarveoutEntry {
  readonly type: 'carveout' | 'devmem';
  readonly da: number;
  readonly pa: number;
  readonly len: number;
  readonly flags: number;
  readonly name: string;
}

export interface TraceEntry {
  readonly type: 'trace';
  readonly da: number;
  readonly len: number;
  readonly name: string;
}

export type ResourceEntry = VdevEntry | CarveoutEntry | TraceEntry;

export interface ResourceTable {
  readonly version: number;
  readonly entries: readonly ResourceEntry[];
}

/** A decoded entry with where it was found. */
export type LocatedEntry = ResourceEntry & { readonly offset: number; readonly size: number };

export interface DecodedResourceTable {
  readonly version: number;
  readonly entries: readonly LocatedEntry[];
  /** Bytes from the table start to the end of its last entry. */
  readonly size: number;
}

export function entrySize(e: ResourceEntry): number {
  switch (e.type) {
    case 'carveout':
    case 'devmem':
      return RSC_CARVEOUT_SIZE;
    case 'trace':
      return RSC_TRACE_SIZE;
    case 'vdev':
      return RSC_VDEV_SIZE + RSC_VRING_SIZE * e.vrings.length + e.config.length;
  }
}

/** Entry offsets the encoder uses: packed after the offset array, each 4-aligned (a vdev config may be any length). */
export function resourceTableOffsets(t: ResourceTable): { offsets: number[]; size: number } {
  let off = RSC_HEADER_SIZE + 4 * t.entries.length;
  const offsets: number[] = [];
  for (const e of t.entries) {
    offsets.push(off);
    off = (off + entrySize(e) + 3) & ~3;
  }
  return { offsets, size: off };
}

const utf8 = new TextEncoder();

function u32(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new TransportError(TransportErrorCode.BAD_ARGUMENT, `${what} ${v} is not a u32`);
  return v;
}

function writeName(out: Uint8Array, at: number, name: string): void {
  const b = utf8.encode(name);
  if (b.length > RSC_NAME_SIZE - 1 || b.includes(0)) throw new TransportError(TransportErrorCode.BAD_NAME, `resource name '${name}' must be at most 31 bytes without NUL`);
  out.set(b, at);
}

/** Encodes a table into a new array (zero padding between entries). */
export function encodeResourceTable(t: ResourceTable): Uint8Array {
  if (t.entries.length > RSC_MAX_ENTRIES) throw new TransportError(TransportErrorCode.OVERSIZED, `${t.entries.length} entries (at most ${RSC_MAX_ENTRIES})`);
  const { offsets, size } = resourceTableOffsets(t);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, u32('version', t.version), true);
  v.setUint32(4, t.entries.length, true);
  t.entries.forEach((e, i) => {
    const o = offsets[i]!;
    v.setUint32(RSC_HEADER_SIZE + 4 * i, o, true);
    switch (e.type) {
      case 'carveout':
      case 'devmem':
        v.setUint32(o, e.type === 'carveout' ? ResourceType.CARVEOUT : ResourceType.DEVMEM, true);
        v.setUint32(o + 4, u32('da', e.da), true);
        v.setUint32(o + 8, u32('pa', e.pa), true);
        v.setUint32(o + 12, u32('len', e.len), true);
        v.setUint32(o + 16, u32('flags', e.flags), true);
        writeName(out, o + 24, e.name);
        break;
      case 'trace':
        v.setUint32(o, ResourceType.TRACE, true);
        v.setUint32(o + 4, u32('da', e.da), true);
        v.setUint32(o + 8, u32('len', e.len), true);
        writeName(out, o + 16, e.name);
        break;
      case 'vdev': {
        if (e.vrings.length > RSC_MAX_VRINGS) throw new TransportError(TransportErrorCode.OVERSIZED, `${e.vrings.length} vrings (at most ${RSC_MAX_VRINGS})`);
        if (e.config.length > RSC_MAX_CONFIG_LEN) throw new TransportError(TransportErrorCode.OVERSIZED, `config of ${e.config.length} bytes (at most ${RSC_MAX_CONFIG_LEN})`);
        v.setUint32(o, ResourceType.VDEV, true);
        v.setUint32(o + 4, u32('id', e.id), true);
        v.setUint32(o + 8, u32('notifyid', e.notifyid), true);
        v.setUint32(o + 12, u32('dfeatures', e.dfeatures), true);
        v.setUint32(o + 16, u32('gfeatures', e.gfeatures), true);
        v.setUint32(o + 20, e.config.length, true);
        v.setUint8(o + 24, e.status & 0xff);
        v.setUint8(o + 25, e.vrings.length);
        e.vrings.forEach((r, k) => {
          const ro = o + RSC_VDEV_SIZE + RSC_VRING_SIZE * k;
          v.setUint32(ro, u32('vring da', r.da), true);
          v.setUint32(ro + 4, u32('vring align', r.align), true);
          v.setUint32(ro + 8, u32('vring num', r.num), true);
          v.setUint32(ro + 12, u32('vring notifyid', r.notifyid), true);
          v.setUint32(ro + 16, u32('vring pa', r.pa), true);
        });
        out.set(e.config, o + RSC_VDEV_SIZE + RSC_VRING_SIZE * e.vrings.length);
        break;
      }
    }
  });
  return out;
}

function fail(code: TransportErrorCode, msg: string, details: Record<string, unknown> = {}): never {
  throw new TransportError(code, msg, details);
}

const utf8Dec = new TextDecoder('utf-8', { fatal: true });

function readName(bytes: Uint8Array, at: number, where: string): string {
  const field = bytes.subarray(at, at + RSC_NAME_SIZE);
  const nul = field.indexOf(0);
  if (nul < 0) fail(TransportErrorCode.BAD_NAME, `${where}: name is not NUL-terminated within 32 bytes`);
  try {
    return utf8Dec.decode(field.subarray(0, nul));
  } catch {
    return fail(TransportErrorCode.BAD_NAME, `${where}: name is not valid UTF-8`);
  }
}

/**
 * Decodes a table from `bytes` (which may extend beyond the table). Rejects: fewer bytes than the header or the offset
 * array (TRUNCATED); a version other than 1 (BAD_VERSION); more than RSC_MAX_ENTRIES entries, vrings or config bytes
 * (OVERSIZED); an entry offset inside the header/offset array, misaligned, past the end, overlapping another entry,
 * or an unknown type (INCONSISTENT / TRUNCATED). The result holds copies, never views of `bytes`.
 */
export function decodeResourceTable(bytes: Uint8Array): DecodedResourceTable {
  if (bytes.length < RSC_HEADER_SIZE) fail(TransportErrorCode.TRUNCATED, `a resource table needs a 16-byte header, ${bytes.length} bytes given`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = v.getUint32(0, true);
  if (version !== RSC_TABLE_VERSION) fail(TransportErrorCode.BAD_VERSION, `resource table version ${version} (only 1 is defined)`, { version });
  const num = v.getUint32(4, true);
  if (num > RSC_MAX_ENTRIES) fail(TransportErrorCode.OVERSIZED, `resource table claims ${num} entries (at most ${RSC_MAX_ENTRIES})`, { num });
  const arrayEnd = RSC_HEADER_SIZE + 4 * num;
  if (arrayEnd > bytes.length) fail(TransportErrorCode.TRUNCATED, `offset array of ${num} entries ends at ${arrayEnd}, beyond the ${bytes.length} bytes given`, { num });
  const entries: LocatedEntry[] = [];
  let size = arrayEnd;
  for (let i = 0; i < num; i++) {
    const o = v.getUint32(RSC_HEADER_SIZE + 4 * i, true);
    const where = `entry ${i} at offset ${o}`;
    if (o < arrayEnd) fail(TransportErrorCode.INCONSISTENT, `${where} lies inside the table header or offset array`, { index: i, offset: o });
    if (o % 4 !== 0) fail(TransportErrorCode.INCONSISTENT, `${where} is not 4-aligned`, { index: i, offset: o });
    if (o + 4 > bytes.length) fail(TransportErrorCode.TRUNCATED, `${where} is past the end of the table`, { index: i, offset: o });
    const type = v.getUint32(o, true);
    const need = (n: number): void => {
      if (o + n > bytes.length) fail(TransportErrorCode.TRUNCATED, `${where}: ${n}-byte entry extends past the end of the table`, { index: i, offset: o });
    };
    let e: LocatedEntry;
    switch (type) {
      case ResourceType.CARVEOUT:
      case ResourceType.DEVMEM:
        need(RSC_CARVEOUT_SIZE);
        e = {
          type: type === ResourceType.CARVEOUT ? 'carveout' : 'devmem',
          da: v.getUint32(o + 4, true),
          pa: v.getUint32(o + 8, true),
          len: v.getUint32(o + 12, true),
          flags: v.getUint32(o + 16, true),
          name: readName(bytes, o + 24, where),
          offset: o,
          size: RSC_CARVEOUT_SIZE,
        };
        break;
      case ResourceType.TRACE:
        need(RSC_TRACE_SIZE);
        e = { type: 'trace', da: v.getUint32(o + 4, true), len: v.getUint32(o + 8, true), name: readName(bytes, o + 16, where), offset: o, size: RSC_TRACE_SIZE };
        break;
      case ResourceType.VDEV: {
        need(RSC_VDEV_SIZE);
        const configLen = v.getUint32(o + 20, true);
        const nv = v.getUint8(o + 25);
        if (nv > RSC_MAX_VRINGS) fail(TransportErrorCode.OVERSIZED, `${where}: ${nv} vrings (at most ${RSC_MAX_VRINGS})`, { index: i, vrings: nv });
        if (configLen > RSC_MAX_CONFIG_LEN) fail(TransportErrorCode.OVERSIZED, `${where}: config_len ${configLen} (at most ${RSC_MAX_CONFIG_LEN})`, { index: i, configLen });
        const total = RSC_VDEV_SIZE + RSC_VRING_SIZE * nv + configLen;
        need(total);
        const vrings: VringEntry[] = [];
        for (let k = 0; k < nv; k++) {
          const ro = o + RSC_VDEV_SIZE + RSC_VRING_SIZE * k;
          vrings.push({ da: v.getUint32(ro, true), align: v.getUint32(ro + 4, true), num: v.getUint32(ro + 8, true), notifyid: v.getUint32(ro + 12, true), pa: v.getUint32(ro + 16, true) });
        }
        const cfgAt = o + RSC_VDEV_SIZE + RSC_VRING_SIZE * nv;
        e = {
          type: 'vdev',
          id: v.getUint32(o + 4, true),
          notifyid: v.getUint32(o + 8, true),
          dfeatures: v.getUint32(o + 12, true),
          gfeatures: v.getUint32(o + 16, true),
          status: v.getUint8(o + 24),
          vrings,
          config: bytes.slice(cfgAt, cfgAt + configLen),
          offset: o,
          size: total,
        };
        break;
      }
      default:
        fail(TransportErrorCode.INCONSISTENT, `${where}: unknown resource type ${type}`, { index: i, offset: o, type });
    }
    for (const p of entries) {
      if (o < p.offset + p.size && p.offset < o + e.size) fail(TransportErrorCode.INCONSISTENT, `${where} overlaps the entry at offset ${p.offset}`, { index: i, offset: o });
    }
    entries.push(e);
    size = Math.max(size, o + e.size);
  }
  return { version, entries, size };
}

/** The first vdev entry of `t` with the given virtio id, or undefined. */
export function findVdev(t: DecodedResourceTable, id: number): (VdevEntry & { offset: number; size: number }) | undefined {
  for (const e of t.entries) if (e.type === 'vdev' && e.id === id) return e;
  return undefined;
}
