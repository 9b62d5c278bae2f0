/**
 * Wiring of a channel's VirtIO devices inside a partition (the trusted boot code of its core): for each device of the
 * machine config, the registry line (src/devices/index.ts) builds this side's half — the VirtioDevice in the secure world,
 * the VirtioDriver in the non-secure world — the transport end that carries it, and the guest binding `ctx.<type>`.
 *
 * Each side gets a PhysicalMemory holding the IPC window only: a descriptor the non-secure driver points at secure RAM
 * must find no memory there (no confused deputy).
 */
import { PhysicalMemory, type RegionSpec } from '../virtio/memory.js';
import type { VirtioDevice, VirtioDriver } from '../virtio/device.js';
import { deviceKind, type DeviceOptions } from '../devices/index.js';
import { RscTableDeviceTransport, RscTableDriverTransport, type VdevPlacement } from '../transport/rsc-table/index.js';
import { MmioDeviceTransport, MmioDriverTransport, type MmioPlacement } from '../transport/mmio/index.js';
import { makeDeviceBinding, type BindingEnv, type DeviceBinding } from '../guest/device-binding.js';
import type { World } from '../guest/memory-map.js';
import { HypervisorError, HypervisorErrorCode } from './errors.js';

/** One device as the machine hands it to a partition. Plain data. */
export type DeviceWiring = {
  readonly type: string;
  readonly options: DeviceOptions;
  /** The IPC window the table or mmio page, the rings and the pools live in. */
  readonly window: { readonly base: number; readonly size: number };
} & ({ readonly transport: 'rsc-table'; readonly vdev: VdevPlacement } | { readonly transport: 'mmio'; readonly mmio: MmioPlacement });

export interface WiringContext {
  readonly world: World;
  readonly regions: readonly RegionSpec[];
  /** Sends a notification for a vring (rproc-wide notify id) to the other world. */
  readonly notify: (notifyid: number) => void;
  readonly env: BindingEnv;
}

export interface WiredDevices {
  readonly bindings: readonly DeviceBinding[];
  /** This side's half of the device of type `type` (the VirtioDevice or VirtioDriver the registry built), if any. */
  half(type: string): VirtioDevice | VirtioDriver | undefined;
  /** Starts the drivers' handshakes (non-secure side, once its core runs). */
  start(): void;
}

export function buildDeviceBindings(list: readonly DeviceWiring[], c: WiringContext): WiredDevices {
  const starters: (() => void)[] = [];
  const halves = new Map<string, VirtioDevice | VirtioDriver>();
  const bindings = list.map((w) => {
    const kind = deviceKind(w.type);
    if (kind === undefined) throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `unknown device type '${w.type}'`);
    const regions = c.regions.filter((r) => r.base <= w.window.base && w.window.base + w.window.size <= r.base + r.size);
    const memory = new PhysicalMemory(regions);
    if (c.world === 'secure') {
      const device = kind.device(w.options);
      halves.set(w.type, device);
      const end =
        w.transport === 'mmio'
          ? new MmioDeviceTransport({ memory, placement: w.mmio, device, notify: c.notify })
          : new RscTableDeviceTransport({ memory, vdev: w.vdev, device, notify: c.notify });
      return makeDeviceBinding({ type: w.type, role: 'device', transport: w.transport, end, api: kind.deviceApi(device, c.env), counters: () => kind.deviceCounters(device) });
    }
    const driver = kind.driver(w.options);
    halves.set(w.type, driver);
    const end =
      w.transport === 'mmio'
        ? new MmioDriverTransport({ memory, placement: w.mmio, driver, kick: c.notify })
        : new RscTableDriverTransport({ memory, vdev: w.vdev, driver, kick: c.notify });
    starters.push(() => end.start());
    return makeDeviceBinding({ type: w.type, role: 'driver', transport: w.transport, end, api: kind.driverApi(driver, c.env), counters: () => kind.driverCounters(driver) });
  });
  return { bindings, half: (type) => halves.get(type), start: () => starters.forEach((s) => s()) };
}
