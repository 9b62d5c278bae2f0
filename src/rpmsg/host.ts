/**
 * The RPMsg host: the VirtIO *driver* of the RPMsg vdev, and owner of the buffer pool (Linux virtio_rpmsg_bus,
 * OpenAMP in the "master"/driver role).
 *
 *   vring0 (host RX):  the host pre-posts its RX buffers as device-writable; the remote fills one per message and
 *                      returns it on the used ring; the host dispatches it and posts it again.
 *   vring1 (host TX):  the host fills a TX buffer (header + payload) and posts it device-readable; the remote reads
 *                      it and returns it on the used ring; the host reclaims it lazily when it needs a buffer
 *                      (as Linux get_a_tx_buf does), so TX-complete interrupts stay off unless a sender waits.
 *
 * Start-up (the status byte of the vdev entry, as remoteproc's virtio config ops do): 0 -> ACKNOWLEDGE -> DRIVER ->
 * gfeatures = dfeatures & wanted -> FEATURES_OK -> rings zeroed, RX buffers posted -> DRIVER_OK. The remote waits for
 * DRIVER_OK before it looks at the rings.
 *
 * Over a transport of the device seam (src/virtio/device.ts, the adapter in driver.ts) the transport runs that handshake
 * and lays out the rings; the host only gets the two queues and the pool (attachQueues), and DEVICE_NEEDS_RESET and
 * resets reach it as reset() calls. Everything from the RX buffers on is the same code either way.
 *
 * Notifications: a TX kick notifies vring 1, a re-post of RX buffers vring 0, each only when the virtqueue says the
 * remote asked for it (EVENT_IDX or flags). cork()/uncork() batch several sends into one publish; poll() corks
 * itself around its callbacks and publishes re-posted RX buffers per batch (see RpmsgReceiver.drainRx in receive.ts).
 */
import { PhysicalMemory, type MemoryRegion } from '../virtio/memory.js';
import { SplitVirtqueueDriver } from '../virtio/split/driver.js';
import type { VirtqueueDriver } from '../virtio/virtqueue.js';
import type { DriverActivation, DriverQueue } from '../virtio/device.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import { isVirtioError } from '../virtio/errors.js';
import { bit } from '../virtio/features.js';
import type { RpmsgCommonOptions } from './core.js';
import { RpmsgReceiver } from './receive.js';
import { RxMessage, TxBuffer, TX_FREE } from './buffers.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import { RPMSG_HEADER_SIZE, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RPMSG_F_NS, VRING_HOST_RX, VRING_HOST_TX, RPMSG_TRACE_TRACK } from './constants.js';
import { traceDriverQueue } from '../trace/queues.js';
import { DEFAULT_FEATURES, layoutFromResourceTable, type RpmsgLayout } from './layout.js';
import { RSC_VDEV_STATUS_OFFSET } from './resource-table.js';
import { StatusByte } from './status.js';
import { driverNegotiate, driverOk, driverSeesNeedsReset } from './handshake.js';

export interface RpmsgHostOptions extends RpmsgCommonOptions {
  /** Features the host wants (u32 bits); negotiated = offered (vdev dfeatures) & wanted. Default NS | EVENT_IDX. */
  readonly features?: number;
}

export interface HostStartOptions {
  /**
   * Notify vring0 (the RX buffers just posted) after DRIVER_OK, as Linux's virtio_rpmsg_bus does at probe: a remote
   * that sleeps until notified then looks at the status byte. Default false (OpenAMP's remote polls the status
   * byte; our remote attaches in any poll()). The notification goes out only when the ring asks for one.
   */
  readonly kick?: boolean;
}

export type HostState = 'idle' | 'ready' | 'needs-reset';

export class RpmsgHost extends RpmsgReceiver {
  /** The memory of the rings and the pool (over the seam: the transport's, from the first attachQueues()). */
  memory: PhysicalMemory;
  /** The resource-table layout this host drives; undefined over a transport of the device seam. */
  readonly layout: RpmsgLayout | undefined;
  state: HostState = 'idle';
  /** Features in force after start() (u32 bits). */
  negotiatedFeatures = 0;
  /** The vdev status byte (resource table only). */
  private readonly status: StatusByte | undefined;
  private bufSize = 0;
  private nRx = 0;
  private nTx = 0;
  private tx: TxBuffer[] = [];
  /** Stack of free TX buffer indices: [0, txFreeCount) are free. */
  private txFree = new Int32Array(0);
  private txFreeCount = 0;
  private rvq: VirtqueueDriver<number> | undefined;
  private svq: VirtqueueDriver<number> | undefined;
  /** Over the seam: the transport's queues (their kick() publishes and notifies); undefined on the resource table. */
  private dq: readonly DriverQueue[] | undefined;
  /** Over the seam: announcements wait for the first poll() after activation (DRIVER_OK is set after attachQueues). */
  private announceDue = false;
  private corked = 0;
  private txDirty = false;
  /** The region holding the pool and the region offset of buffer 0. */
  private pool: MemoryRegion | undefined;
  private poolOff = 0;
  /** Physical address of buffer 0 and the distance between buffers (kept flat for the hot path). */
  private poolBase = 0;
  private stride = 0;

  /** A host driving the RPMsg vdev of a resource table (`layout`): start() runs the status handshake. */
  constructor(memory: PhysicalMemory, layout: RpmsgLayout, options: RpmsgHostOptions);
  /** @internal the seam form (RpmsgHost.overTransport): no table, queues and pool arrive with attachQueues(). */
  constructor(memory: undefined, layout: undefined, options: RpmsgHostOptions);
  constructor(memory: PhysicalMemory | undefined, layout: RpmsgLayout | undefined, options: RpmsgHostOptions) {
    super(options);
    this.memory = memory ?? new PhysicalMemory([]);
    this.layout = layout;
    if (layout === undefined) {
      this.status = undefined;
      return;
    }
    this.usePool(this.memory, layout.buffers, layout.vring0.num, layout.vring1.num);
    this.status = new StatusByte(this.memory, layout.vdev + RSC_VDEV_STATUS_OFFSET);
  }

  /** A host whose rings a transport of the device seam sets up (see RpmsgDriver in driver.ts). */
  static overTransport(options: RpmsgHostOptions): RpmsgHost {
    return new RpmsgHost(undefined, undefined, options);
  }

  /**
   * Places the buffer pool: `count` buffers of `size` bytes from `base`, the first half received into (vring0), the
   * second half sent from (vring1); at most `num0` / `num1` of each are used (one per ring entry).
   */
  private usePool(memory: PhysicalMemory, b: RpmsgLayout['buffers'], num0: number, num1: number): void {
    if (b.count < 2 || b.count % 2 !== 0 || b.size < RPMSG_HEADER_SIZE + 16 || b.size % 8 !== 0) {
      throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, `buffer pool of ${b.count} x ${b.size} bytes: need an even count >= 2 of 8-multiple sizes >= 32`);
    }
    const pool = memory.findRegion(b.base, b.count * b.size);
    if (pool === undefined) throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, `buffer pool at 0x${b.base.toString(16)} is not inside one memory region`);
    this.bufSize = Math.min(b.size, RPMSG_HEADER_SIZE + 0xffff);
    this.nRx = Math.min(b.count / 2, num0);
    this.nTx = Math.min(b.count / 2, num1);
    this.rx = [];
    for (let i = 0; i < this.nRx; i++) this.rx.push(new RxMessage(this, i));
    this.tx = [];
    for (let i = 0; i < this.nTx; i++) {
      const t = new TxBuffer(i);
      t.bind(pool, b.base + (b.count / 2 + i) * b.size, this.bufSize);
      this.tx.push(t);
    }
    this.txFree = new Int32Array(this.nTx);
    this.pool = pool;
    this.poolOff = b.base - pool.base;
    this.poolBase = b.base;
    this.stride = b.size;
    this.rxBatch = Math.max(1, Math.min(64, this.nRx >>> 2));
  }

  /** A host over the layout a resource table in memory describes (buffers: given, else the "vdev0buffer" carveout). */
  static adopt(memory: PhysicalMemory, rscTable: number, options: RpmsgHostOptions & { readonly buffers?: RpmsgLayout['buffers'] }): RpmsgHost {
    return new RpmsgHost(memory, layoutFromResourceTable(memory, rscTable, options.buffers), options);
  }

  get ready(): boolean {
    return this.state === 'ready';
  }
  get needsReset(): boolean {
    return this.state === 'needs-reset';
  }
  get maxPayload(): number {
    return this.bufSize - RPMSG_HEADER_SIZE;
  }
  /** The buffer pool in use: `count` buffers of `size` bytes from `base` (RX half first); count 0 before the pool is placed. */
  get bufferPool(): { readonly base: number; readonly size: number; readonly count: number } {
    return { base: this.poolBase, size: this.stride, count: this.nRx + this.nTx };
  }
  /** TX buffers free right now without reclaiming. */
  get txFreeNow(): number {
    return this.txFreeCount;
  }

  /** Runs the status handshake, posts the RX buffers and sets DRIVER_OK (then notifies, with `kick`). */
  start(options: HostStartOptions = {}): void {
    if (this.state === 'ready') return;
    const L = this.layout;
    if (L === undefined || this.status === undefined) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, 'start(): this host is carried by a transport (its activation starts it)');
    this.negotiatedFeatures = driverNegotiate(this.memory, L.vdev, this.status, (this.opts as RpmsgHostOptions).features ?? DEFAULT_FEATURES);

    const eventIdx = (this.negotiatedFeatures & Number(bit(VIRTIO_RING_F_EVENT_IDX))) !== 0;
    const qf = eventIdx ? bit(VIRTIO_RING_F_EVENT_IDX) : 0n;
    const l0 = splitLegacyLayout(L.vring0.da, L.vring0.num, L.vring0.align);
    const l1 = splitLegacyLayout(L.vring1.da, L.vring1.num, L.vring1.align);
    this.memory.fill(L.vring0.da, l0.totalBytes);
    this.memory.fill(L.vring1.da, l1.totalBytes);
    const rvq = traceDriverQueue(new SplitVirtqueueDriver<number>(this.memory, L.vring0.num, l0, { features: qf }), RPMSG_TRACE_TRACK.vring0);
    const svq = traceDriverQueue(new SplitVirtqueueDriver<number>(this.memory, L.vring1.num, l1, { features: qf }), RPMSG_TRACE_TRACK.vring1);
    // Publish the RX buffers; whether the remote wants a notification for them is decided now (Linux:
    // virtqueue_kick_prepare before virtio_device_ready), the notification itself goes out after DRIVER_OK.
    const rxNotify = this.useRings(rvq, svq);
    this.state = 'ready';
    if ((this.negotiatedFeatures & (1 << VIRTIO_RPMSG_F_NS)) !== 0) this.enableNameService();
    driverOk(this.status);
    if (options.kick === true && rxNotify) this.notify(VRING_HOST_RX);
    this.announcePending();
  }

  /**
   * Over a transport of the device seam: the transport negotiated `a.features` and set up queue 0 (vring0, host RX)
   * and queue 1 (vring1, host TX) in `a.memory`; the buffers go into `a.pool`, `bufferSize` bytes each, as many as
   * the pool and the rings take (one per ring entry and direction at most). Posts the RX buffers (published, not
   * notified: the transport sets DRIVER_OK after this returns and the device looks at its queues when it goes live).
   * Name-service announcements go out at the first poll() after it.
   */
  attachQueues(a: DriverActivation, bufferSize: number): void {
    if (this.layout !== undefined) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, 'attachQueues(): this host drives a resource table (use start())');
    const q0 = a.queues[VRING_HOST_RX];
    const q1 = a.queues[VRING_HOST_TX];
    if (q0 === undefined || q1 === undefined) throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, `RPMsg needs 2 queues, the transport set up ${a.queues.length}`);
    if (this.state !== 'idle') this.reset();
    const perDirection = Math.min(q0.vq.size, q1.vq.size, Math.floor(a.pool.size / bufferSize / 2));
    this.usePool(a.memory, { base: a.pool.base, size: bufferSize, count: 2 * perDirection }, q0.vq.size, q1.vq.size);
    this.memory = a.memory;
    this.negotiatedFeatures = Number(BigInt.asUintN(32, a.features));
    this.dq = a.queues;
    this.useRings(q0.vq, q1.vq);
    this.state = 'ready';
    if ((this.negotiatedFeatures & (1 << VIRTIO_RPMSG_F_NS)) !== 0) this.enableNameService();
    else this.nsEnabled = false;
    this.announceDue = true;
  }

  /** Takes two fresh rings: RX buffers posted and published (returns whether the remote asked to be notified), TX all free. */
  private useRings(rvq: VirtqueueDriver<number>, svq: VirtqueueDriver<number>): boolean {
    this.rvq = rvq;
    this.svq = svq;
    svq.disableCallbacks();
    this.txWaitReset();
    if (!this.rxArmed) rvq.disableCallbacks();
    this.txDirty = false;
    this.generation++;
    const base = this.poolBase;
    const stride = this.stride;
    for (let i = 0; i < this.nRx; i++) {
      const m = this.rx[i]!;
      m.live = false;
      m.held = false;
      rvq.addBuffer(base + i * stride, this.bufSize, true, i);
    }
    const rxNotify = rvq.kick();
    this.txFreeCount = 0;
    for (let i = this.nTx - 1; i >= 0; i--) {
      this.tx[i]!.state = TX_FREE;
      this.tx[i]!.generation = this.generation;
      this.txFree[this.txFreeCount++] = i;
    }
    return rxNotify;
  }

  /** Publishes what was added to ring `vq` and notifies when the remote asked for it (over the seam: the queue's kick). */
  private publish(q: VirtqueueDriver<number>, vq: number): void {
    const dq = this.dq;
    if (dq !== undefined) {
      if (dq[vq]!.kick()) this.stats.notifications++;
    } else if (q.kick()) this.notify(vq);
  }

  /**
   * Resets the device (status 0, rings forgotten, held and taken buffers invalidated, waiting senders rejected).
   * Call start() again afterwards; a remote that has not seen the reset yet detects the stale rings and asks again.
   */
  reset(): void {
    this.status?.store(0);
    this.state = 'idle';
    this.dq = undefined;
    this.announceDue = false;
    this.generation++;
    this.failTxWaiters(new RpmsgError(RpmsgErrorCode.NEEDS_RESET, 'the device was reset'));
    for (const m of this.rx) m.live = false;
    this.forgetPeer();
    this.rvq = undefined;
    this.svq = undefined;
  }

  /** Holds TX kicks until uncork() (nested): a burst is published with one index update and at most one notification. */
  cork(): void {
    this.corked++;
  }
  uncork(): void {
    if (this.corked > 0 && --this.corked === 0 && this.txDirty) this.kickTx();
  }

  armRx(): boolean {
    this.rxArmed = true;
    const q = this.rvq;
    if (q === undefined || this.state !== 'ready') return true;
    return q.enableCallbacks();
  }

  disarmRx(): void {
    this.rxArmed = false;
    if (this.state === 'ready') this.rvq?.disableCallbacks();
  }

  poll(): number {
    if (this.state !== 'ready') return 0;
    if (this.announceDue) {
      this.announceDue = false;
      this.announcePending();
    }
    if (this.status !== undefined && driverSeesNeedsReset(this.status)) {
      this.fail(new RpmsgError(RpmsgErrorCode.NEEDS_RESET, 'the remote set DEVICE_NEEDS_RESET'));
      return 0;
    }
    // Sends made by callbacks are published once, when the poll ends (an implicit cork).
    this.corked++;
    let n: number;
    try {
      n = this.drainRx();
    } finally {
      this.uncork();
    }
    if (this.state === 'ready') this.wakeTxWaiters();
    return n;
  }

  // ---- receive hooks (the loop is RpmsgReceiver.drainRx) ------------------------------------------------------

  /** A used RX buffer: its pool index; the remote's used.len bounds the message (it must hold at least a header). */
  protected rxTake(): number {
    const q = this.rvq;
    if (q === undefined) return -1;
    const idx = q.popUsed();
    if (idx === undefined) return -1;
    const usedLen = q.lastUsedLen;
    this.rxRegion = usedLen >= RPMSG_HEADER_SIZE && usedLen <= this.bufSize ? this.pool : undefined;
    this.rxOff = this.poolOff + idx * this.stride;
    this.rxLimit = usedLen;
    return idx;
  }

  /** Posts RX buffer `idx` again (the whole buffer, device-writable). */
  protected rxGiveBack(idx: number, _len: number): void {
    this.rvq?.addBuffer(this.poolBase + idx * this.stride, this.bufSize, true, idx);
  }

  protected rxPublish(): void {
    const q = this.rvq;
    if (q !== undefined && this.state === 'ready') this.publish(q, VRING_HOST_RX);
  }

  protected rxQuiet(): void {
    this.rvq?.disableCallbacks();
  }

  protected rxRearm(): boolean {
    const q = this.rvq;
    return q === undefined || q.enableCallbacks();
  }

  protected fail(e: unknown): void {
    this.state = 'needs-reset';
    this.lastError = e;
    this.stats.peerErrors++;
    this.failTxWaiters(new RpmsgError(RpmsgErrorCode.NEEDS_RESET, `the RPMsg device needs a reset: ${String(e)}`));
  }

  // ---- TX hooks --------------------------------------------------------------------------------------------------

  /** Takes back the TX buffers the remote has returned on vring1. */
  private reclaim(): void {
    const svq = this.svq!;
    try {
      for (;;) {
        const i = svq.popUsed();
        if (i === undefined) return;
        this.txFree[this.txFreeCount++] = i;
      }
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.fail(e);
    }
  }

  protected acquireTx(): TxBuffer | undefined {
    if (this.txFreeCount === 0) {
      this.reclaim();
      if (this.txFreeCount === 0 || this.state !== 'ready') return undefined;
    }
    return this.tx[this.txFree[--this.txFreeCount]!];
  }

  protected unacquireTx(b: TxBuffer): void {
    this.txFree[this.txFreeCount++] = b.index;
  }

  protected ownsTx(b: TxBuffer): boolean {
    return this.tx[b.index] === b && b.generation === this.generation;
  }

  protected submitTx(b: TxBuffer, bytes: number): void {
    try {
      this.svq!.addBuffer(b.addr, bytes, false, b.index);
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.fail(e);
      throw new RpmsgError(RpmsgErrorCode.NEEDS_RESET, `send failed: ${String(e)}`);
    }
    if (this.corked > 0) this.txDirty = true;
    else this.kickTx();
  }

  private kickTx(): void {
    this.txDirty = false;
    const q = this.svq;
    if (q !== undefined && this.state === 'ready') this.publish(q, VRING_HOST_TX);
  }

  protected flushTx(): void {
    if (this.txDirty) this.kickTx();
  }

  protected armTxWait(on: boolean): void {
    const svq = this.svq;
    if (svq === undefined) return;
    if (on) svq.enableCallbacks();
    else svq.disableCallbacks();
  }
}
