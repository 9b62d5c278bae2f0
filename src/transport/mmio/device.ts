/**
 * The device side of a virtio-mmio window (src/transport/mmio/window.ts): a virtio-mmio v2 register file
 * (src/virtio/mmio/device.ts, which enforces §4.2.2 / §4.2.3 and the §3.1.1 status order) in front of a VirtioDevice.
 * Queues are built where the driver put them (QueueDesc/Driver/Device), each checked against the memory the device was
 * given (the IPC window only); DRIVER_OK activates the device, a Status write of 0 resets it.
 */
import type { PhysicalMemory } from '../../virtio/memory.js';
import { MmioDevice, type MmioQueueConfig } from '../../virtio/mmio/device.js';
import { DeviceStatus } from '../../virtio/status.js';
import { VirtioFeature, hasFeature } from '../../virtio/features.js';
import { SplitVirtqueueDevice } from '../../virtio/split/device.js';
import { PackedVirtqueueDevice } from '../../virtio/packed/device.js';
import type { DeviceQueue, VirtioDevice } from '../../virtio/device.js';
import type { VirtqueueDevice } from '../../virtio/virtqueue.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { MmioOp, MmioWin } from './window.js';

export interface MmioPlacement {
  /** Position of the device in the machine's list. */
  readonly index: number;
  readonly deviceType: number;
  /** The window page. */
  readonly base: number;
  /** Notify id of each queue (rproc-style, machine-wide). */
  readonly notifyIds: readonly number[];
  /** Bytes of the device's config space (mmio has no register for it; a device tree would say it). */
  readonly configSize: number;
  /** The driver's buffer pool. */
  readonly pool: { readonly base: number; readonly size: number };
  /** Room for the rings the driver places (the driver's choice inside it). */
  readonly rings: { readonly base: number; readonly size: number };
}

export interface MmioDeviceTransportOptions {
  readonly memory: PhysicalMemory;
  readonly placement: MmioPlacement;
  readonly device: VirtioDevice;
  readonly notify: (notifyid: number) => void;
}

export class MmioDeviceTransport {
  readonly regs: MmioDevice;
  readonly stats = { accesses: 0, refused: 0, activations: 0, resets: 0, notifies: 0 };
  lastError: TransportError | undefined;
  private readonly memory: PhysicalMemory;
  private readonly p: MmioPlacement;
  private readonly device: VirtioDevice;
  private readonly notifyFn: (id: number) => void;
  private readonly w32: Int32Array;
  private readonly wOff: number;
  private readonly vqs: (VirtqueueDevice | undefined)[];
  private live = false;

  constructor(o: MmioDeviceTransportOptions) {
    this.memory = o.memory;
    this.p = o.placement;
    this.device = o.device;
    this.notifyFn = o.notify;
    const r = o.memory.findRegion(o.placement.base, 64);
    if (r === undefined || o.placement.base % 8 !== 0) throw new TransportError(TransportErrorCode.BAD_LAYOUT, `mmio window at 0x${o.placement.base.toString(16)} is outside memory`);
    this.w32 = new Int32Array(r.buffer, r.byteOffset, Math.floor(r.size / 4));
    this.wOff = (o.placement.base - r.base) / 4;
    this.vqs = o.device.queueMaxSizes.map(() => undefined);
    const config = new Uint8Array(o.device.configSize);
    o.device.readConfig(0, config);
    this.regs = new MmioDevice({
      deviceId: o.device.deviceType,
      features: o.device.deviceFeatures,
      queueNumMax: o.device.queueMaxSizes,
      config,
      hooks: {
        onQueueReady: (i, c) => this.queueReady(i, c),
        onQueueStop: (i) => void (this.vqs[i] = undefined),
        onNotify: (i) => {
          if (this.live) this.device.queueNotify(i);
        },
        onReset: () => this.doReset(),
        onStatus: (s) => this.onStatus(s),
        onConfigWrite: (offset, size, value) => {
          const b = new Uint8Array(size);
          for (let k = 0; k < size; k++) b[k] = (value >>> (8 * k)) & 0xff;
          try {
            this.device.writeConfig(offset, b);
            return true;
          } catch {
            return false;
          }
        },
        validateFeatures: (accepted) => {
          const refusal = this.device.checkFeatures?.(accepted);
          if (refusal !== undefined) this.lastError = new TransportError(TransportErrorCode.FEATURES_REFUSED, refusal);
          return refusal === undefined;
        },
      },
    });
  }

  /** Notifications this end sent to the other side (used-buffer / available-buffer, handshake kicks included). */
  get notificationsSent(): number {
    return this.stats.notifies;
  }

  get state(): string {
    const s = this.regs.deviceStatus;
    if ((s & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) return 'needs-reset';
    return this.live ? 'live' : s === 0 ? 'reset' : 'negotiating';
  }

  private win(field: number): number {
    return Atomics.load(this.w32, this.wOff + field / 4);
  }
  private setWin(field: number, v: number): void {
    Atomics.store(this.w32, this.wOff + field / 4, v | 0);
  }

  /** Serves a pending register access, then lets a live device process its queues. */
  poll(): number {
    let n = 0;
    const req = this.win(MmioWin.REQ_SEQ);
    if (req !== this.win(MmioWin.RESP_SEQ)) {
      this.serve(req);
      n++;
    }
    if (this.live) n += this.device.poll();
    return n;
  }

  /** A kick for one of this device's queues (the QueueNotify write it stands for). */
  queueNotify(notifyid: number): void {
    const i = this.p.notifyIds.indexOf(notifyid);
    if (i >= 0 && this.live) this.device.queueNotify(i);
  }

  peerReset(): void {
    this.regs.write(0x070, 0); // Status = 0: the register file resets and calls onReset
    this.setWin(MmioWin.RESP_SEQ, this.win(MmioWin.REQ_SEQ));
    this.setWin(MmioWin.IRQ, 0);
  }

  private serve(seq: number): void {
    this.stats.accesses++;
    const op = this.win(MmioWin.OP);
    const offset = this.win(MmioWin.OFFSET) >>> 0;
    const size = this.win(MmioWin.SIZE);
    let result = 0;
    if ((op !== MmioOp.READ && op !== MmioOp.WRITE) || (size !== 1 && size !== 2 && size !== 4) || offset > 0xfff) {
      this.stats.refused++;
      this.lastError = new TransportError(TransportErrorCode.MMIO_BAD_REQUEST, `op ${op}, offset 0x${offset.toString(16)}, size ${size}`);
    } else if (op === MmioOp.READ) result = this.regs.read(offset, size);
    else this.regs.write(offset, this.win(MmioWin.VALUE) >>> 0, size);
    if (this.regs.lastFault !== undefined) {
      this.lastError = new TransportError(TransportErrorCode.MMIO_BAD_REQUEST, this.regs.lastFault.message);
      this.regs.lastFault = undefined;
      this.stats.refused++;
    }
    this.setWin(MmioWin.RESULT, result);
    this.setWin(MmioWin.STATUS, this.regs.deviceStatus);
    this.setWin(MmioWin.RESP_SEQ, seq);
  }

  private queueReady(i: number, c: MmioQueueConfig): void {
    const features = this.regs.driverFeatures;
    const packed = hasFeature(features, VirtioFeature.RING_PACKED);
    // both constructors check the ring against the memory given (the IPC window) and throw a VirtioError, which the
    // register file turns into a refused QueueReady
    this.vqs[i] = packed
      ? new PackedVirtqueueDevice(this.memory, c.size, { desc: c.desc, driverEvent: c.driver, deviceEvent: c.device }, { features })
      : new SplitVirtqueueDevice(this.memory, c.size, { desc: c.desc, avail: c.driver, used: c.device }, { features });
  }

  private onStatus(s: number): void {
    this.setWin(MmioWin.STATUS, s);
    if ((s & DeviceStatus.DRIVER_OK) !== 0 && !this.live && (s & DeviceStatus.DEVICE_NEEDS_RESET) === 0) this.activate();
  }

  private activate(): void {
    const queues: (DeviceQueue | undefined)[] = this.vqs.map((vq, index) =>
      vq === undefined
        ? undefined
        : {
            index,
            vq,
            notify: () => {
              this.stats.notifies++;
              this.regs.raiseUsedBuffer();
              Atomics.or(this.w32, this.wOff + MmioWin.IRQ / 4, 1);
              this.notifyFn(this.p.notifyIds[index]!);
            },
          },
    );
    this.live = true;
    this.stats.activations++;
    this.device.activate({
      features: this.regs.negotiatedFeatures,
      queues,
      memory: this.memory,
      configChanged: () => {
        const b = new Uint8Array(this.device.configSize);
        this.device.readConfig(0, b);
        this.regs.setConfig(0, b);
        Atomics.or(this.w32, this.wOff + MmioWin.IRQ / 4, 2);
        this.notifyFn(this.p.notifyIds[0]!);
      },
      needsReset: (reason) => {
        this.lastError = new TransportError(TransportErrorCode.NEEDS_RESET, reason);
        this.regs.needsReset();
        this.live = false;
        this.device.reset();
        this.setWin(MmioWin.STATUS, this.regs.deviceStatus);
        Atomics.or(this.w32, this.wOff + MmioWin.IRQ / 4, 2);
        this.notifyFn(this.p.notifyIds[0]!);
      },
    });
  }

  private doReset(): void {
    if (this.live || this.vqs.some((q) => q !== undefined)) this.stats.resets++;
    this.live = false;
    this.vqs.fill(undefined);
    this.device.reset();
    this.setWin(MmioWin.STATUS, 0);
  }
}
