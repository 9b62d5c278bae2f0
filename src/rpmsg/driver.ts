/**
 * RPMsg as a VirtioDriver (the driver role of the seam, src/virtio/device.ts): the host side of an RPMsg device that
 * any transport can bring up, as Linux's virtio_rpmsg_bus probes an RPMsg device on virtio-mmio or remoteproc alike.
 * A thin adapter: the protocol is RpmsgHost's (host.ts), which gets the transport's queues and buffer pool at
 * activation instead of running the resource table's handshake itself.
 *
 *   negotiate   RPMsg bits wanted (default VIRTIO_RPMSG_F_NS | EVENT_IDX) and VERSION_1; RING_PACKED when `packed`
 *   queueSizes  one size for both queues: min(queueSize, each max), a power of two (the pool splits in halves)
 *   poolBytes   2 x queueSize buffers of bufferSize bytes: the first half is received into, the second sent from
 *   activate    the RX buffers are posted; DRIVER_OK follows (the transport), announcements at the first interrupt()
 */
import { VirtioFeature, bit } from '../virtio/features.js';
import type { DriverActivation, VirtioDriver } from '../virtio/device.js';
import { RpmsgHost, type RpmsgHostOptions } from './host.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';
import { DEFAULT_BUFFER_SIZE, DEFAULT_BUFFERS_PER_DIRECTION, RPMSG_HEADER_SIZE, VIRTIO_ID_RPMSG } from './constants.js';
import { DEFAULT_FEATURES } from './layout.js';

export interface RpmsgDriverOptions extends Omit<RpmsgHostOptions, 'transport'> {
  /** Buffers per direction = the size of each queue asked for. Default 256. */
  readonly queueSize?: number;
  /** Bytes per buffer, header included (payload = bufferSize - 16). Multiple of 8 in 32..65551. Default 512. */
  readonly bufferSize?: number;
  /** Accept RING_PACKED when offered (default false: split rings, as Linux's and OpenAMP's RPMsg use). */
  readonly packed?: boolean;
}

const powerOfTwoAtMost = (n: number): number => 2 ** Math.floor(Math.log2(n));

export class RpmsgDriver implements VirtioDriver {
  readonly deviceType = VIRTIO_ID_RPMSG;
  readonly poolBytes: number;
  /** The protocol engine: endpoints, name service, sends (the guest API's role). */
  readonly role: RpmsgHost;
  private readonly wanted: bigint;
  private readonly queueSize: number;
  private readonly bufferSize: number;

  constructor(opts: RpmsgDriverOptions = {}) {
    const q = opts.queueSize ?? DEFAULT_BUFFERS_PER_DIRECTION;
    const b = opts.bufferSize ?? DEFAULT_BUFFER_SIZE;
    if (!Number.isInteger(q) || q < 1 || q > 32768 || (q & (q - 1)) !== 0) throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `queueSize ${String(q)} must be a power of two in 1..32768`);
    if (!Number.isInteger(b) || b < RPMSG_HEADER_SIZE + 16 || b % 8 !== 0 || b > RPMSG_HEADER_SIZE + 0xffff) {
      throw new RpmsgError(RpmsgErrorCode.BAD_ARGUMENT, `bufferSize ${String(b)} must be a multiple of 8 in 32..${RPMSG_HEADER_SIZE + 0xffff}`);
    }
    this.queueSize = q;
    this.bufferSize = b;
    this.poolBytes = 2 * q * b;
    this.wanted = BigInt((opts.features ?? DEFAULT_FEATURES) >>> 0) | bit(VirtioFeature.VERSION_1) | (opts.packed === true ? bit(VirtioFeature.RING_PACKED) : 0n);
    const { queueSize: _q, bufferSize: _b, packed: _p, ...rest } = opts;
    void _q;
    void _b;
    void _p;
    // notifications go through the transport's queues (DriverQueue.kick), never through this hook
    this.role = RpmsgHost.overTransport({ ...rest, transport: { notify: () => undefined } });
  }

  negotiate(offered: bigint): bigint {
    return offered & this.wanted;
  }

  queueSizes(maxSizes: readonly number[]): readonly number[] {
    const n = powerOfTwoAtMost(Math.max(1, Math.min(this.queueSize, maxSizes[0] ?? 1, maxSizes[1] ?? 1)));
    return [n, n];
  }

  activate(a: DriverActivation): void {
    this.role.attachQueues(a, this.bufferSize);
  }

  interrupt(): number {
    return this.role.poll();
  }

  reset(): void {
    this.role.reset();
  }
}
