/**
 * RPMsg as a VirtioDevice (the device role of the seam, src/virtio/device.ts): the remote side of an RPMsg vdev that
 * any transport can carry (loopback, virtio-mmio, later vhost-user), as OpenAMP's remote runs over remoteproc_virtio
 * or virtio_mmio_drv alike. A thin adapter: the protocol is RpmsgRemote's (remote.ts), which gets the transport's
 * queues at activation instead of reading a resource table.
 *
 *   device type 7 (VIRTIO_ID_RPMSG), no config space, two queues:
 *     0  vring0: the driver posts empty buffers, the device fills one per message (the remote's TX)
 *     1  vring1: the driver posts messages, the device reads and returns them (the remote's RX)
 *   features offered: VIRTIO_RPMSG_F_NS (bit 0) and EVENT_IDX (29) by default, VERSION_1 (32) and RING_PACKED (34):
 *   the transport and the driver pick (a remoteproc table carries split rings only, see rsc-table/).
 *
 * Trust: as on the resource table, everything the driver writes is hostile; RpmsgRemote validates every buffer and
 * never throws out of poll() because of it (a broken ring rule becomes the activation's needsReset()).
 */
import { VirtioFeature, bit } from '../virtio/features.js';
import type { DeviceActivation, VirtioDevice } from '../virtio/device.js';
import { RpmsgRemote, type RpmsgRemoteOptions } from './remote.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import { DEFAULT_BUFFERS_PER_DIRECTION, VIRTIO_ID_RPMSG } from './constants.js';
import { DEFAULT_FEATURES } from './layout.js';

export interface RpmsgDeviceOptions extends Omit<RpmsgRemoteOptions, 'transport' | 'consumedUsedLen'> {
  /** Largest size of each queue (QueueNumMax). Default 256 (Linux's 256 buffers per direction). */
  readonly queueMaxSize?: number;
  /** Offer RING_PACKED (default true: the driver and the transport decide; Linux and OpenAMP take split rings). */
  readonly packed?: boolean;
}

/** Transport-level bits the device offers beside the RPMsg ones (u32 `features`). */
const TRANSPORT_BITS = bit(VirtioFeature.VERSION_1);

export class RpmsgDevice implements VirtioDevice {
  readonly deviceType = VIRTIO_ID_RPMSG;
  readonly deviceFeatures: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = 0;
  /** The protocol engine: endpoints, name service, sends (the guest API's role). */
  readonly role: RpmsgRemote;
  private act: DeviceActivation | undefined;

  constructor(opts: RpmsgDeviceOptions = {}) {
    const max = opts.queueMaxSize ?? DEFAULT_BUFFERS_PER_DIRECTION;
    if (!Number.isInteger(max) || max < 1 || max > 32768) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `queueMaxSize ${String(max)} must be an integer in 1..32768`);
    const f = (opts.features ?? DEFAULT_FEATURES) >>> 0;
    this.deviceFeatures = BigInt(f) | TRANSPORT_BITS | (opts.packed === false ? 0n : bit(VirtioFeature.RING_PACKED));
    this.queueMaxSizes = [max, max];
    const { queueMaxSize: _q, packed: _p, ...rest } = opts;
    void _q;
    void _p;
    // vq 0 / 1 are the queues' indices: the activation's queue notifies the driver (interrupt, call fd, …)
    this.role = RpmsgRemote.overTransport({ ...rest, transport: { notify: (vq) => this.act?.queues[vq]?.notify() } });
  }

  readConfig(offset: number, dest: Uint8Array): void {
    if (offset !== 0 || dest.length !== 0) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `RPMsg has no config space (read of ${dest.length} bytes at ${offset})`);
  }

  writeConfig(offset: number, data: Uint8Array): void {
    if (offset !== 0 || data.length !== 0) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `RPMsg has no config space (write of ${data.length} bytes at ${offset})`);
  }

  /** FEATURES_OK: the driver may accept only what was offered (§2.2); the RPMsg bits are checked again at attach. */
  checkFeatures(features: bigint): string | undefined {
    const extra = features & ~this.deviceFeatures;
    return extra === 0n ? undefined : `features 0x${extra.toString(16)} were not offered`;
  }

  /** DRIVER_OK: hands the queues to the remote and lets it attach and announce at once. */
  activate(a: DeviceActivation): void {
    this.act = a;
    this.role.activate(a);
    this.role.poll();
  }

  queueNotify(_index: number): void {
    this.role.poll();
  }

  poll(): number {
    return this.role.poll();
  }

  reset(): void {
    this.act = undefined;
    this.role.reset();
  }
}
