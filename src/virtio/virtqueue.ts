/**
 * The two roles of a virtqueue, common to the split (§2.7) and packed (§2.8) layouts. The layers above (RPMsg, the
 * hypervisor model, benchmarks) program against these interfaces only, so either layout can carry them.
 *
 * Neither role notifies anybody by itself: publishing returns whether the other side asked to be notified, and the
 * caller's transport (an interrupt, a doorbell word, a socket byte) does the rest.
 */
import type { DescriptorChain } from './chain.js';
import type { VirtioError } from './errors.js';

/** One scatter-gather segment in physical memory. */
export interface Segment {
  readonly addr: number;
  readonly len: number;
}

/** Options common to both roles. */
export interface QueueOptions {
  /**
   * The negotiated features (bigint bit map). The queue honours INDIRECT_DESC, EVENT_IDX and IN_ORDER from it;
   * RING_PACKED selects the class, not an option. Default: 0n (none).
   */
  readonly features?: bigint;
}

export interface DriverQueueOptions extends QueueOptions {
  /**
   * Memory reserved for indirect descriptor tables (only used when INDIRECT_DESC is negotiated): `size` tables of
   * `tableEntries` descriptors each, table k at `base + k * tableEntries * 16`, owned by the head/id using it.
   * Default: none (indirect never used).
   */
  readonly indirect?: { readonly base: number; readonly tableEntries: number };
  /** When to use an indirect table for a multi-segment chain: 'auto' (when it fits and saves ring slots), 'never', 'always'. Default 'auto'. */
  readonly indirectPolicy?: 'auto' | 'never' | 'always';
}

export interface DeviceQueueOptions extends QueueOptions {
  /** Most segments one chain may have (including an indirect table's entries). Default and maximum: the queue size. */
  readonly maxChainSegments?: number;
}

/** The driver's side: makes buffers available, collects them when used (§2.7.13, §2.8.x). */
export interface VirtqueueDriver<T = unknown> {
  readonly size: number;
  /** Descriptors (ring slots) currently free. */
  readonly numFree: number;
  /** Length the device wrote into the buffer returned by the last successful popUsed(). */
  readonly lastUsedLen: number;

  /**
   * Adds one chain: `out` segments (device-readable) then `in` segments (device-writable). Uses an indirect table
   * when negotiated and chosen by the policy. Not visible to the device until kick(). Throws QUEUE_FULL when it
   * does not fit, EMPTY_CHAIN when both lists are empty. Returns the buffer id (split: head index).
   */
  add(out: readonly Segment[], inn: readonly Segment[], token: T): number;
  /** Fast path for a single segment. */
  addBuffer(addr: number, len: number, writable: boolean, token: T): number;
  /**
   * Publishes everything added since the last kick with release ordering (entries first, then the index or flags
   * with Atomics.store) and returns true when the device wants a notification (flags or EVENT_IDX).
   */
  kick(): boolean;
  /** True when a used buffer is waiting. */
  hasUsed(): boolean;
  /**
   * Takes the next used buffer: returns its token (lastUsedLen holds the written length), or undefined when none.
   * Throws a VirtioError when the device broke a rule (unknown id, id not outstanding, used.idx too far ahead).
   */
  popUsed(): T | undefined;
  /** Asks the device not to interrupt (a hint: §2.7.7 / §2.8.10). */
  disableCallbacks(): void;
  /**
   * Asks the device to interrupt for the next used buffer. Returns false when used buffers are already waiting,
   * in which case the caller must drain them (else a notification may be lost), exactly like Linux
   * virtqueue_enable_cb().
   */
  enableCallbacks(): boolean;
  /** Forgets every buffer and zeroes the ring (after a device reset); returns the tokens that were outstanding. */
  reset(): T[];
}

/** The device's side: takes available chains, returns them used (§2.7.4, §2.7.8, §2.8.x). */
export interface VirtqueueDevice {
  readonly size: number;
  /** The rule violation that stopped the queue, if any; a broken queue pops nothing until reset(). */
  readonly broken: VirtioError | undefined;
  /**
   * Walks the next available chain into `out` (reused; capacity >= maxChainSegments). Returns false when nothing is
   * available. Throws the VirtioError of the first rule the driver broke, and the queue is then broken. Bounded:
   * never loops, never reads outside the memory it was given.
   */
  pop(out: DescriptorChain): boolean;
  /** Number of chains made available and not yet popped (0 when the avail index is invalid). */
  pending(): number;
  /** Queues a used element for buffer `id` with `writtenLen` bytes written; visible after publishUsed(). */
  pushUsed(id: number, writtenLen: number): void;
  /** Publishes queued used elements (used.len before used.idx / flags last); returns true when the driver wants an interrupt. */
  publishUsed(): boolean;
  /** Asks the driver not to notify (used.flags NO_NOTIFY, or the packed device event area). */
  disableNotifications(): void;
  /** Asks for notifications again; returns false when chains are already pending (caller must pop again). */
  enableNotifications(): boolean;
  /** Back to the initial state (indices 0, wrap counters 1, not broken). */
  reset(): void;
}
