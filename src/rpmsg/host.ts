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
 * Notifications: a TX kick notifies vring 1, a re-post of RX buffers vring 0, each only when the virtqueue says the
 * remote asked for it (EVENT_IDX or flags). cork()/uncork() batch several sends into one publish; poll() corks
 * itself around its callbacks and publishes re-posted RX buffers per batch (see drainRx).
 */
import type { MemoryRegion, PhysicalMemory } from '../virtio/memory.js';
import { SplitVirtqueueDriver } from '../virtio/split/driver.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import { DeviceStatus } from '../virtio/status.js';
import { isVirtioError } from '../virtio/errors.js';
import { bit } from '../virtio/features.js';
import { RpmsgCore, type RpmsgCommonOptions } from './core.js';
import type { Endpoint } from './endpoint.js';
import { RxMessage, TxBuffer, TX_FREE } from './buffers.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import { RPMSG_HEADER_SIZE, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RPMSG_F_NS, VRING_HOST_RX, VRING_HOST_TX } from './constants.js';
import { DEFAULT_FEATURES, layoutFromResourceTable, type RpmsgLayout } from './layout.js';
import { RSC_VDEV_STATUS_OFFSET } from './resource-table.js';
import { StatusByte } from './status.js';
import { driverNegotiate, driverReady } from '../transport/rsc-table/handshake.js';

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

export class RpmsgHost extends RpmsgCore {
  readonly memory: PhysicalMemory;
  readonly layout: RpmsgLayout;
  state: HostState = 'idle';
  /** Features in force after start() (u32 bits). */
  negotiatedFeatures = 0;
  private readonly status: StatusByte;
  private readonly bufSize: number;
  private readonly nRx: number;
  private readonly nTx: number;
  private readonly rx: RxMessage[] = [];
  private readonly tx: TxBuffer[] = [];
  /** Stack of free TX buffer indices: [0, txFreeCount) are free. */
  private readonly txFree: Int32Array;
  private txFreeCount = 0;
  private rvq: SplitVirtqueueDriver<number> | undefined;
  private svq: SplitVirtqueueDriver<number> | undefined;
  private generation = 0;
  private corked = 0;
  private txDirty = false;
  /** The region holding the pool, the region offset of buffer 0 and whether headers can be read as u32 words. */
  private readonly pool: MemoryRegion;
  private readonly poolOff: number;
  private readonly poolAligned: boolean;
  /** Re-posted RX buffers are published at least every this many messages within one poll (and at its end). */
  private readonly rxBatch: number;
  /** Whether RX notifications are wanted (armRx/disarmRx), re-applied to new rings at start(). */
  private rxArmed = true;

  constructor(memory: PhysicalMemory, layout: RpmsgLayout, options: RpmsgHostOptions) {
    super(options);
    this.memory = memory;
    this.layout = layout;
    const b = layout.buffers;
    if (b.count < 2 || b.count % 2 !== 0 || b.size < RPMSG_HEADER_SIZE + 16 || b.size % 8 !== 0) {
      throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, `buffer pool of ${b.count} x ${b.size} bytes: need an even count >= 2 of 8-multiple sizes >= 32`);
    }
    const pool = memory.findRegion(b.base, b.count * b.size);
    if (pool === undefined) throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, `buffer pool at 0x${b.base.toString(16)} is not inside one memory region`);
    this.bufSize = Math.min(b.size, RPMSG_HEADER_SIZE + 0xffff);
    this.nRx = Math.min(b.count / 2, layout.vring0.num);
    this.nTx = Math.min(b.count / 2, layout.vring1.num);
    for (let i = 0; i < this.nRx; i++) this.rx.push(new RxMessage(this, i));
    for (let i = 0; i < this.nTx; i++) {
      const t = new TxBuffer(i);
      t.bind(pool, b.base + (b.count / 2 + i) * b.size, this.bufSize);
      this.tx.push(t);
    }
    this.txFree = new Int32Array(this.nTx);
    this.pool = pool;
    this.poolOff = b.base - pool.base;
    this.poolAligned = this.poolOff % 4 === 0;
    this.rxBatch = Math.max(1, Math.min(64, this.nRx >>> 2));
    this.status = new StatusByte(memory, layout.vdev + RSC_VDEV_STATUS_OFFSET);
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
  /** TX buffers free right now without reclaiming. */
  get txFreeNow(): number {
    return this.txFreeCount;
  }

  /** Runs the status handshake, posts the RX buffers and sets DRIVER_OK (then notifies, with `kick`). */
  start(options: HostStartOptions = {}): void {
    if (this.state === 'ready') return;
    const L = this.layout;
    const wanted = (this.opts as RpmsgHostOptions).features ?? DEFAULT_FEATURES;
    this.negotiatedFeatures = driverNegotiate(this.memory, L.vdev, this.status, () => wanted);

    const eventIdx = (this.negotiatedFeatures & Number(bit(VIRTIO_RING_F_EVENT_IDX))) !== 0;
    const qf = eventIdx ? bit(VIRTIO_RING_F_EVENT_IDX) : 0n;
    const l0 = splitLegacyLayout(L.vring0.da, L.vring0.num, L.vring0.align);
    const l1 = splitLegacyLayout(L.vring1.da, L.vring1.num, L.vring1.align);
    this.memory.fill(L.vring0.da, l0.totalBytes);
    this.memory.fill(L.vring1.da, l1.totalBytes);
    this.rvq = new SplitVirtqueueDriver<number>(this.memory, L.vring0.num, l0, { features: qf });
    this.svq = new SplitVirtqueueDriver<number>(this.memory, L.vring1.num, l1, { features: qf });
    this.svq.disableCallbacks();
    this.txWaitReset();
    if (!this.rxArmed) this.rvq.disableCallbacks();
    this.txDirty = false;
    this.generation++;
    const b = L.buffers;
    for (let i = 0; i < this.nRx; i++) {
      const m = this.rx[i]!;
      m.live = false;
      m.held = false;
      this.rvq.addBuffer(b.base + i * b.size, this.bufSize, true, i);
    }
    // Publish the RX buffers; whether the remote wants a notification for them is decided now (Linux:
    // virtqueue_kick_prepare before virtio_device_ready), the notification itself goes out after DRIVER_OK.
    const rxNotify = this.rvq.kick();
    this.txFreeCount = 0;
    for (let i = this.nTx - 1; i >= 0; i--) {
      this.tx[i]!.state = TX_FREE;
      this.tx[i]!.generation = this.generation;
      this.txFree[this.txFreeCount++] = i;
    }
    this.state = 'ready';
    if ((this.negotiatedFeatures & (1 << VIRTIO_RPMSG_F_NS)) !== 0) this.enableNameService();
    driverReady(this.status);
    if (options.kick === true && rxNotify) this.notify(VRING_HOST_RX);
    this.announcePending();
  }

  /**
   * Resets the device (status 0, rings forgotten, held and taken buffers invalidated, waiting senders rejected).
   * Call start() again afterwards; a remote that has not seen the reset yet detects the stale rings and asks again.
   */
  reset(): void {
    this.status.store(0);
    this.state = 'idle';
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
    if ((this.status.load() & (DeviceStatus.DEVICE_NEEDS_RESET | DeviceStatus.FAILED)) !== 0) {
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

  /**
   * Receives every used RX buffer: validate, dispatch, post again unless held. Re-posts are published every rxBatch
   * messages and at the end (one avail.idx store and at most one notification per batch).
   *
   * One try covers the whole batch: `cur` is set only while an endpoint callback runs, so a throw with `cur` set is
   * the callback's (counted, the batch goes on), any other is the ring's (VirtioError: needs-reset).
   */
  private drainRx(): number {
    const rvq = this.rvq!;
    const gen = this.generation;
    const msgs = this.rx;
    const u32 = this.pool.u32;
    const view = this.pool.view;
    const aligned = this.poolAligned;
    const base = this.layout.buffers.base;
    const stride = this.layout.buffers.size;
    const bufSize = this.bufSize;
    let n = 0;
    let unpublished = 0;
    let cur: RxMessage | undefined;
    let curEp: Endpoint | undefined;
    /** Messages popped since notifications were last (re-)enabled, and whether this poll turned them off. */
    let run = 0;
    let suppressed = false;
    for (;;) {
      try {
        for (;;) {
          const idx = rvq.popUsed();
          if (idx === undefined) {
            // Notifications back on (if we turned them off) and a last look: a message published meanwhile was
            // not notified, so it must be taken now (no lost wake-up for a caller that sleeps after poll()).
            if (suppressed) {
              suppressed = false;
              run = 0;
              if (this.rxArmed && !rvq.enableCallbacks()) continue;
            }
            break;
          }
          n++;
          if (++run === 2 && this.rxArmed) {
            // A burst: stop asking for a notification per message until the end of this poll (Linux NAPI).
            rvq.disableCallbacks();
            suppressed = true;
          }
          const usedLen = rvq.lastUsedLen;
          const off = this.poolOff + idx * stride;
          // Linux rpmsg_recv_single: the used length must hold the header and the payload it announces. Each
          // header field is read once.
          let ok = usedLen >= RPMSG_HEADER_SIZE && usedLen <= bufSize;
          if (ok) {
            const m = msgs[idx]!;
            let word3: number;
            if (aligned) {
              const w = off >>> 2;
              m.src = u32[w]!;
              m.dst = u32[w + 1]!;
              word3 = u32[w + 3]!;
            } else {
              m.src = view.getUint32(off, true);
              m.dst = view.getUint32(off + 4, true);
              word3 = view.getUint32(off + 12, true);
            }
            const len = word3 & 0xffff;
            if (len > usedLen - RPMSG_HEADER_SIZE) ok = false;
            else {
              m.len = len;
              m.flags = word3 >>> 16;
              m.region = this.pool;
              m.payloadOff = off + RPMSG_HEADER_SIZE;
              m.generation = gen;
              const ep = this.route(m);
              if (ep !== undefined) {
                m.live = true;
                cur = m;
                curEp = ep;
                this.invoke(ep, m);
                cur = undefined;
                if (this.generation !== gen) return n; // reset from inside the callback: these rings are gone
                if (m.held) continue;
                m.live = false;
              }
            }
          }
          if (!ok) this.stats.droppedMalformed++;
          rvq.addBuffer(base + idx * stride, bufSize, true, idx);
          if (++unpublished >= this.rxBatch) {
            unpublished = 0;
            if (rvq.kick()) this.notify(VRING_HOST_RX);
          }
        }
        if (unpublished > 0 && rvq.kick()) this.notify(VRING_HOST_RX);
        return n;
      } catch (e) {
        const m = cur;
        if (m === undefined) {
          if (!isVirtioError(e)) throw e;
          this.fail(e);
          return n;
        }
        cur = undefined;
        if (this.generation === gen && !m.held) {
          m.live = false;
          if (!this.repostRx(m.index)) return n;
          unpublished++;
        }
        try {
          this.callbackError(e, curEp!);
        } catch (hookError) {
          if (suppressed && this.rxArmed && this.generation === gen) rvq.enableCallbacks();
          // options.onCallbackError rethrew: publish what was re-posted, then let it out.
          if (this.generation === gen && unpublished > 0 && this.state === 'ready' && rvq.kick()) this.notify(VRING_HOST_RX);
          throw hookError;
        }
        if (this.generation !== gen) return n;
      }
    }
  }

  /** Posts RX buffer `idx` again (not published); false when the ring broke (needs-reset set). */
  private repostRx(idx: number): boolean {
    try {
      this.rvq!.addBuffer(this.layout.buffers.base + idx * this.layout.buffers.size, this.bufSize, true, idx);
      return true;
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.fail(e);
      return false;
    }
  }

  releaseRx(m: RxMessage): void {
    m.live = false;
    if (m.generation !== this.generation || this.state !== 'ready') return;
    try {
      this.rvq!.addBuffer(this.layout.buffers.base + m.index * this.layout.buffers.size, this.bufSize, true, m.index);
      if (this.rvq!.kick()) this.notify(VRING_HOST_RX);
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
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
    if (q !== undefined && this.state === 'ready' && q.kick()) this.notify(VRING_HOST_TX);
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
