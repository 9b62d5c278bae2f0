/**
 * The front-end's memory as this back-end sees it: each region of SET_MEM_TABLE mapped from the fd that came with
 * it, assembled into a PhysicalMemory at the regions' guest-physical addresses, so the device-side virtqueues in
 * src/virtio check every descriptor against it as they do on every other transport.
 *
 *   front-end user space          file (fd)                       our PhysicalMemory
 *   user_addr ─┐                  mmap_offset ─┐                  guest_addr ─┐
 *              │ size                          │ size                         │ size
 *
 * Vring addresses arrive as front-end *user* addresses (SET_VRING_ADDR); `toGuest` translates them with the region
 * that holds the whole ring. Descriptors carry guest-physical addresses and need no translation.
 *
 * A hostile table is refused before anything is mapped: zero-sized or wrapping regions, misaligned guest addresses,
 * regions that overlap (in guest or user space), ranges past the end of their file (mapFd checks with fstat: an
 * access there would raise SIGBUS, not an error).
 */
import type { VhostNative } from '../host/native-vhost.js';
import { hex, PhysicalMemory } from '../virtio/memory.js';
import { VhostUserError, VhostUserErrorCode } from './errors.js';
import type { MemRegionDesc } from './message.js';

const PAGE = 4096;

interface MappedRegion extends MemRegionDesc {
  readonly sab: SharedArrayBuffer;
}

export class MemTable {
  readonly memory: PhysicalMemory;
  private readonly regions: MappedRegion[];
  private released = false;

  private constructor(memory: PhysicalMemory, regions: MappedRegion[], private readonly native: VhostNative) {
    this.memory = memory;
    this.regions = regions;
  }

  /** Validates the table, maps every region (closing every fd, mapped or not) and builds the memory. */
  static map(native: VhostNative, descs: readonly MemRegionDesc[], fds: readonly number[]): MemTable {
    try {
      validate(descs);
      if (fds.length !== descs.length) {
        throw new VhostUserError(fds.length < descs.length ? VhostUserErrorCode.MISSING_FD : VhostUserErrorCode.UNEXPECTED_FD, `SET_MEM_TABLE: ${descs.length} regions but ${fds.length} descriptors`, {
          regions: descs.length,
          fds: fds.length,
        });
      }
      const mapped: MappedRegion[] = [];
      const memory = new PhysicalMemory();
      try {
        descs.forEach((d, i) => {
          // Map from the page holding mmap_offset: the region then starts at byteOffset inside the buffer.
          const start = Math.floor(d.mmapOffset / PAGE) * PAGE;
          const byteOffset = d.mmapOffset - start;
          let sab: SharedArrayBuffer;
          try {
            sab = native.mapFd(fds[i]!, start, byteOffset + d.size);
          } catch (e) {
            throw new VhostUserError(VhostUserErrorCode.REGION_MAP_FAILED, `region ${i} (${d.size} bytes at file offset ${hex(d.mmapOffset)}): ${(e as Error).message}`, { region: i });
          }
          mapped.push({ ...d, sab });
          if (byteOffset % 8 !== 0) throw new VhostUserError(VhostUserErrorCode.BAD_MEM_TABLE, `region ${i}: mmap_offset ${hex(d.mmapOffset)} is not 8-aligned`, { region: i });
          memory.addRegion({ name: `vhost-user-${i}`, base: d.guestAddr, size: d.size, buffer: sab, byteOffset, attrs: { userAddr: d.userAddr } });
        });
      } catch (e) {
        for (const m of mapped) native.releaseMapping(m.sab);
        throw e;
      }
      return new MemTable(memory, mapped, native);
    } finally {
      for (const f of fds) native.closeFd(f); // a mapping keeps its own reference to the file
    }
  }

  /** Guest-physical address of the `len` bytes at front-end user address `uaddr`, all inside one region. */
  toGuest(uaddr: number, len: number, what: string): number {
    for (const r of this.regions) {
      if (uaddr >= r.userAddr && uaddr + len <= r.userAddr + r.size) return r.guestAddr + (uaddr - r.userAddr);
    }
    throw new VhostUserError(VhostUserErrorCode.VRING_ADDR_UNMAPPED, `${what}: ${len} bytes at user address ${hex(uaddr)} are not inside one memory region`, { uaddr, len });
  }

  get regionCount(): number {
    return this.regions.length;
  }

  get totalBytes(): number {
    return this.regions.reduce((s, r) => s + r.size, 0);
  }

  /** Drops the files now (stale views read zeros); the address ranges go when the buffers are collected. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const r of this.regions) this.native.releaseMapping(r.sab);
  }
}

const LIMIT = Number.MAX_SAFE_INTEGER;

function validate(descs: readonly MemRegionDesc[]): void {
  descs.forEach((d, i) => {
    const bad = (why: string) => new VhostUserError(VhostUserErrorCode.BAD_MEM_TABLE, `region ${i}: ${why}`, { region: i, ...d });
    if (d.size <= 0) throw bad(`size ${d.size} (must be > 0 and below 2^53)`);
    if (d.guestAddr < 0 || d.guestAddr + d.size > LIMIT) throw bad(`guest range at ${hex(d.guestAddr)} wraps or exceeds 2^53`);
    if (d.userAddr < 0 || d.userAddr + d.size > LIMIT) throw bad(`user range at ${hex(d.userAddr)} wraps or exceeds 2^53`);
    if (d.mmapOffset < 0 || d.mmapOffset + d.size > LIMIT) throw bad(`mmap_offset ${hex(d.mmapOffset)} wraps or exceeds 2^53`);
    if (d.guestAddr % 8 !== 0) throw bad(`guest address ${hex(d.guestAddr)} is not 8-aligned`);
    for (let j = 0; j < i; j++) {
      const o = descs[j]!;
      if (d.guestAddr < o.guestAddr + o.size && o.guestAddr < d.guestAddr + d.size) throw bad(`guest range overlaps region ${j}`);
      if (d.userAddr < o.userAddr + o.size && o.userAddr < d.userAddr + d.size) throw bad(`user range overlaps region ${j}`);
    }
  });
}
