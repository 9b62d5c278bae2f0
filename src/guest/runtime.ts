/**
 * The runtime a partition's worker runs around its guest module: it builds the GuestContext, dispatches interrupts
 * (acknowledge → handler → end-of-interrupt), fires timers, runs the secure world's real-time jobs, polls the RPMsg
 * link, and implements the idle hook on top of the platform's CorePort.
 *
 * One pass of poll():  timers/ticks due → raise the timer line;  collect external interrupts;  acknowledge and handle
 * every pending line, most urgent first;  run ready RT jobs, most urgent first;  poll the RPMsg link.
 * idle():  poll(); if nothing was done, wait for an event (until the next timer or RT release), then poll() again.
 */
import type { PhysicalMemory } from '../virtio/memory.js';
import {
  IrqLine,
  SPURIOUS_INTERRUPT,
  SmcCall,
  type GuestContext,
  type GuestMain,
  type IrqHandler,
  type RpmsgApi,
  type StatsApi,
  type AttackRecord,
} from './api.js';
import { GuestError, GuestErrorCode, isGuestError } from './errors.js';
import type { MemoryMapDesc, WindowDesc } from './memory-map.js';
import { createMemoryPort, type MemoryPort } from './memory-port.js';
import type { CorePort } from './port.js';
import { RtScheduler } from './rt.js';
import { TimerQueue } from './timers.js';
import { BackgroundWork, type BackgroundOptions } from './background.js';
import type { DeviceBinding } from './device-binding.js';

/** The RPMsg link as the runtime drives it (built by guest/rpmsg.ts). */
export interface RpmsgBinding {
  readonly api: RpmsgApi;
  /** Processes whatever the peer made available; returns the number of messages/buffers handled. */
  poll(): number;
  stats(): Record<string, unknown>;
  /** The peer partition was reset by the hypervisor: forget the rings and wait for the peer to set the link up again. */
  peerReset?(): void;
}

export interface RuntimeOptions {
  readonly port: CorePort;
  readonly map: MemoryMapDesc;
  /** The memory this partition holds. */
  readonly memory: PhysicalMemory;
  readonly held: readonly WindowDesc[];
  readonly args?: Readonly<Record<string, unknown>>;
  readonly rpmsg?: RpmsgBinding;
  /** The other VirtIO devices of the channel (each under ctx.<type>), polled on every pass like the RPMsg link. */
  readonly devices?: readonly DeviceBinding[];
  /** Secure executive: how background (service) work is fitted between RT releases. */
  readonly background?: BackgroundOptions;
  /** Boot counter of this partition (0 at the first boot, +1 per reboot by the hypervisor). */
  readonly boot?: number;
}

export interface MainOutcome {
  readonly status: 'returned' | 'stopped' | 'threw';
  readonly error?: string;
}

/** Errors the runtime caught (handlers, timers, RT jobs, the RPMsg link) kept verbatim for the report. */
const MAX_ERROR_LINES = 20;

const NO_RPMSG: RpmsgApi = {
  available: false,
  role: 'none',
  maxPayload: 0,
  ready: () => Promise.reject(new GuestError(GuestErrorCode.NO_RPMSG, 'no RPMsg link configured')),
  createEndpoint: () => {
    throw new GuestError(GuestErrorCode.NO_RPMSG, 'no RPMsg link configured');
  },
  findService: () => Promise.reject(new GuestError(GuestErrorCode.NO_RPMSG, 'no RPMsg link configured')),
  features: () => [],
  reset: () => undefined,
  cork: () => undefined,
  uncork: () => undefined,
  stats: () => ({}),
  onReset: () => undefined,
  epoch: () => 0,
  layout: () => undefined,
};

/** ctx fields a device type may not shadow. */
const RESERVED_CTX = new Set(['world', 'cores', 'boot', 'args', 'map', 'memory', 'irq', 'smc', 'idle', 'waitForInterrupt', 'poll', 'checkpoint', 'stopping', 'now', 'timers', 'rpmsg', 'devices', 'rt', 'log', 'stats']);

export class GuestRuntime {
  readonly ctx: GuestContext;
  readonly port: CorePort;
  readonly timers: TimerQueue;
  readonly rt: RtScheduler | null;
  readonly background: BackgroundWork | null;
  readonly memoryPort: MemoryPort;
  private readonly handlers = new Map<number, IrqHandler[]>();
  private readonly userStats = new Map<string, number | string | boolean>();
  private readonly attacks: AttackRecord[] = [];
  private attacksDropped = 0;
  private readonly timerLine: number;
  private readonly virtioLine: number;
  private readonly rpmsg: RpmsgBinding | undefined;
  private readonly devices: readonly DeviceBinding[];
  handlerErrors = 0;
  /** The first MAX_ERROR_LINES "error in …" lines (handlerErrors counts them all). */
  private readonly errorLines: string[] = [];
  interruptsHandled = 0;
  executivePasses = 0;
  readonly logs: string[] = [];

  constructor(o: RuntimeOptions) {
    const port = o.port;
    this.port = port;
    const now = () => port.now();
    this.timers = new TimerQueue(now);
    this.rt = port.world === 'secure' ? new RtScheduler(now, (task, e) => this.reportError(`rt task ${task}`, e), () => port.lastWake?.()) : null;
    this.background = port.world === 'secure' ? new BackgroundWork(now, (name, e) => this.reportError(`background ${name}`, e), o.background) : null;
    this.timerLine = port.world === 'secure' ? IrqLine.SECURE_TIMER : IrqLine.NS_TIMER;
    this.virtioLine = port.world === 'secure' ? IrqLine.VIRTIO_TO_SECURE : IrqLine.VIRTIO_TO_NONSECURE;
    this.rpmsg = o.rpmsg;
    this.devices = o.devices ?? [];
    this.memoryPort = createMemoryPort({
      world: port.world,
      map: o.map,
      memory: o.memory,
      held: o.held,
      onFault: (f) => port.reportFault(f),
      now,
      boundary: port.world === 'nonsecure' ? () => port.checkpoint() : undefined,
    });
    this.ctx = this.buildContext(o);
  }

  private reportError(where: string, e: unknown): void {
    this.handlerErrors++;
    const text = `error in ${where}: ${e instanceof Error ? e.message : String(e)}`;
    // the first ones go into the report too (the run's result names them, not only the --verbose log)
    if (this.errorLines.length < MAX_ERROR_LINES) this.errorLines.push(text.slice(0, 300));
    this.port.log(text);
  }

  private buildContext(o: RuntimeOptions): GuestContext {
    const rt = this.rt;
    const bg = this.background;
    const port = this.port;
    const userStats = this.userStats;
    const stats: StatsApi = {
      set: (name, value) => void userStats.set(String(name), value),
      add: (name, delta = 1) => {
        const v = Number(userStats.get(name) ?? 0) + delta;
        userStats.set(name, v);
        return v;
      },
      get: (name) => userStats.get(name),
      attack: (name, outcome, stopped = true) => {
        if (this.attacks.length >= 1000) {
          this.attacksDropped++;
          return;
        }
        this.attacks.push({ name: String(name).slice(0, 100), outcome: String(outcome).slice(0, 300), stopped: stopped !== false });
      },
    };
    const self = this;
    return {
      world: port.world,
      cores: port.cores,
      boot: o.boot ?? 0,
      args: Object.freeze({ ...(o.args ?? {}) }),
      map: o.map,
      memory: this.memoryPort,
      irq: {
        on: (line, handler, opts) => {
          port.checkpoint();
          if (!port.isOwnLine(line)) {
            throw new GuestError(GuestErrorCode.BAD_ARGUMENT, `irq ${line} does not belong to the ${port.world} world`, { line });
          }
          const list = this.handlers.get(line) ?? [];
          list.push(handler);
          this.handlers.set(line, list);
          port.configureLine(line, true, opts?.priority);
        },
        off: (line) => {
          port.checkpoint();
          this.handlers.delete(line);
          if (line !== this.timerLine && line !== this.virtioLine) port.configureLine(line, false);
        },
        isOwnLine: (line) => port.isOwnLine(line),
      },
      smc: (call, ...args) => this.smc(call, args),
      idle: async () => {
        await this.idle(Infinity);
      },
      waitForInterrupt: (timeoutUs) => this.idle(timeoutUs ?? Infinity),
      poll: () => this.poll(),
      checkpoint: () => port.checkpoint(),
      get stopping() {
        return port.stopping();
      },
      now: () => {
        port.checkpoint();
        return port.now();
      },
      timers: {
        setTimeout: (fn, us) => (port.checkpoint(), this.timers.setTimeout(fn, us)),
        setInterval: (fn, us) => (port.checkpoint(), this.timers.setInterval(fn, us)),
        clear: (id) => (port.checkpoint(), this.timers.clear(id)),
      },
      rpmsg: this.rpmsg?.api ?? NO_RPMSG,
      devices: Object.freeze(Object.fromEntries(this.devices.map((d) => [d.type, d.api]))),
      ...Object.fromEntries(this.devices.filter((d) => !RESERVED_CTX.has(d.type)).map((d) => [d.type, d.api])),
      rt:
        rt === null
          ? null
          : {
              task: (spec) => rt.add(spec),
              background: (spec) => bg!.add(spec),
              stats: () => rt.stats(),
            },
      log: (...args: unknown[]) => {
        port.checkpoint();
        const text = args.map((a) => (typeof a === 'string' ? a : self.format(a))).join(' ');
        port.log(text);
      },
      stats,
    };
  }

  private format(a: unknown): string {
    if (typeof a === 'bigint') return `${a}n`;
    if (a instanceof Error) return a.message;
    try {
      return JSON.stringify(a) ?? String(a);
    } catch {
      return String(a);
    }
  }

  smc(call: number, args: readonly number[]): number {
    if (call === SmcCall.YIELD && this.port.world === 'secure') {
      // the secure idle hook: give the core away until the next tick or FIQ
      this.port.waitForEvent(this.nextDeadline());
      return 0;
    }
    return this.port.smc(call, args);
  }

  /** Earliest timer or RT release (µs), Infinity when none. */
  nextDeadline(): number {
    return Math.min(this.timers.nextDueUs(), this.rt ? this.rt.nextReleaseUs() : Infinity);
  }

  /** One pass over everything that may be pending. Returns how many items were handled. */
  async poll(): Promise<number> {
    const port = this.port;
    port.checkpoint();
    let n = 0;
    const rt = this.rt;
    if (rt) {
      // RT jobs first: a due release is run before any interrupt or service work (timer-line handling below
      // finds nothing left to release)
      const now = port.now();
      if (rt.nextReleaseUs() <= now) rt.release(now);
      while (await rt.runOne()) n++;
    }
    if (port.takePeerReset?.()) {
      try {
        this.rpmsg?.peerReset?.();
      } catch (e) {
        this.reportError('rpmsg peer reset', e);
      }
      for (const d of this.devices) {
        try {
          d.peerReset?.();
        } catch (e) {
          this.reportError(`${d.type} peer reset`, e);
        }
      }
      port.ackPeerReset?.();
      n++;
    }
    if (this.nextDeadline() <= port.now()) port.raise(this.timerLine);
    port.collectInterrupts();
    for (;;) {
      const line = port.acknowledge();
      if (line === SPURIOUS_INTERRUPT) break;
      n++;
      this.interruptsHandled++;
      try {
        await this.handle(line);
      } catch (e) {
        if (isGuestError(e, GuestErrorCode.STOPPED)) {
          port.endOfInterrupt(line);
          throw e;
        }
        this.reportError(`irq ${line} handler`, e);
      }
      port.endOfInterrupt(line);
    }
    if (rt) while (await rt.runOne()) n++;
    if (this.rpmsg) {
      try {
        n += this.rpmsg.poll();
      } catch (e) {
        this.reportError('rpmsg', e);
      }
    }
    n += this.pollDevices();
    return n;
  }

  private pollDevices(): number {
    let n = 0;
    for (const d of this.devices) {
      try {
        n += d.poll();
      } catch (e) {
        this.reportError(d.type, e);
      }
    }
    return n;
  }

  private async handle(line: number): Promise<void> {
    if (line === this.timerLine) {
      const now = this.port.now();
      this.rt?.release(now);
      for (const fn of this.timers.takeDue(now)) {
        try {
          const r = fn();
          if (r !== undefined) await r;
        } catch (e) {
          this.reportError('timer', e);
        }
      }
    }
    if (line === this.virtioLine) {
      this.rpmsg?.poll();
      this.pollDevices();
    }
    const list = this.handlers.get(line);
    if (list) for (const h of list) {
      const r = h(line);
      if (r !== undefined) await r;
    }
  }

  /**
   * Device APIs are Node streams, whose events run from process.nextTick; a guest loop of awaits on already-settled
   * promises (the idle hook blocks in Atomics.wait, then resolves) would starve them. With device bindings, each pass
   * gives the event loop one turn (setImmediate). Without, nothing changes (RPMsg delivers synchronously).
   */
  private yieldToStreams(): Promise<void> | undefined {
    return this.devices.length > 0 ? new Promise((r) => setImmediate(r)) : undefined;
  }

  /** The idle hook. Throws GuestError(STOPPED) once the machine stops, which ends any guest loop. */
  async idle(timeoutUs: number): Promise<boolean> {
    if (this.port.stopping()) throw new GuestError(GuestErrorCode.STOPPED, 'machine stopping');
    await this.yieldToStreams();
    if ((await this.poll()) > 0) {
      this.background?.wake();
      return true;
    }
    // background work registered by a guest that keeps its own loop runs here too, in the slack before the release
    const bg = this.background;
    if (bg && bg.size > 0 && (await bg.pass(() => this.nextDeadline())) > 0) return true;
    const limit = Number.isFinite(timeoutUs) ? this.port.now() + Math.max(0, timeoutUs) : Infinity;
    this.port.waitForEvent(Math.min(limit, this.nextDeadline()));
    this.background?.wake();
    if (this.port.stopping()) throw new GuestError(GuestErrorCode.STOPPED, 'machine stopping');
    return (await this.poll()) > 0;
  }

  /**
   * Runs the guest's main; errors are caught and reported, never rethrown. `locate` may name where a thrown error
   * came from (appended to the message, e.g. " (at FILE:LINE:COL)").
   */
  async runMain(main: GuestMain, locate?: (e: unknown) => string): Promise<MainOutcome> {
    try {
      await main(this.ctx);
      return { status: 'returned' };
    } catch (e) {
      if (isGuestError(e, GuestErrorCode.STOPPED)) return { status: 'stopped' };
      return { status: 'threw', error: (e instanceof Error ? `${e.name}: ${e.message}` : String(e)) + (locate?.(e) ?? '') };
    }
  }

  /**
   * After main returned: the executive loop, until the machine stops. One iteration: poll() (due RT jobs first,
   * then interrupts, RT jobs, the RPMsg link); then background steps in the slack before the next release
   * (background.ts); when nothing is left, wait for the next release or an interrupt (the port sleeps until
   * shortly before the release and spins to it).
   */
  async serveUntilStop(): Promise<void> {
    for (;;) {
      try {
        if (this.port.stopping()) return;
        await this.yieldToStreams();
        const n = await this.poll();
        if (n > 0) this.background?.wake();
        const bg = this.background;
        const steps = bg && bg.size > 0 ? await bg.pass(() => this.nextDeadline()) : 0;
        this.executivePasses++;
        if (n > 0 || steps > 0) continue;
        if (this.port.stopping()) return;
        this.port.waitForEvent(this.nextDeadline());
        this.background?.wake();
      } catch (e) {
        if (isGuestError(e, GuestErrorCode.STOPPED)) return;
        this.reportError('executive', e);
      }
    }
  }

  userStatsObject(): Record<string, number | string | boolean> {
    return Object.fromEntries(this.userStats);
  }

  report(): Record<string, unknown> {
    return {
      interruptsHandled: this.interruptsHandled,
      handlerErrors: this.handlerErrors,
      errors: this.errorLines.slice(),
      rt: this.rt ? this.rt.stats() : [],
      background: this.background ? this.background.stats() : [],
      executivePasses: this.executivePasses,
      rpmsg: this.rpmsg ? this.rpmsg.stats() : undefined,
      devices: this.devices.map((d) => d.stats()),
      user: this.userStatsObject(),
      attacks: this.attacks.slice(),
      attacksDropped: this.attacksDropped,
      port: this.port.stats(),
    };
  }
}
