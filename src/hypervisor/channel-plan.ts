/**
 * The channel between the two partitions: which VirtIO devices it carries and where each lives in the IPC window.
 *
 * - Only RPMsg (the default): the RPMsg region exactly as before (src/rpmsg/layout.ts), byte for byte.
 * - Several devices: one resource table with a vdev per device (src/transport/rsc-table/plan.ts), RPMsg first when
 *   present so that its vdev, rings and "vdev0buffer" pool sit where an RPMsg-only table puts them.
 * - `{"type": "rpmsg", "transport": "mmio"}` on an mmio channel: RPMsg is carried like any other device, in its own
 *   virtio-mmio window (the registry's RpmsgDevice / RpmsgDriver), first, with notify ids 0 and 1; no resource table.
 *   The non-secure side is then the RPMsg host (the driver), as the seam puts every driver.
 *
 * The hypervisor writes the table at boot, as firmware does; the partitions get plain-data placements.
 */
import { PhysicalMemory, hex } from '../virtio/memory.js';
import { planRpmsgRegion, writeResourceTable, type RpmsgLayout } from '../rpmsg/index.js';
import { encodePlan, planRscTable, type VdevPlacement, type VdevSpec } from '../transport/rsc-table/index.js';
import { MMIO_WINDOW_SIZE, type MmioPlacement } from '../transport/mmio/index.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import { DEVICE_TYPES, deviceKind, type DeviceOptions } from '../devices/index.js';
import type { World } from '../guest/memory-map.js';
import type { MachineConfig } from './machine.js';
import type { Platform } from './platform.js';
import type { DeviceWiring } from './device-wiring.js';
import { HypervisorError, HypervisorErrorCode } from './errors.js';

/** One entry of the machine config's `devices`: a registry type name plus that type's options. */
export interface DeviceConfig {
  readonly type: string;
  readonly [option: string]: unknown;
}

/** A device as planned: for reports and tools. */
export interface PlannedDevice {
  readonly type: string;
  readonly transport: ChannelTransport;
  readonly deviceId: number;
  readonly notifyIds: readonly number[];
  /** rsc-table: the vdev's status byte; mmio: the window's base. */
  readonly statusAddr: number;
}

/** How the devices other than RPMsg are carried (RPMsg uses its resource table unless it asks for mmio). */
export type ChannelTransport = 'rsc-table' | 'mmio';

export interface ChannelPlan {
  readonly rpmsg: (RpmsgLayout & { host: World }) | undefined;
  readonly wiring: readonly DeviceWiring[];
  readonly devices: readonly PlannedDevice[];
  /** Vrings in all (notify ids 0..numVqs-1). */
  readonly numVqs: number;
  /** Status bytes a device reset writes 0 to (resource-table vdevs; mmio devices are reset by their device side). */
  readonly statusAddrs: readonly number[];
}

function bad(msg: string): never {
  throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, msg);
}

/** Checks the `devices` list: known types, each at most once, RPMsg consistent with `rpmsg`. */
export function checkDevices(cfg: MachineConfig): readonly DeviceConfig[] {
  const list = cfg.devices ?? (cfg.rpmsg === false ? [] : [{ type: 'rpmsg' }]);
  if (!Array.isArray(list)) bad('devices must be an array of {"type": …} objects');
  const seen = new Set<string>();
  for (const d of list) {
    if (d === null || typeof d !== 'object' || typeof d.type !== 'string') bad('each device must be an object with a string "type"');
    if (!DEVICE_TYPES.includes(d.type)) bad(`unknown device type '${d.type}' (known: ${DEVICE_TYPES.join(', ')})`);
    if (seen.has(d.type)) bad(`device type '${d.type}' is listed twice (one device per type and channel)`);
    seen.add(d.type);
  }
  if (seen.has('rpmsg') && cfg.rpmsg === false) bad("devices lists 'rpmsg' but rpmsg is false");
  const rt = list.find((d) => d.type === 'rpmsg')?.['transport'];
  if (rt !== undefined) {
    if (rt !== 'mmio' && rt !== 'rsc-table') bad(`the rpmsg device's transport must be rsc-table or mmio, not ${String(rt)}`);
    if (rt === 'mmio' && cfg.transport !== 'mmio') bad("rpmsg over mmio needs the channel's transport to be mmio");
    if (rt === 'mmio' && cfg.rpmsg !== undefined && cfg.rpmsg !== false && cfg.rpmsg.host === 'secure') bad('rpmsg over mmio: the secure side is the device (rpmsg.host must be nonsecure)');
  }
  if (cfg.transport !== undefined && cfg.transport !== 'rsc-table' && cfg.transport !== 'mmio') bad(`transport must be rsc-table or mmio, not ${String(cfg.transport)}`);
  return list;
}

export function planChannel(cfg: MachineConfig, platform: Platform, ipcMem: PhysicalMemory): ChannelPlan {
  const list = checkDevices(cfg);
  const r = cfg.rpmsg === false ? {} : (cfg.rpmsg ?? {});
  const rpmsgOnMmio = list.some((d) => d.type === 'rpmsg' && d['transport'] === 'mmio');
  const hasRpmsg = !rpmsgOnMmio && list.some((d) => d.type === 'rpmsg');
  // RPMsg over mmio is one of the mmio devices; its buffers follow the `rpmsg` options unless the entry sets its own
  const others = rpmsgOnMmio
    ? list.map((d) =>
        d.type !== 'rpmsg'
          ? d
          : {
              ...(r.numBuffers !== undefined ? { queueSize: r.numBuffers / 2 } : {}),
              ...(r.bufferSize !== undefined ? { bufferSize: r.bufferSize } : {}),
              ...(r.features !== undefined ? { features: r.features } : {}),
              ...d,
            },
      )
    : list.filter((d) => d.type !== 'rpmsg');
  const rpmsgPlan = hasRpmsg
    ? planRpmsgRegion({
        base: platform.ipc.base,
        ...(r.numBuffers !== undefined ? { numBuffers: r.numBuffers } : {}),
        ...(r.bufferSize !== undefined ? { bufferSize: r.bufferSize } : {}),
        ...(r.features !== undefined ? { features: r.features } : {}),
      })
    : undefined;
  const host: World = r.host ?? 'nonsecure';
  const fits = (size: number, what: string) => {
    if (size > platform.ipc.size) bad(`${what} needs ${size} bytes; the ipc window at ${hex(platform.ipc.base)} has ${platform.ipc.size}`);
  };
  if (others.length === 0) {
    if (rpmsgPlan === undefined) return { rpmsg: undefined, wiring: [], devices: [], numVqs: 2, statusAddrs: [] };
    fits(rpmsgPlan.size, 'the RPMsg region');
    writeResourceTable(ipcMem, rpmsgPlan);
    return {
      rpmsg: { ...rpmsgPlan, host },
      wiring: [],
      devices: [{ type: 'rpmsg', transport: 'rsc-table', deviceId: 7, notifyIds: [0, 1], statusAddr: rpmsgPlan.statusAddr }],
      numVqs: 2,
      statusAddrs: [rpmsgPlan.statusAddr],
    };
  }
  const options = others.map((d) => {
    const { type: _t, ...o } = d;
    void _t;
    return o as DeviceOptions;
  });
  if ((cfg.transport ?? 'rsc-table') === 'mmio') return planMmio(platform, ipcMem, rpmsgPlan, host, others, options, fits);
  const specs: VdevSpec[] = [];
  if (rpmsgPlan) {
    specs.push({
      deviceType: 7,
      features: BigInt(rpmsgPlan.features),
      queueSizes: [rpmsgPlan.vring0.num, rpmsgPlan.vring1.num],
      configSize: 0,
      poolBytes: rpmsgPlan.buffers.size * rpmsgPlan.buffers.count,
    });
  }
  others.forEach((d, i) => {
    const kind = deviceKind(d.type)!;
    const dev = kind.device(options[i]!);
    const drv = kind.driver(options[i]!);
    const config = new Uint8Array(dev.configSize);
    dev.readConfig(0, config);
    specs.push({ deviceType: dev.deviceType, features: dev.deviceFeatures, queueSizes: dev.queueMaxSizes, configSize: dev.configSize, poolBytes: drv.poolBytes, config });
  });
  const plan = planRscTable(specs, { base: platform.ipc.base });
  fits(plan.size, 'the devices of the channel');
  ipcMem.write(plan.rscTable, encodePlan(plan, specs));
  for (const v of plan.vdevs) for (const ring of v.vrings) ipcMem.fill(ring.da, ring.bytes);
  const first = rpmsgPlan ? 1 : 0;
  const window = { base: platform.ipc.base, size: platform.ipc.size };
  const wiring: DeviceWiring[] = others.map((d, i) => ({ type: d.type, options: options[i]!, transport: 'rsc-table' as const, vdev: plan.vdevs[first + i]!, window }));
  let rpmsg: (RpmsgLayout & { host: World }) | undefined;
  if (rpmsgPlan) {
    const v: VdevPlacement = plan.vdevs[0]!;
    const [r0, r1] = v.vrings as [VdevPlacement['vrings'][0], VdevPlacement['vrings'][0]];
    rpmsg = {
      base: plan.base,
      size: plan.size,
      rscTable: plan.rscTable,
      rscTableSize: plan.rscTableSize,
      vdev: v.entry,
      statusAddr: v.statusAddr,
      vring0: { da: r0.da, align: r0.align, num: r0.num, notifyid: r0.notifyid, bytes: r0.bytes },
      vring1: { da: r1.da, align: r1.align, num: r1.num, notifyid: r1.notifyid, bytes: r1.bytes },
      buffers: { base: v.pool.base, size: rpmsgPlan.buffers.size, count: rpmsgPlan.buffers.count },
      features: rpmsgPlan.features,
      host,
    };
  }
  const devices: PlannedDevice[] = plan.vdevs.map((v, i) => ({
    type: rpmsgPlan && i === 0 ? 'rpmsg' : others[i - first]!.type,
    transport: 'rsc-table',
    deviceId: v.deviceType,
    notifyIds: v.vrings.map((x) => x.notifyid),
    statusAddr: v.statusAddr,
  }));
  return { rpmsg, wiring, devices, numVqs: plan.vdevs.reduce((a, v) => a + v.vrings.length, 0), statusAddrs: plan.vdevs.map((v) => v.statusAddr) };
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

/**
 * virtio-mmio: RPMsg keeps its resource-table region (exactly as with RPMsg alone); after it, each other device gets
 * a 4 KiB window page, room for the rings its driver places (QueueNumMax of each queue, legacy layout, 4 KiB aligned)
 * and its buffer pool. Notify ids continue after RPMsg's two.
 */
function planMmio(
  platform: Platform,
  ipcMem: PhysicalMemory,
  rpmsgPlan: ReturnType<typeof planRpmsgRegion> | undefined,
  host: World,
  others: readonly DeviceConfig[],
  options: readonly DeviceOptions[],
  fits: (size: number, what: string) => void,
): ChannelPlan {
  const base = platform.ipc.base;
  let at = base;
  let nextNotify = 0;
  const devices: PlannedDevice[] = [];
  const statusAddrs: number[] = [];
  if (rpmsgPlan) {
    writeResourceTable(ipcMem, rpmsgPlan);
    at = base + rpmsgPlan.size;
    nextNotify = 2;
    devices.push({ type: 'rpmsg', transport: 'rsc-table', deviceId: 7, notifyIds: [0, 1], statusAddr: rpmsgPlan.statusAddr });
    statusAddrs.push(rpmsgPlan.statusAddr);
  }
  const window = { base, size: platform.ipc.size };
  const wiring: DeviceWiring[] = others.map((d, i) => {
    const kind = deviceKind(d.type)!;
    const dev = kind.device(options[i]!);
    const drv = kind.driver(options[i]!);
    const win = alignUp(at, MMIO_WINDOW_SIZE);
    const ringsBase = win + MMIO_WINDOW_SIZE;
    const ringsSize = dev.queueMaxSizes.reduce((a, n) => a + alignUp(splitLegacyLayout(0, n, 4096).totalBytes, 4096), 0);
    const poolBase = ringsBase + ringsSize;
    at = poolBase + drv.poolBytes;
    ipcMem.fill(win, MMIO_WINDOW_SIZE);
    const notifyIds = dev.queueMaxSizes.map(() => nextNotify++);
    const mmio: MmioPlacement = {
      index: i,
      deviceType: dev.deviceType,
      base: win,
      notifyIds,
      configSize: dev.configSize,
      rings: { base: ringsBase, size: ringsSize },
      pool: { base: poolBase, size: drv.poolBytes },
    };
    devices.push({ type: d.type, transport: 'mmio', deviceId: dev.deviceType, notifyIds, statusAddr: win });
    return { type: d.type, options: options[i]!, transport: 'mmio' as const, mmio, window };
  });
  fits(at - base, 'the devices of the channel');
  if (nextNotify > 31) bad(`${nextNotify} virtqueues in all; notifications carry at most 31`);
  return { rpmsg: rpmsgPlan ? { ...rpmsgPlan, host } : undefined, wiring, devices, numVqs: Math.max(2, nextNotify), statusAddrs };
}
