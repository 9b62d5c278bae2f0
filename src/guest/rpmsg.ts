/**
 * The guest's RPMsg link: an RpmsgHost (non-secure side by default: the virtio driver that owns the buffers, as
 * Linux) or an RpmsgRemote (the virtio device, as an OpenAMP remote), over the shared IPC region, wrapped in the
 * small RpmsgApi a guest module sees.
 *
 * The role gets a PhysicalMemory holding the IPC region only — also in the secure partition. Descriptors are written
 * by the other (possibly hostile) side; a descriptor pointing into secure RAM must find no memory there, or the
 * secure device would read or write secure memory on the non-secure world's behalf (a confused deputy).
 *
 * Notifications: the role calls transport.notify(vq) when the virtqueue says the peer wants one (EVENT_IDX); the
 * binding turns it into SMC NOTIFY (non-secure) or the secure monitor's notify (secure).
 */
import type { PhysicalMemory } from '../virtio/memory.js';
import { RpmsgHost, RpmsgRemote, type RpmsgCore, type RpmsgLayout, type Endpoint } from '../rpmsg/index.js';
import { VIRTIO_RPMSG_F_NS, RPMSG_HEADER_SIZE } from '../rpmsg/constants.js';
import type { EndpointCallback, GuestEndpoint, RpmsgApi } from './api.js';
import { GuestError, GuestErrorCode } from './errors.js';
import type { RpmsgBinding } from './runtime.js';
import { tracer } from '../trace/active.js';
import { TraceKind } from '../trace/events.js';

export interface RpmsgBindingOptions {
  readonly role: 'host' | 'remote';
  /** Memory holding the IPC region only (resource table). */
  readonly memory?: PhysicalMemory;
  /** The RPMsg region of the resource table; omitted when `carried` is given. */
  readonly layout?: RpmsgLayout;
  /**
   * RPMsg carried by a transport of the device seam (e.g. virtio-mmio): the role of the registry's RpmsgDevice /
   * RpmsgDriver, whose transport end the runtime polls as a device binding. This binding then only wraps the API:
   * the transport brings the link up and resets it. `bufferSize`: the driver's buffer size (maxPayload before attach).
   */
  readonly carried?: { readonly role: RpmsgHost | RpmsgRemote; readonly bufferSize: number };
  readonly notify: (vq: number) => void;
  /** Clock in ms for the role's timeouts. */
  readonly nowMs: () => number;
  /** Feature bits the role wants/supports (u32); default: the role's default (NS | EVENT_IDX). */
  readonly features?: number;
  /**
   * Fault injection for tests and `tz-virtio run --crash-at`: when the `atMessage`-th message has been sent through
   * the guest API, `fire()` is called (the partition worker turns it into a throw, an exit or a hypervisor kill).
   */
  readonly crash?: { readonly atMessage: number; readonly fire: () => void };
  /**
   * Host role: the device-reset handshake with the peer (returns when the peer device forgot the rings). Without it
   * reset() cannot be used on the host (the remote would read the re-laid rings with stale indices).
   */
  readonly resetPeer?: () => void;
}

const FEATURE_NAMES: Record<number, string> = { [VIRTIO_RPMSG_F_NS]: 'VIRTIO_RPMSG_F_NS', 28: 'VIRTIO_RING_F_INDIRECT_DESC', 29: 'VIRTIO_RING_F_EVENT_IDX' };

export function featureNames(bits: number): string[] {
  const out: string[] = [];
  for (let b = 0; b < 32; b++) if (((bits >>> b) & 1) === 1) out.push(FEATURE_NAMES[b] ?? `bit${b}`);
  return out;
}

export class GuestRpmsg implements RpmsgBinding {
  readonly role: RpmsgCore;
  readonly api: RpmsgApi;
  private waiter: ((timeoutUs: number) => Promise<boolean>) | undefined;
  private readonly kind: 'host' | 'remote';
  private readonly bufSize: number;
  private readonly layout: RpmsgLayout | undefined;
  private readonly carried: boolean;
  private readonly resetListeners: Array<() => void> = [];
  private wasReady = false;
  /** Link incarnations: +1 at each (re)attach. */
  private epoch = 0;
  private resets = 0;
  private peerResets = 0;
  private sent = 0;
  /** Trace track of this side's messages: 0 on the remote (device) side, 1 on the host (driver) side. */
  private get traceTrack(): number {
    return this.kind === 'host' ? 1 : 0;
  }
  private readonly crash: RpmsgBindingOptions['crash'];
  private readonly resetPeer: (() => void) | undefined;

  constructor(o: RpmsgBindingOptions) {
    this.kind = o.role;
    this.carried = o.carried !== undefined;
    this.bufSize = o.carried?.bufferSize ?? o.layout?.buffers.size ?? 0;
    this.layout = o.layout;
    this.crash = o.crash;
    this.resetPeer = o.resetPeer;
    const common = {
      transport: { notify: (vq: number) => o.notify(vq) },
      now: o.nowMs,
      // counted in the link's stats (callbackErrors) and reported to the runtime (the run's errors), never rethrown
      onCallbackError: (e: unknown, ep: Endpoint) => this.errorReporter?.(`rpmsg endpoint ${ep.addr}${ep.name !== undefined ? ` "${ep.name}"` : ''} callback`, e),
      ...(o.features !== undefined ? { features: o.features } : {}),
    };
    if (o.carried !== undefined) {
      this.role = o.carried.role;
    } else if (o.memory === undefined || o.layout === undefined) {
      throw new GuestError(GuestErrorCode.NO_RPMSG, 'rpmsg: a binding needs the resource-table region (memory, layout) or a carried role');
    } else if (o.role === 'host') {
      // started by start(), once the partition's core runs (the start-up kick is an SMC)
      this.role = new RpmsgHost(o.memory, o.layout, common);
    } else {
      // The remote's default buffer window is the pool the resource table names, with the table and both vrings cut
      // out: the non-secure host cannot aim the secure side's reads or writes at ring memory.
      this.role = new RpmsgRemote(o.memory, o.layout.rscTable, common);
    }
    this.api = this.buildApi();
  }

  /**
   * Host role: the driver's start-up (status handshake, RX buffers posted, DRIVER_OK), then a kick of vring0, as
   * Linux's rpmsg_probe does after virtio_device_ready(). The kick is what wakes a remote that sleeps until notified:
   * without it a secure device that went idle before DRIVER_OK (no RT release to wake it) never attaches, and its
   * name-service announcements never go out. Remote role: nothing (it attaches in poll()). Idempotent.
   */
  start(): void {
    const r = this.role;
    if (!this.carried && r instanceof RpmsgHost && r.state === 'idle') {
      r.start({ kick: true });
      this.track();
    }
  }

  private errorReporter: ((where: string, e: unknown) => void) | undefined;

  /** Where endpoint callback exceptions go (the runtime's error report). */
  setErrorReporter(report: (where: string, e: unknown) => void): void {
    this.errorReporter = report;
  }

  /** The runtime's wait (idle with a timeout), used by ready() and findService(). */
  setWaiter(w: (timeoutUs: number) => Promise<boolean>): void {
    this.waiter = w;
  }

  /** Polls with TX corked: the replies sent from callbacks are published with one index update and one notify. */
  poll(): number {
    const r = this.role as RpmsgHost | RpmsgRemote;
    r.cork();
    let n: number;
    try {
      n = r.poll();
    } finally {
      r.uncork();
    }
    // a refused ep.send() can go again: that is work for the caller's idle() (it returns instead of sleeping)
    if (r.takeTxFreed()) n++;
    this.track();
    return n;
  }

  /** Follows the link's life: a ready → not-ready edge is a reset (listeners run), not-ready → ready a new epoch. */
  private track(): void {
    const ready = this.role.ready;
    if (ready === this.wasReady) return;
    if (ready) {
      this.wasReady = true;
      this.epoch++;
      return;
    }
    this.linkDown();
  }

  /** ctx.rpmsg.reset(): this side resets the link (see RpmsgApi.reset). */
  resetLink(): void {
    const r = this.role;
    if (this.carried) throw new GuestError(GuestErrorCode.NO_RPMSG, 'rpmsg.reset: this link is reset by its transport (virtio-mmio), not through ctx.rpmsg');
    if (r instanceof RpmsgHost) {
      if (this.resetPeer === undefined) throw new GuestError(GuestErrorCode.NO_RPMSG, 'rpmsg.reset: no device-reset handshake on this platform');
      // status 0, then the handshake: the device has forgotten the rings before they are laid out again
      r.reset();
      this.linkDown();
      this.resetPeer();
      // the device forgot the rings and may sleep: the kick after DRIVER_OK wakes it (see start())
      r.start({ kick: true });
    } else if (r instanceof RpmsgRemote) r.reset();
    this.linkDown();
    this.track();
  }

  private linkDown(): void {
    if (!this.wasReady) return;
    this.wasReady = false;
    this.resets++;
    for (const l of this.resetListeners) {
      try {
        l();
      } catch {
        // a listener's error must not break the link
      }
    }
  }

  /**
   * The hypervisor reset the peer partition (it crashed and is rebooted; the vdev status was set to 0). A remote
   * forgets the rings and waits for the new driver's DRIVER_OK; a host resets the device and starts it again.
   */
  peerReset(): void {
    this.peerResets++;
    const r = this.role;
    // carried: the transport end (a device binding) resets the device; the link-down edge is still reported here
    if (this.carried) {
      /* nothing to do on the role */
    } else if (r instanceof RpmsgRemote) r.reset();
    else if (r instanceof RpmsgHost) {
      r.reset();
      r.start({ kick: true });
    }
    // report the reset even when the link is up again at once (host role)
    this.linkDown();
    this.track();
  }

  negotiated(): number {
    const r = this.role as RpmsgHost | RpmsgRemote;
    return r.negotiatedFeatures;
  }

  stats(): Record<string, unknown> {
    return { role: this.kind, ready: this.role.ready, features: featureNames(this.negotiated()), epoch: this.epoch, resets: this.resets, peerResets: this.peerResets, ...this.role.stats };
  }

  private async waitUntil(cond: () => boolean, timeoutUs: number, what: string): Promise<void> {
    const w = this.waiter;
    if (w === undefined) throw new GuestError(GuestErrorCode.NO_RPMSG, 'rpmsg: runtime not attached');
    const t0 = performance.now();
    for (;;) {
      this.role.poll();
      this.track();
      if (cond()) return;
      if (this.role.needsReset) throw new GuestError(GuestErrorCode.NO_RPMSG, `rpmsg: link broken (${String(this.role.lastError)})`);
      const left = timeoutUs - (performance.now() - t0) * 1000;
      if (left <= 0) throw new GuestError(GuestErrorCode.NO_RPMSG, `rpmsg: timed out waiting for ${what}`);
      await w(Math.min(left, 100_000));
    }
  }

  private buildApi(): RpmsgApi {
    const role = this.role;
    const wrap = (ep: Endpoint): GuestEndpoint => ({
      addr: ep.addr,
      name: ep.name,
      send: (dst, data) => {
        const ok = role.trySendRaw(ep.addr, dst, data);
        if (ok && tracer.enabled) tracer.emit(TraceKind.RPMSG_SEND, this.traceTrack, ep.addr, dst, data.length);
        if (ok && this.crash !== undefined && ++this.sent === this.crash.atMessage) this.crash.fire();
        return ok;
      },
      close: () => ep.destroy(),
    });
    return {
      available: true,
      role: this.kind,
      maxPayload: this.bufSize - RPMSG_HEADER_SIZE,
      ready: (timeoutUs = 10_000_000) => this.waitUntil(() => role.ready, timeoutUs, 'the link'),
      createEndpoint: (onMessage: EndpointCallback, opts = {}) => {
        let g: GuestEndpoint | undefined;
        const ep = role.createEndpoint({
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(opts.addr !== undefined ? { addr: opts.addr } : {}),
          ...(opts.announce !== undefined ? { announce: opts.announce } : {}),
          onMessage: (msg) => {
            if (tracer.enabled) tracer.emit(TraceKind.RPMSG_RECV, this.traceTrack, msg.src, ep.addr, msg.data.length);
            return onMessage(msg.data, msg.src, g!);
          },
        });
        g = wrap(ep);
        return g;
      },
      findService: async (name, timeoutUs = 10_000_000) => {
        await this.waitUntil(() => role.services.has(name), timeoutUs, `service "${name}"`);
        return role.services.get(name)!;
      },
      features: () => featureNames(this.negotiated()),
      reset: () => this.resetLink(),
      cork: () => (role as RpmsgHost | RpmsgRemote).cork(),
      uncork: () => (role as RpmsgHost | RpmsgRemote).uncork(),
      stats: () => ({ ...role.stats }),
      onReset: (listener) => {
        if (typeof listener !== 'function') throw new GuestError(GuestErrorCode.BAD_ARGUMENT, 'rpmsg.onReset: listener must be a function');
        this.resetListeners.push(listener);
      },
      epoch: () => this.epoch,
      layout: () => (this.kind === 'host' ? this.layout : undefined),
    };
  }
}
