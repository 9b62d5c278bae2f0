/**
 * Plans one shared region holding a remoteproc resource table with SEVERAL vdevs, one per device, each with its own
 * vrings, config space and buffer pool (a carveout named "vdev<i>buffer", as Linux names the first one):
 *
 *   base ──► +──────────────────────────+
 *            │ resource table           │  vdev0, carveout vdev0buffer, vdev1, carveout vdev1buffer, …
 *            ├─ align ──────────────────┤
 *            │ vdev0 vring 0, 1, …      │  legacy split layout (vring_init) each, `align`-aligned
 *            ├─ min(align, 64) ─────────┤
 *            │ vdev0 buffer pool        │  the driver's buffers for vdev0
 *            ├─ align ──────────────────┤
 *            │ vdev1 vrings, pool …     │
 *            +──────────────────────────+
 *
 * With a single device this is exactly the RPMsg region of src/rpmsg/layout.ts (same addresses, same table bytes), so
 * a machine with only RPMsg is unchanged on the wire.
 *
 * Notify ids: vdev i carries notifyid i; its vrings take the next free ids in order (vdev0's vrings 0, 1; vdev1's 2,
 * 3, 4; …), rproc-wide, which is what a kick carries.
 *
 * Features: fw_rsc_vdev holds 32-bit dfeatures/gfeatures, so the table carries feature bits 0..31 only (split rings,
 * no RING_PACKED), as remoteproc does. VERSION_1 (bit 32) is the transport's own and always in force: every device
 * on the table is a VIRTIO 1.x device (little-endian, §6.1); both transport ends add it to what their side sees.
 */
import { splitLegacyLayout } from '../../virtio/split/layout.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { encodeResourceTable, resourceTableOffsets, RSC_VDEV_SIZE, RSC_VDEV_STATUS_OFFSET, RSC_VRING_SIZE, RSC_MAX_VRINGS, RSC_MAX_CONFIG_LEN, type ResourceEntry, type ResourceTable } from './codec.js';

/** What the planner needs to know of one device (taken from its VirtioDevice and VirtioDriver). */
export interface VdevSpec {
  readonly deviceType: number;
  /** Offered features; only bits 0..31 are carried (the rest are dropped). */
  readonly features: bigint;
  /** Size of each vring (powers of two). */
  readonly queueSizes: readonly number[];
  readonly configSize: number;
  /** Bytes of the driver's buffer pool (0 for none). */
  readonly poolBytes: number;
  /** Initial config space bytes (default zeros). */
  readonly config?: Uint8Array;
}

export interface VringPlacement {
  readonly da: number;
  readonly align: number;
  readonly num: number;
  readonly notifyid: number;
  /** vring_size(num, align). */
  readonly bytes: number;
}

/** Where one vdev lives. Plain data: it is posted to the partitions as is. */
export interface VdevPlacement {
  /** Position of the device in the plan (0-based). */
  readonly index: number;
  readonly deviceType: number;
  readonly notifyid: number;
  /** Address of the fw_rsc_vdev entry, of its status byte and of its config space. */
  readonly entry: number;
  readonly statusAddr: number;
  readonly configAddr: number;
  readonly configSize: number;
  /** The offered features (u32). */
  readonly dfeatures: number;
  readonly vrings: readonly VringPlacement[];
  readonly pool: { readonly base: number; readonly size: number };
}

export interface RscTablePlan {
  readonly base: number;
  /** Bytes from base to the end of the last pool. */
  readonly size: number;
  readonly rscTable: number;
  readonly rscTableSize: number;
  readonly vdevs: readonly VdevPlacement[];
}

export interface RscPlanOptions {
  readonly base: number;
  /** Vring alignment (power of two). Default 4096. */
  readonly align?: number;
  /** Region size limit; default: what the plan needs. */
  readonly size?: number;
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

function bad(msg: string, details: Record<string, unknown> = {}): never {
  throw new TransportError(TransportErrorCode.BAD_LAYOUT, msg, details);
}

export function poolCarveoutName(index: number): string {
  return `vdev${index}buffer`;
}

/** The table a plan describes: status 0, gfeatures 0 (the driver fills them in), the devices' initial config. */
export function planTable(plan: RscTablePlan, specs?: readonly VdevSpec[]): ResourceTable {
  const entries: ResourceEntry[] = [];
  for (const v of plan.vdevs) {
    entries.push({
      type: 'vdev',
      id: v.deviceType,
      notifyid: v.notifyid,
      dfeatures: v.dfeatures,
      gfeatures: 0,
      status: 0,
      vrings: v.vrings.map((r) => ({ da: r.da, align: r.align, num: r.num, notifyid: r.notifyid, pa: 0 })),
      config: specs?.[v.index]?.config?.slice(0, v.configSize) ?? new Uint8Array(v.configSize),
    });
    entries.push({ type: 'carveout', da: v.pool.base, pa: v.pool.base, len: v.pool.size, flags: 0, name: poolCarveoutName(v.index) });
  }
  return { version: 1, entries };
}

/** Plans the region (pure: touches no memory). */
export function planRscTable(specs: readonly VdevSpec[], o: RscPlanOptions): RscTablePlan {
  const base = o.base;
  const align = o.align ?? 4096;
  if (!Number.isSafeInteger(base) || base < 0 || base % 8 !== 0) bad(`region base ${base} must be an 8-aligned address`);
  if (!Number.isInteger(align) || align < 16 || (align & (align - 1)) !== 0) bad(`align ${align} must be a power of two >= 16`);
  if (specs.length === 0 || specs.length > 32) bad(`${specs.length} devices (1..32)`);
  // measure the table's shape first: entry sizes depend only on vring counts and config sizes
  const shape: ResourceEntry[] = [];
  specs.forEach((s, i) => {
    if (s.queueSizes.length === 0 || s.queueSizes.length > RSC_MAX_VRINGS) bad(`device ${i}: ${s.queueSizes.length} vrings (1..${RSC_MAX_VRINGS})`);
    if (!Number.isInteger(s.configSize) || s.configSize < 0 || s.configSize > RSC_MAX_CONFIG_LEN) bad(`device ${i}: config of ${s.configSize} bytes`);
    if (!Number.isInteger(s.poolBytes) || s.poolBytes < 0) bad(`device ${i}: pool of ${s.poolBytes} bytes`);
    shape.push({ type: 'vdev', id: 0, notifyid: 0, dfeatures: 0, gfeatures: 0, status: 0, vrings: s.queueSizes.map(() => ({ da: 0, align: 0, num: 0, notifyid: 0, pa: 0 })), config: new Uint8Array(s.configSize) });
    shape.push({ type: 'carveout', da: 0, pa: 0, len: 0, flags: 0, name: poolCarveoutName(i) });
  });
  const { offsets, size: tableSize } = resourceTableOffsets({ version: 1, entries: shape });
  let at = base + tableSize;
  let nextNotify = 0;
  const vdevs: VdevPlacement[] = specs.map((s, i) => {
    const entry = base + offsets[2 * i]!;
    const vrings = s.queueSizes.map((num) => {
      const da = alignUp(at, align);
      const l = splitLegacyLayout(da, num, align);
      at = da + l.totalBytes;
      return { da, align, num, notifyid: nextNotify++, bytes: l.totalBytes };
    });
    const poolBase = alignUp(at, Math.min(align, 64));
    at = poolBase + s.poolBytes;
    return {
      index: i,
      deviceType: s.deviceType,
      notifyid: i,
      entry,
      statusAddr: entry + RSC_VDEV_STATUS_OFFSET,
      configAddr: entry + RSC_VDEV_SIZE + RSC_VRING_SIZE * s.queueSizes.length,
      configSize: s.configSize,
      dfeatures: Number(s.features & 0xffff_ffffn) >>> 0,
      vrings,
      pool: { base: poolBase, size: s.poolBytes },
    };
  });
  if (nextNotify > 31) bad(`${nextNotify} vrings in all; notifications carry at most 31`);
  const need = at - base;
  if (o.size !== undefined && need > o.size) bad(`the plan needs ${need} bytes, the region has ${o.size}`, { need, size: o.size });
  return { base, size: o.size ?? need, rscTable: base, rscTableSize: tableSize, vdevs };
}

/** The table's bytes for a plan. */
export function encodePlan(plan: RscTablePlan, specs?: readonly VdevSpec[]): Uint8Array {
  return encodeResourceTable(planTable(plan, specs));
}
