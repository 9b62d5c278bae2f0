/**
 * The RPMsg remote: the VirtIO *device* of the RPMsg vdev (OpenAMP in the remote/device role). In the default
 * system it runs in the secure world, so everything in shared memory is hostile input:
 *
 *   - the resource table is copied and validated at attach; vring addresses, sizes and alignment are checked;
 *   - every chain must be exactly one segment of the right direction, at least a header long, inside the buffer
 *     window (default: the buffer pool; never the table or a vring, see window.ts), else it is returned unused and
 *     counted (droppedMalformed);
 *   - a header whose len exceeds the buffer is dropped and counted; messages to unknown addresses are counted;
 *   - a VirtIO rule violation in a ring (VirtioError from the device queues) or a bad table or feature set at
 *     attach (RpmsgError) never escapes poll(): the remote stops, ORs DEVICE_NEEDS_RESET into the vdev status,
 *     notifies the host and waits for the host's reset (status losing NEEDS_RESET), then attaches again from scratch
 *     (the life cycle: RemoteState below; the status/feature handshake: handshake.ts; the receive loop: receive.ts);
 *   - a host reset the remote did not see (status back at DRIVER_OK before the next poll) is found from the rings:
 *     used.idx is written by the device alone and the host's start() zeroes it, so a used.idx in memory other than
 *     the one we last published means new rings. The remote then detaches and attaches again (messages of the new
 *     session are delivered once; nothing of the old one is taken from the new rings). Checked at every poll() and
 *     before every pop for a send. Blind spot: a reset while our published used.idx is 0 on both vrings (nothing
 *     returned yet, or exactly a multiple of 65536 buffers on each). The remote's ring state then equals a fresh
 *     attach's, except for buffers it popped and still holds (held messages, TX buffers taken): with those, new
 *     messages can be skipped as before this check (found only if a ring error follows).
 *
 *   vring0 (remote TX): pop a host-posted writable buffer, write header + payload, return it on the used ring with
 *                       the written length.
 *   vring1 (remote RX): pop a host-filled readable buffer, dispatch it, return it (used length 0) unless held.
 *
 * Over a transport of the device seam (src/virtio/device.ts; the adapter is RpmsgDevice in device.ts) there is no
 * table and no status byte to watch: the transport validates the driver's ring setup, activation hands the two queues
 * over (attach happens at the next poll(), with the same checks per buffer), the transport's reset() detaches, and a
 * broken rule becomes the activation's needsReset() instead of the status bit. The buffer window is then the memory
 * the transport gave the device (the shared window only), unless `bufferWindow` narrows it.
 *
 * Payload views handed to callbacks are shared memory: the host can still change them while a callback runs. Copy
 * (msg.copy()) before validating data that security decisions depend on.
 */
import { PhysicalMemory, type MemoryRegion } from '../virtio/memory.js';
import type { VirtqueueDevice } from '../virtio/virtqueue.js';
import type { DeviceActivation } from '../virtio/device.js';
import { DescriptorChain } from '../virtio/chain.js';
import { SplitVirtqueueDevice } from '../virtio/split/device.js';
import { splitLegacyLayout } from '../virtio/split/layout.js';
import { isVirtioError } from '../virtio/errors.js';
import { bit } from '../virtio/features.js';
import type { RpmsgCommonOptions } from './core.js';
import { RpmsgReceiver } from './receive.js';
import { RxMessage, TxBuffer, TX_FREE } from './buffers.js';
import { RpmsgError, RpmsgErrorCode, isRpmsgError } from './errors.js';
import { RPMSG_HEADER_SIZE, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RPMSG_F_NS, VRING_HOST_RX, VRING_HOST_TX, RPMSG_TRACE_TRACK } from './constants.js';
import { traceDeviceQueue } from '../trace/queues.js';
import { DEFAULT_FEATURES, layoutFromResourceTable, type RpmsgLayout } from './layout.js';
import { StatusByte } from './status.js';
import { deviceAcceptedFeatures, deviceGate, deviceNeedsReset, deviceSeesReset } from './handshake.js';
import { effectiveBufferWindow, type BufferWindow } from './window.js';

export interface RpmsgRemoteOptions extends RpmsgCommonOptions {
  /** Features the remote supports (u32 bits); the host's gfeatures must be within them. Default NS | EVENT_IDX. */
  readonly features?: number;
  /**
   * Where host buffers may lie. Default: the buffer pool of the "vdev0buffer" carveout, else the memory region
   * holding the table. Whatever is given, the table and both vrings are cut out of it (the part holding the pool is
   * kept, else the largest part): the host can never aim the remote's reads or writes at them. See `bufferWindow`.
   */
  readonly bufferWindow?: BufferWindow;
  /**
   * used.len reported for a host-TX buffer (vring1) the remote consumed. 'zero' (default): the bytes written, 0, as
   * VIRTIO 1.2 §2.7.8.2 says. 'descriptor': the buffer's descriptor length, as OpenAMP's device side reports it;
   * OpenAMP's driver sizes a reused TX buffer from it (rpmsg_virtio_get_tx_buffer), Linux ignores it.
   */
  readonly consumedUsedLen?: 'zero' | 'descriptor';
}

/**
 * The remote's life cycle. poll() moves it (a send may too: it re-attaches when it finds new rings, see acquireTx):
 *
 *   from         event                                              to
 *   waiting      status at DRIVER_OK, no FAILED / NEEDS_RESET       attaching
 *   attaching    table, features and rings valid                    announcing
 *   attaching    bad table or features (typed error)                needs-reset  DEVICE_NEEDS_RESET set, host notified
 *   announcing   pending announcements sent (or left pending)       ready
 *   announcing   a send found new rings (a used.idx not ours)       waiting      no attach inside: poll()'s next round
 *   ready        host reset seen (status, or a used.idx not ours)   waiting      attached again in the same poll()
 *   announcing,  a VirtIO rule broken in a ring                     needs-reset  DEVICE_NEEDS_RESET set, host notified
 *   ready
 *   needs-reset  the host cleared NEEDS_RESET (it reset us)         waiting
 *
 * 'attaching' and 'announcing' exist only inside poll() (or inside a send that found new rings). Whatever happens
 * in them, the remote leaves poll() either 'ready' with both rings set up, or detached ('waiting', 'needs-reset')
 * with none: there is no half-attached remote. An announcement never waits for a TX buffer (that could re-enter
 * poll() from inside an attach); one that finds no buffer stays pending and is retried at every poll().
 */
export type RemoteState = 'waiting' | 'attaching' | 'announcing' | 'ready' | 'needs-reset';

/** Longest chain the device queues walk (RPMsg buffers are one descriptor; a little slack, then it is refused). */
const MAX_SEGMENTS = 4;
/**
 * Attach attempts per poll(): a host that resets again and again (or toggles the status byte while we read it)
 * costs at most this many, then poll() returns and the next one goes on. poll() never calls itself.
 */
const MAX_ATTACH_ROUNDS = 3;
const NO_U16 = new Uint16Array(1);
const NO_U32 = new Uint32Array(2);

export class RpmsgRemote extends RpmsgReceiver {
  /** The memory the remote reads and writes (over the seam: the transport's, from the first activation). */
  memory: PhysicalMemory;
  /** Address of the resource table it watches; undefined over a transport of the device seam. */
  readonly rscTable: number | undefined;
  state: RemoteState = 'waiting';
  /** Features in force (u32 bits), valid while ready. */
  negotiatedFeatures = 0;
  /** The layout read at the last attach (resource table only; undefined over the seam). */
  layout: RpmsgLayout | undefined;
  /** Times the remote found the host had reset the device or replaced the rings, and detached. */
  hostResets = 0;
  /** The vdev status byte (resource table only). */
  private readonly status: StatusByte | undefined;
  /** Over the seam: the activation in force (DRIVER_OK seen, not reset since); undefined on the resource table. */
  private activation: DeviceActivation | undefined;
  /** Resource table: the rings are split and their used.idx is watched to see a host reset (ringsReplaced). */
  private readonly watchRings: boolean;
  private txq: VirtqueueDevice | undefined;
  private rxq: VirtqueueDevice | undefined;
  /** The same queues as split rings, when the remote watches their used.idx (resource table only). */
  private txSplit: SplitVirtqueueDevice | undefined;
  private rxSplit: SplitVirtqueueDevice | undefined;
  private tx: TxBuffer[] = [];
  /** Popped TX buffers given back unsent (reused before popping more). */
  private readonly stash: TxBuffer[] = [];
  /** Chains for popping vring1 (RX) and vring0 (TX): separate, since callbacks send while a receive is going on. */
  private chain = new DescriptorChain(MAX_SEGMENTS);
  private txChain = new DescriptorChain(MAX_SEGMENTS);
  private winLo = 0;
  private winHi = 0;
  /** The one region holding the whole buffer window, when there is one (then no lookup per message). */
  private winRegion: MemoryRegion | undefined = undefined;
  /** consumedUsedLen === 'descriptor'. */
  private readonly descLen: boolean;
  /** used.idx of vring0 and vring1 in shared memory (u16 views and indices), to see the host replace the rings. */
  private txIdxU16: Uint16Array = NO_U16;
  private txIdxAt = 0;
  private rxIdxU16: Uint16Array = NO_U16;
  private rxIdxAt = 0;
  /** descLen: vring1's used ring as u32 words (index of ring[0].id) and the used entries pushed (free-running). */
  private rxUsedU32: Uint32Array = NO_U32;
  private rxUsedAt = 0;
  private rxPushed = 0;
  private lastCapacity = 0xffff;
  private corked = 0;
  private txDirty = false;
  /** Name-service announcements that found no TX buffer yet (retried at every poll). */
  private nsBacklog = false;

  /** Reads and validates the table now (a bad table throws a typed error here); attaches in poll() at DRIVER_OK. */
  constructor(memory: PhysicalMemory, rscTable: number, options: RpmsgRemoteOptions);
  /** @internal the seam form (RpmsgRemote.overTransport): no table; queues arrive with activate(). */
  constructor(memory: undefined, rscTable: undefined, options: RpmsgRemoteOptions);
  constructor(memory: PhysicalMemory | undefined, rscTable: number | undefined, options: RpmsgRemoteOptions) {
    super(options);
    const c = options.consumedUsedLen ?? 'zero';
    if (c !== 'zero' && c !== 'descriptor') throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `consumedUsedLen must be 'zero' or 'descriptor', not ${String(c)}`);
    this.descLen = c === 'descriptor';
    this.memory = memory ?? new PhysicalMemory([]);
    this.rscTable = rscTable;
    this.watchRings = rscTable !== undefined;
    if (memory === undefined || rscTable === undefined) {
      // 'descriptor' rewrites a used entry in place, which only the resource table's split rings allow
      if (this.descLen) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, "consumedUsedLen 'descriptor' needs the resource-table transport");
      this.layout = undefined;
      this.status = undefined;
      return;
    }
    this.layout = layoutFromResourceTable(memory, rscTable);
    this.status = new StatusByte(memory, this.layout.statusAddr);
    this.setWindow(this.layout);
  }

  /** A remote whose queues a transport of the device seam sets up (see RpmsgDevice in device.ts). */
  static overTransport(options: RpmsgRemoteOptions): RpmsgRemote {
    return new RpmsgRemote(undefined, undefined, options);
  }

  /**
   * Over the seam: the driver set DRIVER_OK with these queues (0 = vring0, the remote's TX; 1 = vring1, its RX) and
   * features. Nothing is touched here; the next poll() attaches (and checks).
   */
  activate(a: DeviceActivation): void {
    if (this.watchRings) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, 'activate(): this remote watches a resource table');
    if (this.state !== 'waiting' && this.state !== 'needs-reset') this.reset();
    this.activation = a;
    this.memory = a.memory;
  }

  /** The buffer window in force (see RpmsgRemoteOptions.bufferWindow); recomputed at every attach. */
  get bufferWindow(): BufferWindow {
    return { base: this.winLo, size: this.winHi - this.winLo };
  }

  private setWindow(L: RpmsgLayout): void {
    const r = this.memory.findRegion(L.rscTable, 1);
    const w = effectiveBufferWindow(L, (this.opts as RpmsgRemoteOptions).bufferWindow, r);
    this.winLo = w.base;
    this.winHi = w.base + w.size;
    this.winRegion = w.size > 0 ? this.memory.findRegion(w.base, w.size) : undefined;
  }

  /** Rings set up and messages may flow ('ready'; also while the attach sends its announcements). */
  get ready(): boolean {
    return this.state === 'ready' || this.state === 'announcing';
  }
  get needsReset(): boolean {
    return this.state === 'needs-reset';
  }
  get maxPayload(): number {
    return this.lastCapacity;
  }

  /**
   * Tries to attach now (true when ready). poll() does the same. Never throws because of what the host wrote: a bad
   * table or feature set becomes 'needs-reset' (stats.peerErrors, lastError), new rings found while announcing leave
   * the remote 'waiting' (the next poll() attaches to them).
   */
  tryAttach(): boolean {
    if (this.state === 'ready') return true;
    const gate = this.status !== undefined ? deviceGate(this.status.load()) : this.state === 'needs-reset' ? 'needs-reset' : this.activation !== undefined ? 'go' : 'wait';
    if (this.state === 'needs-reset') {
      if (gate === 'needs-reset') return false;
      this.state = 'waiting';
    }
    // 'attaching' / 'announcing' here means an earlier attempt was cut short (an exception from a bug): start over.
    if (this.state !== 'waiting') this.detach('waiting', new RpmsgError(RpmsgErrorCode.NEEDS_RESET, 'attach restarted'));
    if (gate !== 'go') return false;
    this.state = 'attaching';
    try {
      this.attachRings();
    } catch (e) {
      if (!isRpmsgError(e) && !isVirtioError(e)) throw e;
      this.fail(e);
      return false;
    }
    // 'announcing': the rings are ours; send what was waiting to be announced. A send may find that the host
    // replaced the rings already (acquireTx): then it detaches, and this attach is over.
    this.announcePending();
    if ((this.state as RemoteState) !== 'announcing') return false;
    this.state = 'ready';
    return true;
  }

  /**
   * 'attaching': reads the table again (a copy, validated), checks the features, sets up both device queues and the
   * per-buffer objects, then enters 'announcing'. Throws typed errors only; sets nothing in `this` before the table
   * and features passed.
   */
  private attachRings(): void {
    if (this.activation !== undefined) {
      this.attachQueues(this.activation);
      return;
    }
    const L = layoutFromResourceTable(this.memory, this.rscTable!);
    const prev = this.layout!;
    if (L.statusAddr !== prev.statusAddr) throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, 'the vdev entry moved inside the resource table');
    const gfeatures = deviceAcceptedFeatures(this.memory, L.vdev, (this.opts as RpmsgRemoteOptions).features ?? DEFAULT_FEATURES);
    const qf = (gfeatures & Number(bit(VIRTIO_RING_F_EVENT_IDX))) !== 0 ? bit(VIRTIO_RING_F_EVENT_IDX) : 0n;
    const l0 = splitLegacyLayout(L.vring0.da, L.vring0.num, L.vring0.align);
    const l1 = splitLegacyLayout(L.vring1.da, L.vring1.num, L.vring1.align);
    const txq = traceDeviceQueue(new SplitVirtqueueDevice(this.memory, L.vring0.num, l0, { features: qf, maxChainSegments: Math.min(MAX_SEGMENTS, L.vring0.num) }), RPMSG_TRACE_TRACK.vring0);
    const rxq = traceDeviceQueue(new SplitVirtqueueDevice(this.memory, L.vring1.num, l1, { features: qf, maxChainSegments: Math.min(MAX_SEGMENTS, L.vring1.num) }), RPMSG_TRACE_TRACK.vring1);
    const r0 = this.memory.regionFor(l0.used, 4);
    const r1 = this.memory.regionFor(l1.used, 4);
    // Validated: from here on nothing throws.
    this.layout = L;
    this.setWindow(L);
    this.txSplit = txq;
    this.rxSplit = rxq;
    // used.idx (used + 2, §2.7.8) is the device's alone: both queues start at 0, so make memory say so (the host
    // zeroed the rings anyway); from now on a different value there means the host set up new rings.
    this.txIdxU16 = r0.u16;
    this.txIdxAt = (l0.used - r0.base + 2) >>> 1;
    this.rxIdxU16 = r1.u16;
    this.rxIdxAt = (l1.used - r1.base + 2) >>> 1;
    Atomics.store(this.txIdxU16, this.txIdxAt, 0);
    Atomics.store(this.rxIdxU16, this.rxIdxAt, 0);
    // used.ring[i] = { id u32, len u32 } at used + 4 + 8i; the used ring is 4-aligned (align >= 4).
    this.rxUsedU32 = r1.u32;
    this.rxUsedAt = (l1.used - r1.base + 4) >>> 2;
    this.rxPushed = 0;
    this.useQueues(txq, rxq, gfeatures);
  }

  /**
   * Over the seam: the activation's queues, checked (two of them; the features are the transport's, already accepted
   * through checkFeatures). The buffer window: `bufferWindow` if given, else the one region of the activation's
   * memory (the transport gives the device the shared window only).
   */
  private attachQueues(a: DeviceActivation): void {
    const txq = a.queues[VRING_HOST_RX]?.vq;
    const rxq = a.queues[VRING_HOST_TX]?.vq;
    if (txq === undefined || rxq === undefined) throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, 'the driver did not enable both RPMsg queues');
    const gfeatures = Number(BigInt.asUintN(32, a.features));
    const supported = (this.opts as RpmsgRemoteOptions).features ?? DEFAULT_FEATURES;
    if ((gfeatures & ~supported) !== 0) throw new RpmsgError(RpmsgErrorCode.FEATURES, `host accepted features 0x${(gfeatures & ~supported).toString(16)} the remote does not support`);
    const w = (this.opts as RpmsgRemoteOptions).bufferWindow;
    const r = a.memory.regions;
    const lo = w !== undefined ? w.base : r.length === 1 ? r[0]!.base : 0;
    const hi = w !== undefined ? w.base + w.size : r.length === 1 ? r[0]!.end : 0;
    // Validated: from here on nothing throws.
    this.winLo = lo;
    this.winHi = hi;
    this.winRegion = hi > lo ? a.memory.findRegion(lo, hi - lo) : undefined;
    // The transport's queues walk chains of up to their size (DeviceQueueOptions.maxChainSegments default): the
    // chains popped into must hold that many segments (anything but one segment is then refused as malformed).
    const seg = Math.max(txq.size, rxq.size, MAX_SEGMENTS);
    if (this.chain.capacity < seg) {
      this.chain = new DescriptorChain(seg);
      this.txChain = new DescriptorChain(seg);
    }
    this.useQueues(txq, rxq, gfeatures);
  }

  /** 'attaching', either transport: takes the queues, resets per-buffer state, enters 'announcing'. Never throws. */
  private useQueues(txq: VirtqueueDevice, rxq: VirtqueueDevice, gfeatures: number): void {
    this.negotiatedFeatures = gfeatures;
    this.rxBatch = Math.max(1, Math.min(64, rxq.size >>> 2));
    this.txq = txq;
    this.rxq = rxq;
    // The largest payload is learnt again from the new host's buffers (an old tiny buffer must not refuse sends).
    this.lastCapacity = 0xffff;
    txq.disableNotifications();
    this.txWaitReset();
    if (!this.rxArmed) rxq.disableNotifications();
    this.txDirty = false;
    this.generation++;
    if (this.tx.length !== txq.size) {
      this.tx = [];
      for (let i = 0; i < txq.size; i++) this.tx.push(new TxBuffer(i));
    }
    if (this.rx.length !== rxq.size) {
      this.rx = [];
      for (let i = 0; i < rxq.size; i++) this.rx.push(new RxMessage(this, i));
    }
    for (const t of this.tx) t.state = TX_FREE;
    for (const m of this.rx) {
      m.live = false;
      m.held = false;
    }
    this.stash.length = 0;
    this.state = 'announcing';
    if ((gfeatures & (1 << VIRTIO_RPMSG_F_NS)) !== 0) this.enableNameService();
    else this.nsEnabled = false;
  }

  /** Sends pending announcements without waiting (see RemoteState); what finds no TX buffer is retried at poll(). */
  protected override announcePending(): void {
    this.nsBacklog = false;
    if (!this.ready) return;
    this.nsBacklog = !this.announcePendingNow();
  }

  /** Forgets the rings (after the host reset the device, or to re-attach by hand; over the seam: the activation too). */
  reset(): void {
    this.activation = undefined;
    this.detach('waiting', new RpmsgError(RpmsgErrorCode.NEEDS_RESET, 'the remote was reset'));
  }

  private detach(state: RemoteState, why: unknown): void {
    this.state = state;
    this.generation++;
    this.txq = undefined;
    this.rxq = undefined;
    this.txSplit = undefined;
    this.rxSplit = undefined;
    this.txIdxU16 = NO_U16;
    this.txIdxAt = 0;
    this.rxIdxU16 = NO_U16;
    this.rxIdxAt = 0;
    this.rxUsedU32 = NO_U32;
    this.rxUsedAt = 0;
    for (const m of this.rx) m.live = false;
    this.stash.length = 0;
    this.nsBacklog = false;
    this.txDirty = false;
    this.failTxWaiters(why);
    this.forgetPeer();
  }

  /** The host reset the device or replaced the rings: detach (counted in hostResets); poll() attaches again. */
  private hostResetSeen(): void {
    this.hostResets++;
    this.detach('waiting', new RpmsgError(RpmsgErrorCode.NEEDS_RESET, 'the host reset the device'));
  }

  /** The host broke a rule (or the table is bad): stop, ask for a reset, tell the host. */
  protected fail(e: unknown): void {
    this.lastError = e;
    this.stats.peerErrors++;
    this.detach('needs-reset', new RpmsgError(RpmsgErrorCode.NEEDS_RESET, `the RPMsg device needs a reset: ${String(e)}`));
    const a = this.activation;
    if (this.status !== undefined) {
      deviceNeedsReset(this.status);
      this.notify(VRING_HOST_RX);
    } else if (a !== undefined) a.needsReset(String(e));
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
    if (q === undefined || !this.ready) return true;
    return q.enableNotifications();
  }

  disarmRx(): void {
    this.rxArmed = false;
    if (this.ready) this.rxq?.disableNotifications();
  }

  /**
   * A bounded loop, never a recursion: attach if needed; if the host reset the device (status) or replaced the
   * rings behind our back (used.idx), detach and go round again; drain; if a send from a callback found new rings
   * and re-attached, drain those too. At most MAX_ATTACH_ROUNDS rounds per call.
   *
   * Never throws because of anything the host writes, or when: a VirtIO or table rule broken becomes 'needs-reset'
   * (stats.peerErrors, lastError, DEVICE_NEEDS_RESET in the status), a reset becomes a detach (hostResets). What can
   * escape is what the caller's own code throws: options.onCallbackError rethrowing an endpoint callback's error.
   */
  poll(): number {
    let n = 0;
    for (let round = 0; round < MAX_ATTACH_ROUNDS; round++) {
      if (this.state !== 'ready') {
        const gen = this.generation;
        if (!this.tryAttach()) {
          // Detached while announcing (new rings already): attach to those in the next round.
          if (this.state === 'waiting' && this.generation !== gen) continue;
          return n;
        }
      }
      if (this.hostReset()) {
        this.hostResetSeen();
        continue;
      }
      const gen = this.generation;
      // Sends made by callbacks are published once, when the poll ends (an implicit cork).
      this.corked++;
      try {
        n += this.drainRx();
      } finally {
        this.uncork();
      }
      if (this.state === 'ready') {
        if (this.nsBacklog) this.announcePending();
        this.wakeTxWaiters();
      }
      if (this.generation === gen || this.state !== 'ready') return n;
    }
    return n;
  }

  /**
   * Whether the host reset the device since we attached: status without DRIVER_OK or with FAILED (seen), or new
   * rings (status already back at DRIVER_OK: a used.idx in memory that is not the one we published).
   */
  private hostReset(): boolean {
    // over the seam the transport sees resets and calls reset()
    return this.status !== undefined && (deviceSeesReset(this.status.load()) || this.ringsReplaced());
  }

  /** Whether either used.idx in memory differs from the one we published (no rings at all counts as replaced). */
  private ringsReplaced(): boolean {
    const t = this.txSplit;
    const r = this.rxSplit;
    if (t === undefined || r === undefined) return true;
    return Atomics.load(this.txIdxU16, this.txIdxAt) !== t.usedIdx || Atomics.load(this.rxIdxU16, this.rxIdxAt) !== r.usedIdx;
  }

  // ---- receive hooks (the loop is RpmsgReceiver.drainRx) --------------------------------------------------------

  /**
   * A chain on vring1: its head. Well-formed = exactly one readable segment, at least a header long, inside the
   * buffer window (else rxRegion is undefined and the chain is dropped and returned); its length bounds the message.
   */
  protected rxTake(): number {
    const q = this.rxq;
    const c = this.chain;
    if (q === undefined || !q.pop(c)) return -1;
    const addr = c.addr[0]!;
    const blen = c.len[0]!;
    let region: MemoryRegion | undefined;
    if (c.count === 1 && c.readable === 1 && blen >= RPMSG_HEADER_SIZE && addr >= this.winLo && addr + blen <= this.winHi) {
      region = this.winRegion ?? this.memory.findRegion(addr, blen);
    }
    this.rxRegion = region;
    this.rxOff = region === undefined ? 0 : addr - region.base;
    this.rxLimit = blen;
    return c.head;
  }

  /** Returns chain `head` as used with length 0 (§2.7.8.2: nothing written); 'descriptor' mode: see consumedLen. */
  protected rxGiveBack(head: number, len: number): void {
    const q = this.rxq;
    if (q === undefined) return;
    q.pushUsed(head, 0);
    if (this.descLen) this.consumedLen(len);
  }

  protected rxPublish(): void {
    const q = this.rxq;
    if (q !== undefined && q.publishUsed()) this.notify(VRING_HOST_TX);
  }

  protected rxQuiet(): void {
    this.rxq?.disableNotifications();
  }

  protected rxRearm(): boolean {
    const q = this.rxq;
    return q === undefined || q.enableNotifications();
  }

  /** Writes the descriptor length into the used entry just pushed on vring1 (consumedUsedLen 'descriptor'). */
  private consumedLen(len: number): void {
    const slot = this.rxPushed & (this.rxq!.size - 1);
    this.rxUsedU32[this.rxUsedAt + 2 * slot + 1] = len;
    this.rxPushed = (this.rxPushed + 1) & 0xffff;
  }

  private inWindow(addr: number, len: number): boolean {
    return addr >= this.winLo && addr + len <= this.winHi;
  }

  // ---- TX hooks --------------------------------------------------------------------------------------------------

  protected acquireTx(): TxBuffer | undefined {
    const s = this.stash.pop();
    if (s !== undefined) return s;
    let txq = this.txq;
    if (txq === undefined) return undefined;
    const ts = this.txSplit;
    // Resource table only (over the seam txSplit is undefined: the transport reports resets).
    // start() zeroes both used.idx at once, so vring0's alone tells unless we published 0 there (then see
    // reattachForTx): one shared load per send in the steady state. A plain load, not Atomics.load (measured ~5 ns
    // per send more): no ordering rides on it, it is compared with the value we stored, and it is not in a loop the
    // JIT could hoist it out of; poll() looks again with Atomics.
    if (ts !== undefined && (this.txIdxU16[this.txIdxAt] !== ts.usedIdx || ts.usedIdx === 0)) {
      txq = this.reattachForTx(txq);
      if (txq === undefined) return undefined;
    }
    const c = this.txChain;
    try {
      for (;;) {
        if (!txq.pop(c)) {
          if (this.txDirty && this.corked === 0) this.publishTx();
          return undefined;
        }
        const addr = c.addr[0]!;
        const blen = c.len[0]!;
        const t = this.tx[c.head];
        let region: MemoryRegion | undefined;
        if (t === undefined || c.count !== 1 || c.readable !== 0 || blen < RPMSG_HEADER_SIZE || !this.inWindow(addr, blen) || (region = this.winRegion ?? this.memory.findRegion(addr, blen)) === undefined) {
          // Not a buffer we can write a message into: give it back empty and try the next one.
          this.stats.droppedMalformed++;
          txq.pushUsed(c.head, 0);
          this.txDirty = true;
          continue;
        }
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

  /**
   * Slow path of acquireTx (kept out of line): if the host set up new rings and we have not polled since, popping by
   * the old indices would take the wrong slots. In the steady state, attach to the new rings first (a send made now
   * belongs to the new session); while attaching or announcing, only detach (poll() attaches again, never an
   * attach inside an attach). Returns the queue to pop from, undefined when not attached.
   */
  private reattachForTx(txq: VirtqueueDevice): VirtqueueDevice | undefined {
    if (!this.ringsReplaced()) return txq;
    const steady = this.state === 'ready';
    this.hostResetSeen();
    if (!steady) return undefined;
    return this.tryAttach() ? this.txq : undefined;
  }

  protected unacquireTx(b: TxBuffer): void {
    if (b.generation === this.generation) this.stash.push(b);
  }

  protected ownsTx(b: TxBuffer): boolean {
    return this.tx[b.index] === b && b.generation === this.generation;
  }

  protected submitTx(b: TxBuffer, bytes: number): void {
    const q = this.txq;
    if (q === undefined || b.generation !== this.generation) throw new RpmsgError(RpmsgErrorCode.NEEDS_RESET, 'send failed: the rings were reset');
    try {
      q.pushUsed(b.index, bytes);
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
    if (q !== undefined && this.ready && q.publishUsed()) this.notify(VRING_HOST_RX);
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
