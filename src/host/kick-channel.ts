/**
 * What a kick transport offers its user (the OpenAMP session): one-byte kicks both ways, reported in batches (the
 * count carries no meaning: a kick says "rescan the rings"), and the peer's departure.
 *
 *   KickSocket        node:net, event-driven: kicks arrive as 'data' events of the event loop.
 *   NativeKickSocket  the tz_shm addon's own AF_UNIX socket: kicks are sent with one send(2) and can be awaited by
 *                     blocking the thread in ppoll(2) (waitKicks), so a loop can run without the event loop.
 */
import type { HostError } from './errors.js';

export type KickRole = 'server' | 'client';

export interface KickSocketOptions {
  /** Socket path. OpenAMP's default is /tmp/openamp.event.0. */
  readonly path: string;
  /** 'server' listens and accepts one peer; 'client' connects. */
  readonly role: KickRole;
  /** How long to wait for the peer (accept or successful connect), ms. Default 10000. */
  readonly timeoutMs?: number;
}

export interface KickChannel {
  readonly path: string;
  readonly role: KickRole;
  /** Kick bytes written so far. */
  readonly kicksSent: number;
  /** Kick bytes received so far. */
  readonly kicksReceived: number;
  readonly isClosed: boolean;
  /** Sends one kick; after the peer has gone it is dropped silently. */
  kick(): void;
  /** Calls `listener(count)` for every batch of kicks the event loop sees. */
  onKick(listener: (count: number) => void): void;
  /** Calls `listener(err)` once when the channel closes; err is set when the peer closed it, not us. */
  onClose(listener: (err?: HostError) => void): void;
  close(): Promise<void>;
}

/** A channel whose kicks can also be awaited synchronously (the thread sleeps in the kernel, not in the event loop). */
export interface BlockingKickChannel extends KickChannel {
  /**
   * Sleeps until kicks arrive or timeoutMs passes (Infinity: no limit) and consumes them all. Returns the number of
   * kick bytes (> 0), 0 on timeout, -1 once the peer has closed (close listeners have then been called). Kicks
   * consumed here are not reported to onKick listeners: the caller rescans the rings itself.
   */
  waitKicks(timeoutMs: number): number;
}

export function isBlockingKickChannel(c: KickChannel): c is BlockingKickChannel {
  return typeof (c as Partial<BlockingKickChannel>).waitKicks === 'function';
}
