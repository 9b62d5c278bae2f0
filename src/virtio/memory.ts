/**
 * A physical address space made of regions over (Shared)ArrayBuffers.
 *
 * Addresses are plain JS numbers, exact up to 2^53. Descriptors carry u64 addresses, which we read as two u32
 * halves and combine with `toAddress` (BigInt is ~3x slower on hot paths); a high half >= 2^21 cannot be a valid
 * address here and becomes -1, which no region contains. Every access is bounds-checked against one region: an
 * access that is not wholly inside a single region throws VirtioError(MEM_OUT_OF_RANGE), never a RangeError from a
 * typed array and never a silent read of a neighbouring buffer.
 *
 * All multi-byte values in VirtIO are little-endian. The typed-array views below use host byte order, so the
 * module refuses to load on a big-endian host (assertLittleEndian).
 *
 * Hot paths (virtqueues) resolve their ring's region once and index `region.u16`/`region.u32` directly with the
 * region-relative offset; a region's base and byte offset are 8-aligned, so physical alignment equals view
 * alignment.
 */
import { copyBytes } from './copy.js';
import { VirtioError, VirtioErrorCode } from './errors.js';

export function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([0x0102]).buffer)[0] !== 0x02) {
    throw new VirtioError(VirtioErrorCode.BIG_ENDIAN_HOST, 'tz-virtio needs a little-endian host');
  }
}
assertLittleEndian();

const TWO_POW_32 = 0x1_0000_0000;
/** Largest high half that keeps hi * 2^32 + lo below 2^53. */
const MAX_SAFE_HIGH = 0x1f_ffff;

/** Combines the two u32 halves of a u64 address; -1 when it is not exactly representable (never a valid address). */
export function toAddress(lo: number, hi: number): number {
  if (hi === 0) return lo >>> 0;
  if (hi > MAX_SAFE_HIGH) return -1;
  return hi * TWO_POW_32 + (lo >>> 0);
}

/** Low u32 half of an address. */
export function addrLo(addr: number): number {
  return addr >>> 0;
}

/** High u32 half of an address. */
export function addrHi(addr: number): number {
  return Math.floor(addr / TWO_POW_32) >>> 0;
}

/** Formats a buffer as `0xADDR+LEN`; an address beyond 2^53 (read as -1 from its two halves) is said so. */
export function span(addr: number, len: number): string {
  return addr < 0 ? `of ${len} bytes at an address above 2^53` : `${hex(addr)}+${len}`;
}

/** Formats an address as 0x-prefixed hex (for messages and JSON). */
export function hex(addr: number): string {
  return addr < 0 ? 'invalid' : '0x' + addr.toString(16);
}

export interface RegionSpec {
  /** A name for reports ("ddr-ns", "ipc", ...). */
  readonly name: string;
  /** Physical address of the first byte; must be 8-aligned. */
  readonly base: number;
  /** Size in bytes; must be > 0. */
  readonly size: number;
  /** Backing store; default: a new zeroed SharedArrayBuffer of `size` bytes. */
  readonly buffer?: SharedArrayBuffer | ArrayBuffer;
  /** Offset of the region's first byte inside `buffer`; must be 8-aligned. Default 0. */
  readonly byteOffset?: number;
  /** Free-form attributes kept for the layers above (e.g. `{ secure: true }`); the VirtIO layer ignores them. */
  readonly attrs?: Readonly<Record<string, unknown>>;
}

/** One contiguous piece of physical memory with views for fast, aligned access. */
export class MemoryRegion {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  /** base + size (exclusive). */
  readonly end: number;
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  readonly byteOffset: number;
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly u8: Uint8Array;
  /** Index with (addr - base) >> 1; only for 2-aligned addresses. */
  readonly u16: Uint16Array;
  /** Index with (addr - base) >> 2; only for 4-aligned addresses. */
  readonly u32: Uint32Array;
  readonly view: DataView;
  readonly shared: boolean;

  constructor(spec: RegionSpec) {
    const { name, base, size } = spec;
    const byteOffset = spec.byteOffset ?? 0;
    if (!Number.isSafeInteger(base) || base < 0 || base % 8 !== 0) {
      throw new VirtioError(VirtioErrorCode.MEM_BAD_REGION, `region ${name}: base ${hex(base)} must be an 8-aligned address`, { name, base });
    }
    if (!Number.isSafeInteger(size) || size <= 0 || !Number.isSafeInteger(base + size)) {
      throw new VirtioError(VirtioErrorCode.MEM_BAD_REGION, `region ${name}: bad size ${size}`, { name, size });
    }
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0) {
      throw new VirtioError(VirtioErrorCode.MEM_BAD_REGION, `region ${name}: byteOffset ${byteOffset} must be 8-aligned`, { name, byteOffset });
    }
    const buffer = spec.buffer ?? new SharedArrayBuffer(size);
    if (byteOffset + size > buffer.byteLength) {
      throw new VirtioError(VirtioErrorCode.MEM_BAD_REGION, `region ${name}: ${size} bytes at offset ${byteOffset} exceed its buffer (${buffer.byteLength} bytes)`, { name });
    }
    this.name = name;
    this.base = base;
    this.size = size;
    this.end = base + size;
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.attrs = spec.attrs ?? {};
    this.shared = typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
    this.u8 = new Uint8Array(buffer, byteOffset, size);
    this.u16 = new Uint16Array(buffer, byteOffset, Math.floor(size / 2));
    this.u32 = new Uint32Array(buffer, byteOffset, Math.floor(size / 4));
    this.view = new DataView(buffer, byteOffset, size);
  }

  /** True when [addr, addr+len) lies wholly inside this region (len may be 0). */
  contains(addr: number, len: number): boolean {
    return addr >= this.base && len >= 0 && addr + len <= this.end;
  }

  /** The spec this region was built from, with its buffer: enough to rebuild it in another worker. */
  toSpec(): RegionSpec {
    return { name: this.name, base: this.base, size: this.size, buffer: this.buffer, byteOffset: this.byteOffset, attrs: this.attrs };
  }
}

/**
 * The address space: a sorted set of non-overlapping regions. `PhysicalMemory` objects are cheap; each worker builds
 * its own over the same SharedArrayBuffers (pass `toSpecs()` through postMessage).
 */
export class PhysicalMemory {
  private readonly list: MemoryRegion[] = [];
  /** Last region hit: most accesses fall in the same region as the previous one. */
  private last: MemoryRegion | undefined;

  constructor(specs: readonly RegionSpec[] = []) {
    for (const s of specs) this.addRegion(s);
  }

  get regions(): readonly MemoryRegion[] {
    return this.list;
  }

  addRegion(spec: RegionSpec | MemoryRegion): MemoryRegion {
    const r = spec instanceof MemoryRegion ? spec : new MemoryRegion(spec);
    for (const o of this.list) {
      if (r.base < o.end && o.base < r.end) {
        throw new VirtioError(VirtioErrorCode.MEM_REGION_OVERLAP, `region ${r.name} [${hex(r.base)}, ${hex(r.end)}) overlaps ${o.name}`, { name: r.name, other: o.name });
      }
    }
    this.list.push(r);
    this.list.sort((a, b) => a.base - b.base);
    return r;
  }

  toSpecs(): RegionSpec[] {
    return this.list.map((r) => r.toSpec());
  }

  /** The region holding all of [addr, addr+len), or undefined. Never throws. */
  findRegion(addr: number, len: number): MemoryRegion | undefined {
    const l = this.last;
    if (l !== undefined && addr >= l.base && len >= 0 && addr + len <= l.end) return l;
    if (!(addr >= 0) || !(len >= 0)) return undefined;
    for (const r of this.list) {
      if (addr >= r.base && addr + len <= r.end) {
        this.last = r;
        return r;
      }
    }
    return undefined;
  }

  /** True when [addr, addr+len) lies wholly inside one region. */
  contains(addr: number, len: number): boolean {
    return this.findRegion(addr, len) !== undefined;
  }

  /** The region holding [addr, addr+len); throws MEM_OUT_OF_RANGE otherwise. */
  regionFor(addr: number, len: number): MemoryRegion {
    const r = this.findRegion(addr, len);
    if (r === undefined) {
      throw new VirtioError(VirtioErrorCode.MEM_OUT_OF_RANGE, `access of ${len} bytes at ${hex(addr)} is outside memory`, { addr, len });
    }
    return r;
  }

  private aligned(addr: number, len: number, align: number): MemoryRegion {
    if (addr % align !== 0) {
      throw new VirtioError(VirtioErrorCode.MEM_MISALIGNED, `${len}-byte access at ${hex(addr)} must be ${align}-aligned`, { addr, len });
    }
    return this.regionFor(addr, len);
  }

  read8(addr: number): number {
    const r = this.regionFor(addr, 1);
    return r.u8[addr - r.base]!;
  }
  read16(addr: number): number {
    const r = this.regionFor(addr, 2);
    return r.view.getUint16(addr - r.base, true);
  }
  read32(addr: number): number {
    const r = this.regionFor(addr, 4);
    return r.view.getUint32(addr - r.base, true);
  }
  /** Reads a u64 as an address number (-1 when above 2^53). */
  read64(addr: number): number {
    const r = this.regionFor(addr, 8);
    const o = addr - r.base;
    return toAddress(r.view.getUint32(o, true), r.view.getUint32(o + 4, true));
  }
  read64n(addr: number): bigint {
    const r = this.regionFor(addr, 8);
    return r.view.getBigUint64(addr - r.base, true);
  }
  write8(addr: number, v: number): void {
    const r = this.regionFor(addr, 1);
    r.u8[addr - r.base] = v;
  }
  write16(addr: number, v: number): void {
    const r = this.regionFor(addr, 2);
    r.view.setUint16(addr - r.base, v, true);
  }
  write32(addr: number, v: number): void {
    const r = this.regionFor(addr, 4);
    r.view.setUint32(addr - r.base, v >>> 0, true);
  }
  /** Writes an address (a safe integer >= 0) as a u64. */
  write64(addr: number, v: number): void {
    const r = this.regionFor(addr, 8);
    const o = addr - r.base;
    r.view.setUint32(o, addrLo(v), true);
    r.view.setUint32(o + 4, addrHi(v), true);
  }
  write64n(addr: number, v: bigint): void {
    const r = this.regionFor(addr, 8);
    r.view.setBigUint64(addr - r.base, BigInt.asUintN(64, v), true);
  }

  /** Atomics.load of an aligned u16 (indices and packed flags are published this way). */
  atomicLoad16(addr: number): number {
    const r = this.aligned(addr, 2, 2);
    return Atomics.load(r.u16, (addr - r.base) >>> 1);
  }
  atomicStore16(addr: number, v: number): void {
    const r = this.aligned(addr, 2, 2);
    Atomics.store(r.u16, (addr - r.base) >>> 1, v);
  }
  atomicLoad32(addr: number): number {
    const r = this.aligned(addr, 4, 4);
    return Atomics.load(r.u32, (addr - r.base) >>> 2);
  }
  atomicStore32(addr: number, v: number): void {
    const r = this.aligned(addr, 4, 4);
    Atomics.store(r.u32, (addr - r.base) >>> 2, v >>> 0);
  }

  /** A zero-copy view of [addr, addr+len). */
  bytes(addr: number, len: number): Uint8Array {
    const r = this.regionFor(addr, len);
    const o = addr - r.base;
    return r.u8.subarray(o, o + len);
  }
  /** Copies memory at addr into dst (dst.length bytes). */
  read(addr: number, dst: Uint8Array): void {
    this.readBytes(addr, dst, 0, dst.length);
  }
  /** Copies src into memory at addr. */
  write(addr: number, src: Uint8Array): void {
    this.writeBytes(addr, src, 0, src.length);
  }
  /** Copies [addr, addr+len) into dst[dstOffset..] through copyBytes (copy.ts), without making a view. */
  readBytes(addr: number, dst: Uint8Array, dstOffset: number, len: number): void {
    const r = this.regionFor(addr, len);
    copyBytes(dst, dstOffset, r.u8, addr - r.base, len);
  }
  /** Copies src[srcOffset, srcOffset+len) to memory at addr through copyBytes (copy.ts), without making a view. */
  writeBytes(addr: number, src: Uint8Array, srcOffset: number, len: number): void {
    const r = this.regionFor(addr, len);
    copyBytes(r.u8, addr - r.base, src, srcOffset, len);
  }
  fill(addr: number, len: number, value = 0): void {
    this.bytes(addr, len).fill(value);
  }
}
