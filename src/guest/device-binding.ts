/**
 * A VirtIO device as the guest runtime drives it (every device but RPMsg, which has its own binding in ./rpmsg.ts):
 * the transport end of this partition (driver side in the non-secure world, device side in the secure world), the API
 * the guest module sees under `ctx.<type>`, and the per-device counters the run report shows.
 *
 * The runtime calls poll() on every pass (interrupts, idle wake-ups): it advances the transport's handshake and lets
 * the device or driver process its queues. It never blocks.
 */

/** Per-device figures of a run report (the `devices` array of `tz-virtio run --json`). */
export interface DeviceStats {
  readonly type: string;
  readonly transport: string;
  readonly role: 'driver' | 'device';
  readonly state: string;
  readonly messages: { readonly sent: number; readonly received: number; readonly lost: number; readonly corrupted: number };
  readonly bytes: number;
  readonly notifications: number;
  /** The last rule a peer broke, if any (stable code and message). */
  readonly error?: string;
}

export interface DeviceBinding {
  /** Registry name ("rng", "vsock", "console"): also the ctx field holding `api`. */
  readonly type: string;
  readonly api: unknown;
  poll(): number;
  /** The peer partition was reset by the hypervisor (device side): forget the link, wait for a new handshake. */
  peerReset?(): void;
  stats(): DeviceStats;
}

/** What a device's guest API may use of the runtime (declared with the seam, src/virtio/device.ts). */
export type { BindingEnv } from '../virtio/device.js';

/** The transport end a binding drives (rsc-table or mmio, driver or device side: they all have this shape). */
export interface TransportEnd {
  poll(): number;
  readonly state: string;
  readonly lastError?: { readonly message: string } | undefined;
  /** Notifications this end sent (the transport sends them, so it counts them). */
  readonly notificationsSent?: number;
  /** Device side: the peer partition was reset. */
  peerReset?(): void;
}

export interface BindingParts {
  readonly type: string;
  readonly role: 'driver' | 'device';
  readonly transport: string;
  readonly end: TransportEnd;
  readonly api: unknown;
  readonly counters: () => { sent: number; received: number; lost: number; corrupted: number; bytes: number; notifications: number };
}

export function makeDeviceBinding(p: BindingParts): DeviceBinding {
  const end = p.end;
  return {
    type: p.type,
    api: p.api,
    poll: () => end.poll(),
    ...(end.peerReset ? { peerReset: () => end.peerReset!() } : {}),
    stats: () => {
      const c = p.counters();
      return {
        type: p.type,
        transport: p.transport,
        role: p.role,
        state: end.state,
        messages: { sent: c.sent, received: c.received, lost: c.lost, corrupted: c.corrupted },
        bytes: c.bytes,
        notifications: end.notificationsSent ?? c.notifications,
        ...(end.lastError ? { error: end.lastError.message } : {}),
      };
    },
  };
}
