/**
 * The driver side of a virtio-mmio window (./window.ts): the initialisation of VIRTIO 1.2 §4.2.3.1 / §3.1.1 over the
 * register mailbox, one access at a time, without blocking: each access resolves when poll() sees the device's answer,
 * so the bring-up is an async sequence the partition's idle loop drives.
 *
 *   Magic, Version 2, DeviceID → Status 0 → ACKNOWLEDGE → DRIVER → DeviceFeatures[0..63] → DriverFeatures (+VERSION_1)
 *   → FEATURES_OK, re-read (refused → FAILED) → per queue: QueueSel, QueueReady = 0?, QueueNumMax, QueueNum,
 *   Desc/Driver/Device, QueueReady = 1 → driver.activate() → DRIVER_OK
 *
 * Rings: split (RING_PACKED is withheld from the driver), each in the legacy contiguous layout (a valid VIRTIO 1.x placement), 4 KiB aligned, inside the room the
 * plan gives this device. Notifications: the queue's notify id (./window.ts explains why not a QueueNotify store).
 */
import type { PhysicalMemory } from '../../virtio/memory.js';
import { DeviceStatus } from '../../virtio/status.js';
import { MMIO_MAGIC, MMIO_VERSION, MmioReg } from '../../virtio/mmio/registers.js';
import { VirtioFeature, bit } from '../../virtio/features.js';
import { SplitVirtqueueDriver } from '../../virtio/split/driver.js';
import { splitLegacyLayout } from '../../virtio/split/layout.js';
import type { DriverQueue, VirtioDriver } from '../../virtio/device.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { badQueueSize, checkConfigAccess, driverQueue, unofferedFeatures } from '../driver-setup.js';
import { DriverTransportState } from '../driver-state.js';
import { MmioOp, MmioWin } from './window.js';
import type { MmioPlacement } from './device.js';

export interface MmioDriverTransportOptions {
  readonly memory: PhysicalMemory;
  readonly placement: MmioPlacement;
  readonly driver: VirtioDriver;
  readonly kick: (notifyid: number) => void;
}

type State = 'idle' | 'probing' | 'live' | 'failed' | 'needs-reset';
const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

export class MmioDriverTransport extends DriverTransportState<State> {
  readonly stats = { accesses: 0, kicks: 0, interrupts: 0 };
  private readonly memory: PhysicalMemory;
  private readonly p: MmioPlacement;
  private readonly kickFn: (id: number) => void;
  private readonly w32: Int32Array;
  private readonly wOff: number;
  private seq = 0;
  private pending: ((v: number) => void) | undefined;
  private tail: Promise<number> = Promise.resolve(0);
  /** The device's config space as last read (§2.5.1: a generation-consistent snapshot), refreshed on config interrupts. */
  private config: Uint8Array = new Uint8Array(0);
  private refreshing = false;

  constructor(o: MmioDriverTransportOptions) {
    super(o.driver, o.placement.deviceType, 'window', 'idle');
    const r = o.memory.findRegion(o.placement.base, 64);
    if (r === undefined || o.placement.base % 8 !== 0) throw new TransportError(TransportErrorCode.BAD_LAYOUT, `mmio window at 0x${o.placement.base.toString(16)} is outside memory`);
    this.memory = o.memory;
    this.p = o.placement;
    this.kickFn = o.kick;
    this.w32 = new Int32Array(r.buffer, r.byteOffset, Math.floor(r.size / 4));
    this.wOff = (o.placement.base - r.base) / 4;
    this.seq = Atomics.load(this.w32, this.wOff + MmioWin.REQ_SEQ / 4);
  }

  start(): void {
    this.stopDriver();
    this.st = 'probing';
    this.lastError = undefined;
    this.bringUp().catch((e: unknown) => {
      this.lastError = e instanceof TransportError ? e : new TransportError(TransportErrorCode.BAD_ARGUMENT, e instanceof Error ? e.message : String(e));
      this.st = 'failed';
      this.pending = undefined;
    });
  }

  poll(): number {
    let n = 0;
    const done = this.pending;
    if (done !== undefined && Atomics.load(this.w32, this.wOff + MmioWin.RESP_SEQ / 4) === this.seq) {
      this.pending = undefined;
      done(Atomics.load(this.w32, this.wOff + MmioWin.RESULT / 4) >>> 0);
      n++;
    }
    if (this.st === 'live') {
      if (this.deviceNeedsReset(Atomics.load(this.w32, this.wOff + MmioWin.STATUS / 4), `mmio device ${this.p.index} set DEVICE_NEEDS_RESET`)) return n + 1;
      const irq = Atomics.exchange(this.w32, this.wOff + MmioWin.IRQ / 4, 0);
      if ((irq & 2) !== 0 && !this.refreshing) {
        this.refreshing = true;
        void this.readConfigSpace().then(
          (b) => ((this.config = b), (this.refreshing = false)),
          () => (this.refreshing = false),
        );
      }
      n += this.interruptDriver();
    }
    return n;
  }

  /** Accesses are serialised: the mailbox has one slot. */
  private access(op: number, offset: number, value = 0, size = 4): Promise<number> {
    const next = this.tail.then(() => this.accessNow(op, offset, value, size));
    this.tail = next.catch(() => 0);
    return next;
  }
  private accessNow(op: number, offset: number, value: number, size: number): Promise<number> {
    const w = this.w32;
    const o = this.wOff;
    Atomics.store(w, o + MmioWin.OP / 4, op);
    Atomics.store(w, o + MmioWin.OFFSET / 4, offset);
    Atomics.store(w, o + MmioWin.SIZE / 4, size);
    Atomics.store(w, o + MmioWin.VALUE / 4, value | 0);
    this.seq = (this.seq + 1) | 0;
    const p = new Promise<number>((resolve) => (this.pending = resolve));
    Atomics.store(w, o + MmioWin.REQ_SEQ / 4, this.seq);
    this.stats.accesses++;
    this.kick();
    return p;
  }
  private read(offset: number): Promise<number> {
    return this.access(MmioOp.READ, offset);
  }
  private async write(offset: number, v: number): Promise<void> {
    await this.access(MmioOp.WRITE, offset, v);
  }
  private kick(): void {
    this.stats.kicks++;
    this.kickFn(this.p.notifyIds[0]!);
  }

  /** Reads the whole config space, retrying until ConfigGeneration is the same before and after (§2.5.1, §4.2.3.1). */
  private async readConfigSpace(): Promise<Uint8Array> {
    const n = this.p.configSize;
    const out = new Uint8Array(n);
    for (let attempt = 0; attempt < 8; attempt++) {
      const g0 = await this.read(MmioReg.CONFIG_GENERATION);
      for (let k = 0; k < n; k++) out[k] = await this.access(MmioOp.READ, MmioReg.CONFIG + k, 0, 1);
      if ((await this.read(MmioReg.CONFIG_GENERATION)) === g0) return out;
    }
    return this.fail(TransportErrorCode.BAD_STATUS, 'config generation kept changing while reading the config space');
  }

  private fail(code: TransportErrorCode, msg: string): never {
    throw new TransportError(code, `mmio device ${this.p.index}: ${msg}`);
  }

  private async bringUp(): Promise<void> {
    const R = MmioReg;
    if ((await this.read(R.MAGIC_VALUE)) !== MMIO_MAGIC) this.fail(TransportErrorCode.BAD_LAYOUT, 'bad magic value');
    const version = await this.read(R.VERSION);
    if (version !== MMIO_VERSION) this.fail(TransportErrorCode.BAD_LAYOUT, `version ${version}, 2 expected`);
    const id = await this.read(R.DEVICE_ID);
    if (id !== this.p.deviceType) this.fail(TransportErrorCode.NO_VDEV, `device id ${id}, ${this.p.deviceType} expected`);
    await this.write(R.STATUS, 0);
    await this.write(R.STATUS, DeviceStatus.ACKNOWLEDGE);
    await this.write(R.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    let offered = 0n;
    for (const sel of [0, 1]) {
      await this.write(R.DEVICE_FEATURES_SEL, sel);
      offered |= BigInt(await this.read(R.DEVICE_FEATURES)) << BigInt(32 * sel);
    }
    // the transport's own bit (§6.1: VERSION_1 on a modern transport); the device type's bits are the driver's choice
    const version1 = bit(VirtioFeature.VERSION_1);
    // this end lays out split rings only: RING_PACKED is not passed on to the driver
    const wanted = this.driver.negotiate(offered & ~version1 & ~bit(VirtioFeature.RING_PACKED));
    const unoffered = unofferedFeatures(wanted, offered);
    if (unoffered !== undefined) this.fail(TransportErrorCode.FEATURES_REFUSED, unoffered);
    const accepted = wanted | (offered & version1);
    for (const sel of [0, 1]) {
      await this.write(R.DRIVER_FEATURES_SEL, sel);
      await this.write(R.DRIVER_FEATURES, Number((accepted >> BigInt(32 * sel)) & 0xffff_ffffn));
    }
    const s = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK;
    await this.write(R.STATUS, s);
    // §3.1.1 step 6: re-read FEATURES_OK
    if (((await this.read(R.STATUS)) & DeviceStatus.FEATURES_OK) === 0) {
      await this.write(R.STATUS, s | DeviceStatus.FAILED);
      this.fail(TransportErrorCode.FEATURES_REFUSED, `the device refused features 0x${accepted.toString(16)}`);
    }
    this.features = accepted;
    const n = this.p.notifyIds.length;
    const max: number[] = [];
    for (let i = 0; i < n; i++) {
      await this.write(R.QUEUE_SEL, i);
      if ((await this.read(R.QUEUE_READY)) !== 0) this.fail(TransportErrorCode.BAD_STATUS, `queue ${i} is ready before setup`);
      max.push(await this.read(R.QUEUE_NUM_MAX));
    }
    const sizes = this.driver.queueSizes(max);
    let at = this.p.rings.base;
    const queues: DriverQueue[] = [];
    for (let i = 0; i < n; i++) {
      const num = sizes[i]!;
      const badSize = badQueueSize(i, num, max[i]!);
      if (badSize !== undefined) this.fail(TransportErrorCode.BAD_ARGUMENT, badSize);
      const da = alignUp(at, 4096);
      const l = splitLegacyLayout(da, num, 4096);
      at = da + l.totalBytes;
      if (at > this.p.rings.base + this.p.rings.size) this.fail(TransportErrorCode.BAD_LAYOUT, 'rings do not fit the room planned for them');
      this.memory.fill(da, l.totalBytes);
      await this.write(R.QUEUE_SEL, i);
      await this.write(R.QUEUE_NUM, num);
      for (const [lo, addr] of [[R.QUEUE_DESC_LOW, l.desc], [R.QUEUE_DRIVER_LOW, l.avail], [R.QUEUE_DEVICE_LOW, l.used]] as const) {
        await this.write(lo, addr % 0x1_0000_0000);
        await this.write(lo + 4, Math.floor(addr / 0x1_0000_0000));
      }
      await this.write(R.QUEUE_READY, 1);
      if ((await this.read(R.QUEUE_READY)) !== 1) this.fail(TransportErrorCode.BAD_LAYOUT, `the device refused queue ${i}`);
      const vq = new SplitVirtqueueDriver<number>(this.memory, num, { desc: l.desc, avail: l.avail, used: l.used }, { features: accepted });
      const notifyid = this.p.notifyIds[i]!;
      queues.push(
        driverQueue(i, vq, () => {
          this.stats.kicks++;
          this.kickFn(notifyid);
        }),
      );
    }
    this.config = await this.readConfigSpace();
    this.driver.activate({
      features: accepted,
      queues,
      memory: this.memory,
      pool: this.p.pool,
      // reads come from the snapshot (a mailbox round trip cannot be synchronous); writes go out in order, byte-wide
      readConfig: (offset, dest) => {
        checkConfigAccess(offset, dest.length, this.config.length);
        dest.set(this.config.subarray(offset, offset + dest.length));
      },
      writeConfig: (offset, data) => {
        checkConfigAccess(offset, data.length, this.config.length);
        for (let k = 0; k < data.length; k++) void this.access(MmioOp.WRITE, R.CONFIG + offset + k, data[k]!, 1);
        void this.readConfigSpace().then((b) => (this.config = b));
      },
    });
    await this.write(R.STATUS, s | DeviceStatus.DRIVER_OK);
    this.st = 'live';
    this.kick();
  }
}
