/**
 * The vdev status byte in the resource table (fw_rsc_vdev.status, VirtIO status bits). The host writes its
 * initialisation steps there (ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK; 0 = reset); the remote waits for DRIVER_OK
 * before touching the vrings (OpenAMP rpmsg_virtio_wait_remote_ready) and may OR in DEVICE_NEEDS_RESET when the host
 * broke a rule. Byte-wide Atomics keep the two writers from tearing each other's bits.
 */
import type { MemoryRegion, PhysicalMemory } from '../virtio/memory.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';

export class StatusByte {
  private readonly region: MemoryRegion;
  private readonly off: number;

  constructor(memory: PhysicalMemory, addr: number) {
    const r = memory.findRegion(addr, 1);
    if (r === undefined) throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, `vdev status byte at 0x${addr.toString(16)} is outside memory`);
    this.region = r;
    this.off = addr - r.base;
  }

  load(): number {
    return Atomics.load(this.region.u8, this.off);
  }
  store(v: number): void {
    Atomics.store(this.region.u8, this.off, v);
  }
  or(bits: number): void {
    Atomics.or(this.region.u8, this.off, bits);
  }
}
