/**
 * The shared region of one RPMsg vdev and the resource table that describes it.
 *
 *   base ──► +────────────────────+
 *            │ resource table     │  vdev entry (2 vrings, status byte) + carveout "vdev0buffer" (+ optional trace)
 *            ├─ align ────────────┤
 *            │ vring0 (host RX)   │  legacy split layout (vring_init) of `num` entries, `align`-aligned used ring
 *            ├─ align ────────────┤
 *            │ vring1 (host TX)   │
 *            ├─ align ────────────┤
 *            │ RX buffers         │  num x bufferSize: the host pre-posts them on vring0
 *            │ TX buffers         │  num x bufferSize: the host fills them and posts them on vring1
 *            +────────────────────+  (Linux: rbufs = first half of one pool, sbufs = second half)
 *
 * The buffer pool is not part of the remoteproc vdev entry (Linux takes it from the vdev's DMA pool, OpenAMP from
 * its configuration), so the table carries it as a carveout named "vdev0buffer", which is how a host adopting a
 * table finds it.
 */
import type { PhysicalMemory } from '../virtio/memory.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import { bit } from '../virtio/features.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_BUFFERS_PER_DIRECTION,
  DEFAULT_VRING_ALIGN,
  RPMSG_HEADER_SIZE,
  VIRTIO_ID_RPMSG,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RPMSG_F_NS,
} from './constants.js';
import {
  decodeResourceTable,
  encodeResourceTable,
  findVdev,
  resourceTableOffsets,
  RSC_VDEV_STATUS_OFFSET,
  type CarveoutEntry,
  type DecodedResourceTable,
  type ResourceEntry,
  type ResourceTable,
} from './resource-table.js';

/** Name of the carveout that locates the buffer pool. */
export const BUFFER_CARVEOUT_NAME = 'vdev0buffer';

export interface VringPlan {
  /** Address of the descriptor table (= the vring's da). */
  readonly da: number;
  readonly align: number;
  readonly num: number;
  readonly notifyid: number;
  /** vring_size(num, align). */
  readonly bytes: number;
}

/** Where everything of one RPMsg vdev lives. Plain data: post it to another worker as is. */
export interface RpmsgLayout {
  /** First byte of the region and its size (everything below lies inside). */
  readonly base: number;
  readonly size: number;
  /** Address of the resource table and its encoded size. */
  readonly rscTable: number;
  readonly rscTableSize: number;
  /** Address of the vdev entry inside the table, and of its status byte. */
  readonly vdev: number;
  readonly statusAddr: number;
  readonly vring0: VringPlan;
  readonly vring1: VringPlan;
  /**
   * The buffer pool: `count` buffers of `size` bytes from `base`; buffers [0, count/2) are the host's RX buffers
   * (vring0), [count/2, count) its TX buffers (vring1).
   */
  readonly buffers: { readonly base: number; readonly size: number; readonly count: number };
  /** Device features offered in the vdev entry (u32 bit map: VIRTIO_RPMSG_F_NS = bit 0, EVENT_IDX = bit 29). */
  readonly features: number;
}

export interface PlanOptions {
  /** Region base address (8-aligned). */
  readonly base: number;
  /** Region size; default: exactly what the layout needs. A given size must be large enough (BAD_LAYOUT). */
  readonly size?: number;
  /**
   * Total number of buffers, Linux's num_bufs: half per direction, and each vring has numBuffers/2 entries (a power
   * of two). Default 512 (256 per direction).
   */
  readonly numBuffers?: number;
  /** Bytes per buffer, header included (payload = bufferSize - 16). Multiple of 8, at least 32. Default 512. */
  readonly bufferSize?: number;
  /** Vring alignment (power of two). Default 4096 (remoteproc). */
  readonly align?: number;
  /** Device features to offer, as u32 bits. Default: VIRTIO_RPMSG_F_NS | EVENT_IDX. */
  readonly features?: number;
  /** Optional trace buffer entry. */
  readonly trace?: { readonly da: number; readonly len: number; readonly name?: string };
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

export const DEFAULT_FEATURES = Number(bit(VIRTIO_RPMSG_F_NS) | bit(VIRTIO_RING_F_EVENT_IDX));

function layoutError(msg: string, details: Record<string, unknown> = {}): never {
  throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, msg, details);
}

/** The resource table a plan describes (status 0, gfeatures 0: the host fills them in). */
export function planResourceTable(p: RpmsgLayout, trace?: PlanOptions['trace']): ResourceTable {
  const entries: ResourceEntry[] = [
    {
      type: 'vdev',
      id: VIRTIO_ID_RPMSG,
      notifyid: 0,
      dfeatures: p.features >>> 0,
      gfeatures: 0,
      status: 0,
      vrings: [p.vring0, p.vring1].map((r) => ({ da: r.da, align: r.align, num: r.num, notifyid: r.notifyid, pa: 0 })),
      config: new Uint8Array(0),
    },
    { type: 'carveout', da: p.buffers.base, pa: p.buffers.base, len: p.buffers.size * p.buffers.count, flags: 0, name: BUFFER_CARVEOUT_NAME },
  ];
  if (trace) entries.push({ type: 'trace', da: trace.da, len: trace.len, name: trace.name ?? 'trace0' });
  return { version: 1, entries };
}

/** Builds the default layout of the shared region (pure: touches no memory). */
export function planRpmsgRegion(o: PlanOptions): RpmsgLayout & { readonly trace?: PlanOptions['trace'] } {
  const base = o.base;
  const numBuffers = o.numBuffers ?? 2 * DEFAULT_BUFFERS_PER_DIRECTION;
  const bufferSize = o.bufferSize ?? DEFAULT_BUFFER_SIZE;
  const align = o.align ?? DEFAULT_VRING_ALIGN;
  const features = (o.features ?? DEFAULT_FEATURES) >>> 0;
  if (!Number.isSafeInteger(base) || base < 0 || base % 8 !== 0) layoutError(`region base ${base} must be an 8-aligned address`);
  if (!Number.isInteger(numBuffers) || numBuffers < 2 || numBuffers % 2 !== 0) layoutError(`numBuffers ${numBuffers} must be even and >= 2`);
  const num = numBuffers / 2;
  if (num > 32768 || (num & (num - 1)) !== 0) layoutError(`numBuffers/2 = ${num} must be a power of two <= 32768 (it is the vring size)`);
  if (!Number.isInteger(bufferSize) || bufferSize < RPMSG_HEADER_SIZE + 16 || bufferSize % 8 !== 0 || bufferSize > RPMSG_HEADER_SIZE + 0xffff) {
    layoutError(`bufferSize ${bufferSize} must be a multiple of 8 in 32..${RPMSG_HEADER_SIZE + 0xffff}`);
  }
  if (!Number.isInteger(align) || align < 16 || (align & (align - 1)) !== 0) layoutError(`align ${align} must be a power of two >= 16`);
  const tableShape = resourceTableOffsets(planResourceTable(dummy(), o.trace));
  const tableSize = tableShape.size;
  const vdevAddr = base + tableShape.offsets[0]!;
  const r0 = alignUp(base + tableSize, align);
  const l0 = splitLegacyLayout(r0, num, align);
  const r1 = alignUp(r0 + l0.totalBytes, align);
  const l1 = splitLegacyLayout(r1, num, align);
  const bufs = alignUp(r1 + l1.totalBytes, Math.min(align, 64));
  const end = bufs + numBuffers * bufferSize;
  const size = o.size ?? end - base;
  if (end - base > size) layoutError(`the layout needs ${end - base} bytes, region has ${size}`, { need: end - base, size });
  return {
    base,
    size,
    rscTable: base,
    rscTableSize: tableSize,
    vdev: vdevAddr,
    statusAddr: vdevAddr + RSC_VDEV_STATUS_OFFSET,
    vring0: { da: r0, align, num, notifyid: 0, bytes: l0.totalBytes },
    vring1: { da: r1, align, num, notifyid: 1, bytes: l1.totalBytes },
    buffers: { base: bufs, size: bufferSize, count: numBuffers },
    features,
    ...(o.trace ? { trace: o.trace } : {}),
  };
}

/** A placeholder layout, only to measure the table's shape (entry sizes do not depend on addresses). */
function dummy(): RpmsgLayout {
  const v: VringPlan = { da: 0, align: 16, num: 1, notifyid: 0, bytes: 0 };
  return { base: 0, size: 0, rscTable: 0, rscTableSize: 0, vdev: 0, statusAddr: 0, vring0: v, vring1: v, buffers: { base: 0, size: 0, count: 0 }, features: 0 };
}

/** Writes the plan's resource table at plan.rscTable and zeroes both vrings (the host zeroes them again at start). */
export function writeResourceTable(memory: PhysicalMemory, plan: RpmsgLayout & { readonly trace?: PlanOptions['trace'] }): void {
  const bytes = encodeResourceTable(planResourceTable(plan, plan.trace));
  memory.write(plan.rscTable, bytes);
  memory.fill(plan.vring0.da, plan.vring0.bytes);
  memory.fill(plan.vring1.da, plan.vring1.bytes);
}

/** Most bytes read when decoding a table from memory. */
export const MAX_TABLE_BYTES = 64 * 1024;

/** Copies the table out of memory (never decode shared memory in place: the peer may change it meanwhile). */
export function readResourceTable(memory: PhysicalMemory, addr: number): DecodedResourceTable {
  const region = memory.findRegion(addr, 1);
  if (region === undefined) layoutError(`resource table address 0x${addr.toString(16)} is outside memory`, { addr });
  const n = Math.min(MAX_TABLE_BYTES, region.end - addr);
  return decodeResourceTable(memory.bytes(addr, n).slice());
}

function checkVring(memory: PhysicalMemory, which: string, r: { da: number; align: number; num: number }): number {
  if (r.num < 1 || r.num > 32768 || (r.num & (r.num - 1)) !== 0) layoutError(`${which}: num ${r.num} must be a power of two <= 32768`);
  if (r.align < 4 || (r.align & (r.align - 1)) !== 0) layoutError(`${which}: align ${r.align} must be a power of two >= 4`);
  if (r.da === 0xffffffff) layoutError(`${which}: da is FW_RSC_ADDR_ANY; dynamic vring allocation is not supported`);
  if (r.da % 16 !== 0) layoutError(`${which}: da 0x${r.da.toString(16)} must be 16-aligned`);
  const bytes = splitLegacyLayout(r.da, r.num, r.align).totalBytes;
  if (!memory.contains(r.da, bytes)) layoutError(`${which}: ${bytes} bytes at 0x${r.da.toString(16)} are outside memory`);
  return bytes;
}

/**
 * The layout a resource table in memory describes (used by a host adopting a table, by the remote, and by tools).
 * Checks: an RPMsg vdev with at least two vrings of equal size, each inside memory, not overlapping each other or the
 * table. The buffer pool comes from `buffers` when given, else from the "vdev0buffer" carveout, else it is unknown
 * (count 0: a remote does not need it).
 */
export function layoutFromResourceTable(
  memory: PhysicalMemory,
  rscTable: number,
  buffers?: { readonly base: number; readonly size: number; readonly count: number },
): RpmsgLayout {
  const t = readResourceTable(memory, rscTable);
  const vdev = findVdev(t, VIRTIO_ID_RPMSG);
  if (vdev === undefined) throw new RpmsgError(RpmsgErrorCode.NO_VDEV, `no RPMsg vdev (id ${VIRTIO_ID_RPMSG}) in the resource table at 0x${rscTable.toString(16)}`);
  if (vdev.vrings.length < 2) layoutError(`the RPMsg vdev has ${vdev.vrings.length} vrings, 2 needed`);
  const [v0, v1] = vdev.vrings as [typeof vdev.vrings[0], typeof vdev.vrings[0]];
  const b0 = checkVring(memory, 'vring0', v0);
  const b1 = checkVring(memory, 'vring1', v1);
  if (v0.num !== v1.num) layoutError(`vrings of different sizes (${v0.num}, ${v1.num})`);
  const spans: [string, number, number][] = [
    ['resource table', rscTable, t.size],
    ['vring0', v0.da, b0],
    ['vring1', v1.da, b1],
  ];
  let pool = buffers;
  if (pool === undefined) {
    const c = t.entries.find((e): e is CarveoutEntry & { offset: number; size: number } => e.type === 'carveout' && e.name === BUFFER_CARVEOUT_NAME);
    if (c !== undefined) {
      const count = 2 * v0.num;
      const size = Math.floor(c.len / count / 8) * 8;
      pool = { base: c.da, size, count };
    }
  }
  if (pool !== undefined && pool.count > 0) {
    if (pool.size < RPMSG_HEADER_SIZE + 16 || pool.count % 2 !== 0) layoutError(`buffer pool of ${pool.count} x ${pool.size} bytes is unusable`);
    if (!memory.contains(pool.base, pool.size * pool.count)) layoutError(`buffer pool at 0x${pool.base.toString(16)} is outside memory`);
    spans.push(['buffer pool', pool.base, pool.size * pool.count]);
  }
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const [na, a, la] = spans[i]!;
      const [nb, b, lb] = spans[j]!;
      if (a < b + lb && b < a + la) layoutError(`${na} and ${nb} overlap`);
    }
  }
  const lo = Math.min(...spans.map((s) => s[1]));
  const hi = Math.max(...spans.map((s) => s[1] + s[2]));
  return {
    base: lo,
    size: hi - lo,
    rscTable,
    rscTableSize: t.size,
    vdev: rscTable + vdev.offset,
    statusAddr: rscTable + vdev.offset + RSC_VDEV_STATUS_OFFSET,
    vring0: { da: v0.da, align: v0.align, num: v0.num, notifyid: v0.notifyid, bytes: b0 },
    vring1: { da: v1.da, align: v1.align, num: v1.num, notifyid: v1.notifyid, bytes: b1 },
    buffers: pool ?? { base: 0, size: 0, count: 0 },
    features: vdev.dfeatures,
  };
}
