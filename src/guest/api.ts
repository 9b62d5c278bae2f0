/**
 * What a guest module is written against. A partition is a module exporting
 *
 *     export default async function main(ctx: GuestContext) { ... }      // or: export async function main(ctx)
 *
 * run in its own worker thread. Everything a guest does to the platform goes through `ctx`: checked memory ports,
 * interrupt handlers, SMC calls, idle/wait-for-interrupt, timers, RPMsg endpoints, logging and counters. In the
 * single-core model every `ctx` call of the non-secure guest is a preemption point (see docs/partitions.md).
 */
import type { MemoryPort } from './memory-port.js';
import type { MemoryMapDesc, World } from './memory-map.js';
import type { RtTaskHandle, RtTaskSpec, RtTaskStats } from './rt.js';
import type { TimerId } from './timers.js';
import type { BackgroundHandle, BackgroundSpec } from './background.js';
import type { RpmsgLayout } from '../rpmsg/index.js';
import type { EntropyApi } from '../entropy/api.js';
import type { ConsoleApi } from '../console/api.js';
import type { VsockApi } from '../vsock/api.js';

export type { World } from './memory-map.js';

/** SMC function numbers of the model's secure monitor (our own numbering; LTZVisor's are board-specific). */
export const SmcCall = {
  /** Returns the monitor interface version. */
  VERSION: 0,
  /** Give the core to the other world (single core); on two cores: wait for an interrupt. */
  YIELD: 1,
  /** TZ-VirtIO notify: args [vqIndex]. Raises the peer's virtio interrupt (a world switch on one core, an SGI on two). */
  NOTIFY: 2,
  /** Returns the machine time in µs (a shared monotonic clock). */
  TIME: 3,
} as const;
export type SmcCall = (typeof SmcCall)[keyof typeof SmcCall];
export const SMC_VERSION = 0x0001_0000;

/**
 * Interrupt lines (GIC numbering: SGI 0-15, PPI 16-31, SPI 32+). Group 0 (secure) lines are delivered as FIQ to the
 * secure world, group 1 lines as IRQ to the non-secure world.
 */
export const IrqLine = {
  /** Virtio notification towards the secure world (group 0). */
  VIRTIO_TO_SECURE: 8,
  /** Virtio notification towards the non-secure world (group 1). */
  VIRTIO_TO_NONSECURE: 9,
  /** Cortex-A9 global timer PPI: the non-secure world's timer (group 1). */
  NS_TIMER: 27,
  /** Cortex-A9 private timer PPI: the secure tick (group 0). */
  SECURE_TIMER: 29,
} as const;
export const SPURIOUS_INTERRUPT = 1023;
export const NUM_IRQ_LINES = 64;

export type IrqHandler = (line: number) => void | Promise<void>;

export interface IrqApi {
  /** Installs a handler and enables the line (only lines of this world's group). */
  on(line: number, handler: IrqHandler, opts?: { priority?: number }): void;
  off(line: number): void;
  /** Lines of this world's group (what `on` accepts). */
  isOwnLine(line: number): boolean;
}

export interface TimerApi {
  setTimeout(fn: () => void | Promise<void>, delayUs: number): TimerId;
  setInterval(fn: () => void | Promise<void>, periodUs: number): TimerId;
  clear(id: TimerId): void;
}

export interface RtApi {
  task(spec: RtTaskSpec): RtTaskHandle;
  /**
   * Registers background (service) work: `step()` does one bounded unit and returns whether it did anything. After
   * main returns, the executive runs steps only in the slack before the next RT release (see guest/background.ts),
   * so a release never waits behind service work.
   */
  background(spec: BackgroundSpec): BackgroundHandle;
  stats(): RtTaskStats[];
}

export interface StatsApi {
  set(name: string, value: number | string | boolean): void;
  add(name: string, delta?: number): number;
  get(name: string): number | string | boolean | undefined;
  /**
   * Records an attack attempt and the outcome the guest observed (e.g. "GUEST_ERR_SECURITY_FAULT",
   * "DEVICE_NEEDS_RESET, answered after reset"); `stopped` = whether the platform stopped it (default true). The
   * run report lists them next to what the secure side and the hypervisor recorded as blocked.
   */
  attack(name: string, outcome: string, stopped?: boolean): void;
}

/** One recorded attack attempt (ctx.stats.attack). */
export interface AttackRecord {
  readonly name: string;
  readonly outcome: string;
  readonly stopped: boolean;
}

/** An RPMsg endpoint bound in this partition. */
export interface GuestEndpoint {
  readonly addr: number;
  readonly name: string | undefined;
  /** Sends up to the buffer's payload size to `dst`. Returns false when no buffer is free (try again after idle()). */
  send(dst: number, data: Uint8Array): boolean;
  close(): void;
}

export type EndpointCallback = (data: Uint8Array, src: number, ep: GuestEndpoint) => void;

export interface RpmsgApi {
  /** Whether an RPMsg link is configured for this machine. */
  readonly available: boolean;
  /** 'host' (virtio driver, owns the buffers) or 'remote' (virtio device). */
  readonly role: 'host' | 'remote' | 'none';
  /** Largest payload of one message (buffer size - 16). */
  readonly maxPayload: number;
  /** Resolves when the link is up (the remote saw DRIVER_OK; the host set it). */
  ready(timeoutUs?: number): Promise<void>;
  /**
   * Creates an endpoint at `addr` (default: a dynamic address from 1024). A named endpoint is announced by name
   * service (a CREATE message to address 53) unless `announce: false`; the peer finds it with findService(name).
   */
  createEndpoint(onMessage: EndpointCallback, opts?: { name?: string; addr?: number; announce?: boolean }): GuestEndpoint;
  /** Resolves with the address of the first announced service of that name (waiting for the announcement). */
  findService(name: string, timeoutUs?: number): Promise<number>;
  /** Holds notifications until uncork() (nested): a burst of sends is published with one index update and one notify. */
  cork(): void;
  uncork(): void;
  /** Negotiated virtio features, as names. */
  features(): string[];
  /**
   * Resets the link: host role — the device is reset (status 0), the rings re-laid and the features renegotiated
   * (DRIVER_OK again); remote role — the rings are forgotten until the host sets DRIVER_OK again. Endpoints stay;
   * named ones are announced again; onReset listeners run.
   */
  reset(): void;
  /** Link counters (messages and bytes each way, drops). */
  stats(): Record<string, number>;
  /**
   * Called when the link goes down: the peer reset the device (e.g. the non-secure partition crashed and was
   * rebooted) or a ring violation needs a reset. Messages queued for the old peer should be dropped; the link comes
   * back by itself when the peer sets it up again (named endpoints are announced again).
   */
  onReset(listener: () => void): void;
  /** Incarnation of the link: 1 after the first attach, +1 after every reset and re-attach (0 before). */
  epoch(): number;
  /**
   * The layout of the shared region (resource table, both vrings, buffer pool) — given to the RPMsg *host* only,
   * which owns the rings anyway (a non-secure OS can read them from the resource table); undefined on the remote.
   */
  layout(): RpmsgLayout | undefined;
}

export interface GuestContext {
  readonly world: World;
  readonly cores: 1 | 2;
  /** Boot counter: 0 at the first boot, incremented each time the hypervisor reboots this partition. */
  readonly boot: number;
  /** Free-form arguments from the machine configuration (e.g. the key address, the number of messages). */
  readonly args: Readonly<Record<string, unknown>>;
  /** The public memory map. */
  readonly map: MemoryMapDesc;
  readonly memory: MemoryPort;
  readonly irq: IrqApi;
  /** Calls the secure monitor. Throws GuestError(BAD_ARGUMENT) for an unknown call. */
  smc(call: number, ...args: number[]): number;
  /** Runs pending work (interrupts, timers, RT jobs); when there is none, waits for an interrupt (the idle hook). */
  idle(): Promise<void>;
  /** Like idle(), but waits at most timeoutUs; resolves true when some interrupt or timer was handled. */
  waitForInterrupt(timeoutUs?: number): Promise<boolean>;
  /** Runs what is pending now (interrupts, due timers and RT jobs) without waiting or yielding; returns the count. */
  poll(): Promise<number>;
  /** A preemption point for long computations that make no other ctx call. */
  checkpoint(): void;
  /** True once the machine asked the partition to stop. */
  readonly stopping: boolean;
  /** Machine time, µs. */
  now(): number;
  readonly timers: TimerApi;
  readonly rpmsg: RpmsgApi;
  /**
   * The other VirtIO devices of this partition's channel, by type name (machine config `devices`): on the non-secure
   * side the driver's API, on the secure side the device's. Each is also a field of its own below.
   */
  readonly devices: Readonly<Record<string, unknown>>;
  /** virtio-entropy (`{"type":"rng"}`): random bytes from the secure world. */
  readonly rng?: EntropyApi;
  /** virtio-console (`{"type":"console","ports":["log"]}`): named ports as stream.Duplex. */
  readonly console?: ConsoleApi;
  /** virtio-vsock (`{"type":"vsock","guestCid":3}`): net-style servers and stream.Duplex connections. */
  readonly vsock?: VsockApi;
  /** The real-time runtime; present in the secure partition only. */
  readonly rt: RtApi | null;
  log(...args: unknown[]): void;
  readonly stats: StatsApi;
}

export type GuestMain = (ctx: GuestContext) => void | Promise<void>;
