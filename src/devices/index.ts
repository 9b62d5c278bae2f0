/**
 * The device registry: one line per VirtIO device type a machine can put on a channel (`"devices": [{"type": …}]`).
 * A line says how to build the secure side (the VirtioDevice), the non-secure side (the VirtioDriver), and the API each
 * partition sees under `ctx.<type>`. Transports (src/transport/) carry any of them; nothing else changes when a type
 * is added: a new device type is its own folder plus one line here.
 *
 * RPMsg is a line like the others (RpmsgDevice / RpmsgDriver, src/rpmsg/device.ts, driver.ts), so any transport can
 * carry it; on the resource table of the default machine its roles still attach through the RPMsg layout (planned
 * first in the table, on the wire as before), and the guest sees it as ctx.rpmsg through its own binding.
 */
import type { BindingEnv, VirtioDevice, VirtioDriver } from '../virtio/device.js';
import { EntropyDevice } from '../entropy/device.js';
import { EntropyDriver } from '../entropy/driver.js';
import { entropyDeviceApi, entropyDriverApi } from '../entropy/api.js';
import { ConsoleDevice, ConsoleDriver, type ConsoleStats } from '../console/index.js';
import { consoleDeviceApi, consoleDriverApi } from '../console/api.js';
import { VsockDevice, VsockDriver, type VsockStats } from '../vsock/index.js';
import { vsockApi } from '../vsock/api.js';
import { RpmsgDevice } from '../rpmsg/device.js';
import { RpmsgDriver } from '../rpmsg/driver.js';
import type { RpmsgStats } from '../rpmsg/core.js';

/** Per-device options from the machine config (the object minus `type`). Plain data: it is posted to workers. */
export type DeviceOptions = Readonly<Record<string, unknown>>;

/** Counters a device line reports for the run report: messages one way and the other, bytes, notifications sent. */
export interface DeviceCounters {
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly corrupted: number;
  readonly bytes: number;
  readonly notifications: number;
}

export interface DeviceKind<D extends VirtioDevice = VirtioDevice, R extends VirtioDriver = VirtioDriver> {
  /** VIRTIO device id (§5). */
  readonly id: number;
  /** Secure side. Must be cheap: the machine also builds one to read the device's shape (queues, config, features). */
  device(o: DeviceOptions): D;
  /** Non-secure side. */
  driver(o: DeviceOptions): R;
  /** `ctx.<type>` in the secure partition. */
  deviceApi(d: D, env: BindingEnv): unknown;
  /** `ctx.<type>` in the non-secure partition. */
  driverApi(r: R, env: BindingEnv): unknown;
  deviceCounters(d: D): DeviceCounters;
  driverCounters(r: R): DeviceCounters;
}

const entropy: DeviceKind<EntropyDevice, EntropyDriver> = {
  id: 4,
  device: (o) => new EntropyDevice({ ...(typeof o['queueSize'] === 'number' ? { queueSize: o['queueSize'] } : {}) }),
  driver: (o) => new EntropyDriver({ ...(typeof o['slots'] === 'number' ? { slots: o['slots'] } : {}) }),
  deviceApi: (d) => entropyDeviceApi(d),
  driverApi: (r, env) => entropyDriverApi(r, env),
  deviceCounters: (d) => ({ sent: d.stats.requests, received: 0, lost: 0, corrupted: d.stats.refused, bytes: d.stats.bytes, notifications: d.stats.notifications }),
  driverCounters: (r) => ({ sent: 0, received: r.stats.requests, lost: 0, corrupted: 0, bytes: r.stats.bytes, notifications: r.stats.notifications }),
};

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const consoleCounters = (s: ConsoleStats): DeviceCounters => ({
  sent: s.buffersSent,
  received: s.buffersReceived,
  lost: 0,
  corrupted: Object.values(s.errors).reduce((a, b) => a + b, 0),
  bytes: s.bytesSent + s.bytesReceived,
  notifications: s.notifications,
});

/** virtio-console (§5.3), multiport: options `ports` (names of ports 1..n), `queueSize`, `bufferSize`, `buffersPerQueue`. */
const console_: DeviceKind<ConsoleDevice, ConsoleDriver> = {
  id: 3,
  device: (o) => new ConsoleDevice({ ...(strings(o['ports']) ? { ports: strings(o['ports'])! } : {}), ...(int(o['queueSize']) ? { queueSize: int(o['queueSize'])! } : {}) }),
  // sized for the 1 MiB IPC window beside RPMsg: (2 + 2 + 2 per named port) queues x 16 buffers x 512 bytes
  driver: (o) =>
    new ConsoleDriver({
      maxPorts: 1 + (strings(o['ports'])?.length ?? 0),
      queueSize: int(o['queueSize']) ?? 16,
      bufferSize: int(o['bufferSize']) ?? 512,
      buffersPerQueue: int(o['buffersPerQueue']) ?? 16,
    }),
  deviceApi: (d) => consoleDeviceApi(d),
  driverApi: (r, env) => consoleDriverApi(r, env),
  deviceCounters: (d) => consoleCounters(d.stats),
  driverCounters: (r) => consoleCounters(r.stats),
};

const vsockCounters = (s: VsockStats, bad: number): DeviceCounters => ({
  sent: s.packetsOut,
  received: s.packetsIn,
  lost: 0,
  corrupted: bad,
  bytes: s.bytesIn + s.bytesOut,
  notifications: 0,
});

/** virtio-vsock (§5.10): option `guestCid` (default 3); the secure side is the host (CID 2). */
const vsock: DeviceKind<VsockDevice, VsockDriver> = {
  id: 19,
  device: (o) => new VsockDevice({ ...(int(o['guestCid']) !== undefined ? { guestCid: int(o['guestCid'])! } : {}), queueMaxSize: int(o['queueSize']) ?? 128 }),
  // sized for the 1 MiB IPC window beside RPMsg and a console: 32 rx buffers and 16 tx slots of 4 KiB
  driver: (o) => new VsockDriver({ queueSize: int(o['queueSize']) ?? 64, rxBuffers: int(o['rxBuffers']) ?? 32, txSlots: int(o['txSlots']) ?? 16 }),
  deviceApi: (d, env) => vsockApi(d, 'device', env),
  driverApi: (r, env) => vsockApi(r, 'driver', env),
  deviceCounters: (d) => vsockCounters(d.endpoint.stats, d.stats.badBuffers + d.stats.ringErrors),
  driverCounters: (r) => vsockCounters(r.endpoint.stats, r.stats.badBuffers + r.stats.ringErrors),
};

/** RPMsg (Linux virtio_rpmsg_bus): options `queueSize`, `bufferSize`, `features` (u32); counts messages, not bytes. */
const rpmsg: DeviceKind<RpmsgDevice, RpmsgDriver> = {
  id: 7,
  device: (o) => new RpmsgDevice({ ...(int(o['queueSize']) ? { queueMaxSize: int(o['queueSize'])! } : {}), ...(int(o['features']) !== undefined ? { features: int(o['features'])! } : {}) }),
  driver: (o) =>
    new RpmsgDriver({
      ...(int(o['queueSize']) ? { queueSize: int(o['queueSize'])! } : {}),
      ...(int(o['bufferSize']) ? { bufferSize: int(o['bufferSize'])! } : {}),
      ...(int(o['features']) !== undefined ? { features: int(o['features'])! } : {}),
    }),
  deviceApi: (d) => d.role,
  driverApi: (r) => r.role,
  deviceCounters: (d) => rpmsgCounters(d.role.stats),
  driverCounters: (r) => rpmsgCounters(r.role.stats),
};
function rpmsgCounters(s: RpmsgStats): DeviceCounters {
  return { sent: s.txMessages, received: s.rxMessages, lost: 0, corrupted: s.droppedMalformed, bytes: 0, notifications: s.notifications };
}

/** type name → device line. */
export const DEVICE_KINDS: Readonly<Record<string, DeviceKind>> = {
  rpmsg: rpmsg as unknown as DeviceKind,
  rng: entropy as unknown as DeviceKind,
  console: console_ as unknown as DeviceKind,
  vsock: vsock as unknown as DeviceKind,
};

/** Every type a machine config may name. */
export const DEVICE_TYPES: readonly string[] = Object.keys(DEVICE_KINDS);

export function deviceKind(type: string): DeviceKind | undefined {
  return Object.prototype.hasOwnProperty.call(DEVICE_KINDS, type) ? DEVICE_KINDS[type] : undefined;
}
