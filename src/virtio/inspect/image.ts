/**
 * A ring image as physical memory: the bytes of a dump (a file, a test vector) placed as one region whose first byte
 * is at physical address `base`, plus optional extra pieces (each its own region at its own address), so a sparse set
 * of excerpts of a large dump (the ring areas of a guest's RAM, say) forms one address space. Inspect reports read
 * rings through it with the same bounds-checked accessors the queues use, so a malformed image can only produce
 * reported errors, never an out-of-range read.
 */
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hex, PhysicalMemory } from '../memory.js';

export interface ImageMemory {
  readonly memory: PhysicalMemory;
  /** Address and size of the main image (the extra pieces are further regions of `memory`). */
  readonly base: number;
  readonly size: number;
  /** Number of extra pieces mapped besides the main image. */
  readonly pieces: number;
}

/** An extra excerpt of memory: `bytes` whose first byte is at physical address `base`. */
export interface ImagePiece {
  readonly base: number;
  readonly bytes: Uint8Array;
}

/**
 * The guest RAM range that chain buffers may lie in although only excerpts of it are mapped: with ring areas cut from a
 * dump, the buffers the chains point to are not part of the pieces, and the walkers' "buffer inside the device's
 * memory" rule must then be checked against the guest's RAM as declared, not against the excerpts.
 */
export interface ImageRam {
  readonly base: number;
  readonly size: number;
}

/**
 * A sparse address space: `contains` (the walkers' buffer-range rule) also accepts ranges inside the declared RAM,
 * while every read still needs a mapped region (an unmapped read throws MEM_OUT_OF_RANGE as before), so descriptor
 * tables, rings and indirect tables must be among the pieces.
 */
class SparseImageMemory extends PhysicalMemory {
  constructor(private readonly ram: ImageRam) {
    super();
  }
  override contains(addr: number, len: number): boolean {
    const r = this.ram;
    if (Number.isSafeInteger(addr) && len >= 0 && addr >= r.base && addr + len <= r.base + r.size) return true;
    return super.contains(addr, len);
  }
}

function checkBase(what: string, base: number): void {
  if (!Number.isSafeInteger(base) || base < 0 || base % 8 !== 0) {
    throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `${what} ${base < 0 || !Number.isSafeInteger(base) ? String(base) : hex(base)} must be an 8-aligned address`, { base });
  }
}

/** A copy of `bytes` in its own (8-aligned) ArrayBuffer. */
function copyOf(bytes: Uint8Array): ArrayBuffer {
  const buffer = new ArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  return buffer;
}

/**
 * Copies `image` into an 8-aligned buffer and maps it at `base`, and each of `pieces` at its own base. Every base must
 * be 8-aligned and every piece non-empty (BAD_ARGUMENT / IMAGE_TRUNCATED otherwise); pieces that overlap the image or
 * each other throw MEM_REGION_OVERLAP. With `ram`, chain buffers anywhere in that range count as inside memory.
 */
export function imageMemory(image: Uint8Array, base: number, pieces: readonly ImagePiece[] = [], ram?: ImageRam): ImageMemory {
  checkBase('image base', base);
  if (image.length === 0) throw new VirtioError(VirtioErrorCode.IMAGE_TRUNCATED, 'the image is empty', { size: 0 });
  if (ram !== undefined && !(Number.isSafeInteger(ram.base) && Number.isSafeInteger(ram.size) && ram.base >= 0 && ram.size > 0 && Number.isSafeInteger(ram.base + ram.size))) {
    throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `RAM range base ${ram.base} size ${ram.size} is not a valid address range`, { base: ram.base, size: ram.size });
  }
  const memory = ram === undefined ? new PhysicalMemory() : new SparseImageMemory(ram);
  memory.addRegion({ name: 'image', base, size: image.length, buffer: copyOf(image) });
  pieces.forEach((p, i) => {
    checkBase(`piece ${i + 1} base`, p.base);
    if (p.bytes.length === 0) throw new VirtioError(VirtioErrorCode.IMAGE_TRUNCATED, `piece ${i + 1} is empty`, { piece: i + 1 });
    memory.addRegion({ name: `piece ${i + 1}`, base: p.base, size: p.bytes.length, buffer: copyOf(p.bytes) });
  });
  return { memory, base, size: image.length, pieces: pieces.length };
}

/** Throws IMAGE_TRUNCATED unless [addr, addr+len) lies inside the image (or wholly inside one of its pieces). */
export function requireInImage(img: ImageMemory, what: string, addr: number, len: number): void {
  // findRegion, not contains: a declared RAM range makes buffers count as inside memory, not ring areas readable.
  if (!Number.isSafeInteger(addr) || img.memory.findRegion(addr, len) === undefined) {
    const where = `the image [${hex(img.base)}, ${hex(img.base + img.size)})${img.pieces > 0 ? ` or any of its ${img.pieces} pieces` : ''}`;
    throw new VirtioError(VirtioErrorCode.IMAGE_TRUNCATED, `${what} [${hex(addr)}, ${hex(addr + len)}) is outside ${where}`, { what, addr, len });
  }
}

/** Throws BAD_ALIGNMENT unless addr is a multiple of align. */
export function requireAligned(what: string, addr: number, align: number): void {
  if (addr % align !== 0) throw new VirtioError(VirtioErrorCode.BAD_ALIGNMENT, `${what} ${hex(addr)} must be ${align}-aligned`, { what, addr, align });
}

/** A u64 read from the image as 0x-prefixed hex (exact for every value, including ones above 2^53). */
export function hex64(memory: PhysicalMemory, addr: number): string {
  return '0x' + memory.read64n(addr).toString(16);
}

/** A report error: a stable code and a readable message. */
export interface ReportError {
  readonly code: string;
  readonly message: string;
}

/** One chain of a report: its segments when the walk succeeded. */
export interface ReportSegment {
  readonly addr: string;
  readonly len: number;
  readonly write: boolean;
}
