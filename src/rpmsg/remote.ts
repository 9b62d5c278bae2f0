/**
 * The RPMsg remote: the VirtIO *device* of the RPMsg vdev (OpenAMP in the remote/device role). In the default
 * system it runs in the secure world, so everything in shared memory is hostile input:
 *
 *   - the resource table is copied and validated at attach; vring addresses, sizes and alignment are checked;
 *   - every chain must be exactly one segment of the right direction, at least a header long, inside the buffer
 *     window (default: the region the table describes), else it is returned unused and counted (droppedMalformed);
 *   - a header whose len exceeds the buffer is dropped and counted; messages to unknown addresses are counted;
 *   - a VirtIO rule violation in a ring (VirtioError from the device queues) never escapes poll(): the remote stops,
 *     ORs DEVICE_NEEDS_RESET into the vdev status, notifies the host and waits for the host's reset (status losing
 *     NEEDS_RESET), then attaches again from scratch.
 *
 *   vring0 (remote TX): pop a host-posted writable buffer, write header + payload, return it on the used ring with
 *                       the written length.
 *   vring1 (remote RX): pop a host-filled readable buffer, dispatch it, return it (used length 0) unless held.
 *
 * Payload views handed to callbacks are shared memory: the host can still change them while a callback runs. Copy
 * (msg.copy()) before validating data that security decisions depend on.
 */
import type { MemoryRegion, PhysicalMemory } from '../virtio/memory.js';
import { DescriptorChain } from '../virtio/chain.js';
import { SplitVirtqueueDevice } from '../virtio/split/device.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import { DeviceStatus } from '../virtio/status.js';
import { isVirtioError } from '../virtio/errors.js';
import { bit } from '../virtio/features.js';
import { RpmsgCore, type RpmsgCommonOptions } from './core.js';
import type { Endpoint } from './endpoint.js';
import { RxMessage, TxBuffer, TX_FREE } from './buffers.js';
import { RpmsgError, RpmsgErrorCode, isRpmsgError } from './errors.js';
import { RPMSG_HEADER_SIZE, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RPMSG_F_NS, VRING_HOST_RX, VRING_HOST_TX } from './constants.js';
import { DEFAULT_FEATURES, layoutFromResourceTable, type RpmsgLayout } from './layout.js';
import { StatusByte } from './status.js';

export interface RpmsgRemoteOptions extends RpmsgCommonOptions {
  /** Features the remote supports (u32 bits); the host's gfeatures must be within them. Default NS | EVENT_IDX. */
  readonly features?: number;
  /**
   * Where host buffers may lie. Default: the span of the table, vrings and buffer carveout when the table has the
   * "vdev0buffer" carveout, else every region of `memory` (then give `memory` only the shared region).
   */
  readonly bufferWindow?: { readonly base: number; readonly size: number };
}

export type RemoteState = 'waiting' | 'ready' | 'needs-reset';

/** Longest chain the device queues walk (RPMsg buffers are one descriptor; a little slack, then it is refused). */
const MAX_SEGMENTS = 4;

export class RpmsgRemote extends RpmsgCore {
  readonly memory: PhysicalMemory;
  readonly rscTable: number;
  state: RemoteState = 'waiting';
  /** Features in force (u32 bits), valid while ready. */
  negotiatedFeatures = 0;
  /** The layout read at the last attach. */
  layout: RpmsgLayout;
  private readonly status: StatusByte;
  private txq: SplitVirtqueueDevice | undefined;
  private rxq: SplitVirtqueueDevice | undefined;
  private tx: TxBuffer[] = [];
  private rx: RxMessage[] = [];
  /** Popped TX buffers given back unsent (reused before popping more). */
  private readonly stash: TxBuffer[] = [];
  /** Chains for popping vring1 (RX) and vring0 (TX): separate, since callbacks send while a receive is going on. */
  private readonly chain = new DescriptorChain(MAX_SEGMENTS);
  private readonly txChain = new DescriptorChain(MAX_SEGMENTS);
  private winLo = 0;
  private winHi = 0;
  /** The one region holding the whole buffer window, when there is one (then no lookup per message). */
  private winRegion: MemoryRegion | undefined = undefined;
  /** Used RX buffers are published at least every this many messages within one poll (and at its end). */
  private rxBatch = 1;
  /** Whether RX notifications are wanted (armRx/disarmRx), re-applied at every attach. */
  private rxArmed = true;
  private generation = 0;
  private lastCapacity = 0xffff;
  private corked = 0;
  private txDirty = false;

  /** Reads and validates the table now (a bad table throws a typed error here); attaches in poll() at DRIVER_OK. */
  constructor(memory: PhysicalMemory, rscTable: number, options: RpmsgRemoteOptions) {
    super(options);
    this.memory = memory;
    this.rscTable = rscTable;
    this.layout = layoutFromResourceTable(memory, rscTable);
    this.status = new StatusByte(memory, this.layout.statusAddr);
  }

  get ready(): boolean {
    return this.state === 'ready';
  }
  get needsReset(): boolean {
    return this.state === 'needs-reset';
  }
  get maxPayload(): number {
    return this.lastCapacity;
  }

  /** Tries to attach now (true when ready). poll() does the same. */
  tryAttach(): boolean {
    if (this.state === 'ready') return true;
    const s = this.status.load();
    if (this.state === 'needs-reset') {
      if ((s & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) return false;
      this.state = 'waiting';
    }
    if ((s & DeviceStatus.DRIVER_OK) === 0 || (s & (DeviceStatus.FAILED | DeviceStatus.DEVICE_NEEDS_RESET)) !== 0) return false;
    try {
      this.attach();
    } catch (e) {
      if (!isRpmsgError(e) && !isVirtioError(e)) throw e;
      this.fail(e);
      return false;
    }
    return true;
  }

  private attach(): void {
    const L = layoutFromResourceTable(this.memory, this.rscTable);
    if (L.statusAddr !== this.layout.statusAddr) throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, 'the vdev entry moved inside the resource table');
    const dfeatures = this.memory.read32(L.vdev + 12);
    const gfeatures = this.memory.read32(L.vdev + 16);
    const supported = (this.opts as RpmsgRemoteOptions).features ?? DEFAULT_FEATURES;
    if ((gfeatures & ~dfeatures) !== 0 || (gfeatures & ~supported) !== 0) {
      throw new RpmsgError(RpmsgErrorCode.FEATURES, `host accepted features 0x${gfeatures.toString(16)} beyond those offered (0x${dfeatures.toString(16)}) or supported`);
    }
    this.layout = L;
    this.negotiatedFeatures = gfeatures >>> 0;
    const w = (this.opts as RpmsgRemoteOptions).bufferWindow;
    if (w !== undefined) {
      this.winLo = w.base;
      this.winHi = w.base + w.size;
    } else if (L.buffers.count > 0) {
      this.winLo = L.base;
      this.winHi = L.base + L.size;
    } else {
      this.winLo = 0;
      this.winHi = Number.MAX_SAFE_INTEGER;
    }
    this.winRegion = this.winHi - this.winLo <= Number.MAX_SAFE_INTEGER / 2 ? this.memory.findRegion(this.winLo, this.winHi - this.winLo) : undefined;
    this.rxBatch = Math.max(1, Math.min(64, L.vring1.num >>> 2));
    const qf = (gfeatures & Number(bit(VIRTIO_RING_F_EVENT_IDX))) !== 0 ? bit(VIRTIO_RING_F_EVENT_IDX) : 0n;
    const o0 = { features: qf, maxChainSegments: Math.min(MAX_SEGMENTS, L.vring0.num) };
    const o1 = { features: qf, maxChainSegments: Math.min(MAX_SEGMENTS, L.vring1.num) };
    this.txq = new SplitVirtqueueDevice(this.memory, L.vring0.num, splitLegacyLayout(L.vring0.da, L.vring0.num, L.vring0.align), o0);
    this.rxq = new SplitVirtqueueDevice(this.memory, L.vring1.num, splitLegacyLayout(L.vring1.da, L.vring1.num, L.vring1.align), o1);
    this.txq.disableNotifications();
    this.txWaitReset();
    if (!this.rxArmed) this.rxq.disableNotifications();
    this.txDirty = false;
    this.generation++;
    if (this.tx.length !== L.vring0.num) {
      this.tx = [];
      for (let i = 0; i < L.vring0.num; i++) this.tx.push(new TxBuffer(i));
    }
    if (this.rx.length !== L.vring1.num) {
      this.rx = [];
      for (let i = 0; i < L.vring1.num; i++) this.rx.push(new RxMessage(this, i));
    }
    for (const t of this.tx) t.state = TX_FREE;
    for (const m of this.rx) {
      m.live = false;
      m.held = false;
    }
    this.stash.length = 0;
    this.state = 'ready';
    if ((gfeatures & (1 << VIRTIO_RPMSG_F_NS)) !== 0) this.enableNameService();
    else this.nsEnabled = false;
    this.announcePending();
  }

  /** Forgets the rings (after the host reset the device, or to re-attach by hand). */
  reset(): void {
    this.detach('waiting', new RpmsgError(RpmsgErrorCode.NEEDS_RESET, 'the remote was reset'));
  }

  private detach(state: RemoteState, why: unknown): void {
    this.state = state;
    this.generation++;
    this.txq = undefined;
    this.rxq = undefined;
    for (const m of this.rx) m.live = false;
    this.stash.length = 0;
    this.failTxWaiters(why);
    this.forgetPeer();
  }

  /** The host broke a rule (or the table is bad): stop, ask for a reset, tell the host. */
  private fail(e: unknown): void {
    this.lastError = e;
    this.stats.peerErrors++;
    this.detach('needs-reset', new RpmsgError(RpmsgErrorCode.NEEDS_RESET, `the RPMsg device needs a reset: ${String(e)}`));
    this.status.or(DeviceStatus.DEVICE_NEEDS_RESET);
    this.notify(VRING_HOST_RX);
  }

  cork(): void {
    this.corked++;
  }
  uncork(): void {
    if (this.corked > 0 && --this.corked === 0 && this.txDirty) this.publishTx();
  }

  armRx(): boolean {
    this.rxArmed = true;
    const q = this.rxq;
    if (q === undefined || this.state !== 'ready') return true;
    return q.enableNotifications();
  }

  disarmRx(): void {
    this.rxArmed = false;
    if (this.state === 'ready') this.rxq?.disableNotifications();
  }

  poll(): number {
    if (this.state !== 'ready') {
      if (!this.tryAttach()) return 0;
    }
    const s = this.status.load();
    if ((s & DeviceStatus.DRIVER_OK) === 0 || (s & DeviceStatus.FAILED) !== 0) {
      // The host reset the device: forget everything and wait for DRIVER_OK again.
      this.detach('waiting', new RpmsgError(RpmsgErrorCode.NEEDS_RESET, 'the host reset the device'));
      return this.tryAttach() ? this.poll() : 0;
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

  private inWindow(addr: number, len: number): boolean {
    return addr >= this.winLo && addr + len <= this.winHi;
  }

  /**
   * Receives every chain on vring1: validate, dispatch, return it as used (length 0) unless held. Used entries are
   * published every rxBatch messages and at the end (one used.idx store, at most one notification per batch).
   *
   * Everything read from shared memory is validated once and used from locals: the chain shape (one readable
   * segment inside the buffer window, at least a header long) and the header's len against the buffer length.
   * One try covers the whole batch: `cur` is set only while an endpoint callback runs, so a throw with `cur` set is
   * the callback's (counted, the batch goes on), any other is the ring's (VirtioError: needs-reset).
   */
  private drainRx(): number {
    const rxq = this.rxq!;
    const c = this.chain;
    const gen = this.generation;
    const msgs = this.rx;
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
          if (!rxq.pop(c)) {
            // Notifications back on (if we turned them off) and a last look: a message published meanwhile was
            // not notified, so it must be taken now (no lost wake-up for a caller that sleeps after poll()).
            if (suppressed) {
              suppressed = false;
              run = 0;
              if (this.rxArmed && !rxq.enableNotifications()) continue;
            }
            break;
          }
          n++;
          if (++run === 2 && this.rxArmed) {
            // A burst: stop asking for a notification per message until the end of this poll (Linux NAPI).
            rxq.disableNotifications();
            suppressed = true;
          }
          const head = c.head;
          const addr = c.addr[0]!;
          const blen = c.len[0]!;
          let region: MemoryRegion | undefined;
          let ok = c.count === 1 && c.readable === 1 && blen >= RPMSG_HEADER_SIZE && addr >= this.winLo && addr + blen <= this.winHi;
          if (ok) {
            region = this.winRegion ?? this.memory.findRegion(addr, blen);
            if (region === undefined) ok = false;
          }
          if (ok) {
            const r = region!;
            const off = addr - r.base;
            const m = msgs[head]!;
            let word3: number;
            if ((off & 3) === 0) {
              const u32 = r.u32;
              const w = off >>> 2;
              word3 = u32[w + 3]!;
              m.src = u32[w]!;
              m.dst = u32[w + 1]!;
            } else {
              const v = r.view;
              word3 = v.getUint32(off + 12, true);
              m.src = v.getUint32(off, true);
              m.dst = v.getUint32(off + 4, true);
            }
            const len = word3 & 0xffff;
            if (len > blen - RPMSG_HEADER_SIZE) ok = false;
            else {
              m.len = len;
              m.flags = word3 >>> 16;
              m.region = r;
              m.payloadOff = off + RPMSG_HEADER_SIZE;
              m.generation = gen;
              const ep = this.route(m);
              if (ep !== undefined) {
                m.live = true;
                cur = m;
                curEp = ep;
                this.invoke(ep, m);
                cur = undefined;
                if (this.generation !== gen) return n; // detached from inside the callback: these rings are gone
                if (m.held) continue;
                m.live = false;
              }
            }
          }
          if (!ok) this.stats.droppedMalformed++;
          rxq.pushUsed(head, 0);
          if (++unpublished >= this.rxBatch) {
            unpublished = 0;
            if (rxq.publishUsed()) this.notify(VRING_HOST_TX);
          }
        }
        if (unpublished > 0 && rxq.publishUsed()) this.notify(VRING_HOST_TX);
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
          if (!this.returnRx(m.index)) return n;
          unpublished++;
        }
        try {
          this.callbackError(e, curEp!);
        } catch (hookError) {
          if (suppressed && this.rxArmed && this.generation === gen) rxq.enableNotifications();
          // options.onCallbackError rethrew: publish what was returned, then let it out.
          if (this.generation === gen && unpublished > 0 && rxq.publishUsed()) this.notify(VRING_HOST_TX);
          throw hookError;
        }
        if (this.generation !== gen) return n;
      }
    }
  }

  /** Pushes RX chain `head` back as used (not published); false when that broke the rings (needs-reset set). */
  private returnRx(head: number): boolean {
    try {
      this.rxq!.pushUsed(head, 0);
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
      this.rxq!.pushUsed(m.index, 0);
      if (this.rxq!.publishUsed()) this.notify(VRING_HOST_TX);
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.fail(e);
    }
  }

  // ---- TX hooks --------------------------------------------------------------------------------------------------

  protected acquireTx(): TxBuffer | undefined {
    const s = this.stash.pop();
    if (s !== undefined) return s;
    const txq = this.txq;
    if (txq === undefined) return undefined;
    const c = this.txChain;
    try {
      for (;;) {
        if (!txq.pop(c)) {
          if (this.txDirty && this.corked === 0) this.publishTx();
          return undefined;
        }
        const addr = c.addr[0]!;
        const blen = c.len[0]!;
        let region: MemoryRegion | undefined;
        if (c.count !== 1 || c.readable !== 0 || blen < RPMSG_HEADER_SIZE || !this.inWindow(addr, blen) || (region = this.winRegion ?? this.memory.findRegion(addr, blen)) === undefined) {
          // Not a buffer we can write a message into: give it back empty and try the next one.
          this.stats.droppedMalformed++;
          txq.pushUsed(c.head, 0);
          this.txDirty = true;
          continue;
        }
        const t = this.tx[c.head]!;
        t.bind(region, addr, Math.min(blen, RPMSG_HEADER_SIZE + 0xffff));
        t.generation = this.generation;
        this.lastCapacity = t.capacity;
        return t;
      }
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.fail(e);
      return undefined;
    }
  }

  protected unacquireTx(b: TxBuffer): void {
    if (b.generation === this.generation) this.stash.push(b);
  }

  protected ownsTx(b: TxBuffer): boolean {
    return this.tx[b.index] === b && b.generation === this.generation;
  }

  protected submitTx(b: TxBuffer, bytes: number): void {
    try {
      this.txq!.pushUsed(b.index, bytes);
    } catch (e) {
      if (!isVirtioError(e)) throw e;
      this.fail(e);
      throw new RpmsgError(RpmsgErrorCode.NEEDS_RESET, `send failed: ${String(e)}`);
    }
    if (this.corked > 0) this.txDirty = true;
    else this.publishTx();
  }

  private publishTx(): void {
    this.txDirty = false;
    const q = this.txq;
    if (q !== undefined && this.state === 'ready' && q.publishUsed()) this.notify(VRING_HOST_RX);
  }

  protected flushTx(): void {
    if (this.txDirty) this.publishTx();
  }

  protected armTxWait(on: boolean): void {
    const q = this.txq;
    if (q === undefined) return;
    if (on) q.enableNotifications();
    else q.disableNotifications();
  }
}
