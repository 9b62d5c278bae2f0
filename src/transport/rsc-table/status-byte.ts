/**
 * The two handshake bytes of a vdev entry in shared memory:
 *
 *   fw_rsc_vdev  … status u8 @24 | num_of_vrings u8 @25 | reserved[0] u8 @26 | reserved[1] u8 @27
 *                   driver writes        (firmware)        device's ack          (zero)
 *
 * `status` is the VirtIO status byte (§2.1) the driver writes, as Linux's remoteproc does; the device may clear
 * FEATURES_OK (refusal, §3.1.1 step 6) or OR in DEVICE_NEEDS_RESET. The ack byte is a TZ-VirtIO extension: the device
 * writes there the status it last validated, so a driver on another core can tell "not seen yet" from "accepted"
 * when it re-reads FEATURES_OK. Firmware that does not know it leaves it 0 (Linux and OpenAMP never write reserved
 * bytes); a driver for such a peer does not wait for it.
 *
 * Byte-wide Atomics keep the two writers from tearing each other's bits.
 */
import type { MemoryRegion, PhysicalMemory } from '../../virtio/memory.js';
import { TransportError, TransportErrorCode } from '../errors.js';

/** Offset of the device's acknowledgment byte (reserved[0]) inside a vdev entry. */
export const RSC_VDEV_ACK_OFFSET = 26;

export class SharedByte {
  private readonly u8: Uint8Array;
  private readonly off: number;

  constructor(memory: PhysicalMemory, addr: number, what: string) {
    const r: MemoryRegion | undefined = memory.findRegion(addr, 1);
    if (r === undefined) throw new TransportError(TransportErrorCode.BAD_LAYOUT, `${what} at 0x${addr.toString(16)} is outside memory`, { addr });
    this.u8 = r.u8;
    this.off = addr - r.base;
  }
  load(): number {
    return Atomics.load(this.u8, this.off);
  }
  store(v: number): void {
    Atomics.store(this.u8, this.off, v & 0xff);
  }
  or(bits: number): number {
    return Atomics.or(this.u8, this.off, bits);
  }
  and(bits: number): number {
    return Atomics.and(this.u8, this.off, bits);
  }
}
