/**
 * A ring image as physical memory: the bytes of a dump (a file, a test vector) placed as one region whose first byte
 * is at physical address `base`. Inspect reports read rings through it with the same bounds-checked accessors the
 * queues use, so a malformed image can only produce reported errors, never an out-of-range read.
 */
import { VirtioError, VirtioErrorCode } from '../errors.js';
import { hex, PhysicalMemory } from '../memory.js';

export interface ImageMemory {
  readonly memory: PhysicalMemory;
  readonly base: number;
  readonly size: number;
}

/** Copies `image` into an 8-aligned buffer and maps it at `base` (which must be 8-aligned: BAD_ARGUMENT otherwise). */
export function imageMemory(image: Uint8Array, base: number): ImageMemory {
  if (!Number.isSafeInteger(base) || base < 0 || base % 8 !== 0) {
    throw new VirtioError(VirtioErrorCode.BAD_ARGUMENT, `image base ${base < 0 || !Number.isSafeInteger(base) ? String(base) : hex(base)} must be an 8-aligned address`, { base });
  }
  if (image.length === 0) throw new VirtioError(VirtioErrorCode.IMAGE_TRUNCATED, 'the image is empty', { size: 0 });
  const buffer = new ArrayBuffer(image.length);
  new Uint8Array(buffer).set(image);
  const memory = new PhysicalMemory([{ name: 'image', base, size: image.length, buffer }]);
  return { memory, base, size: image.length };
}

/** Throws IMAGE_TRUNCATED unless [addr, addr+len) lies inside the image. */
export function requireInImage(img: ImageMemory, what: string, addr: number, len: number): void {
  if (!Number.isSafeInteger(addr) || addr < img.base || addr + len > img.base + img.size) {
    throw new VirtioError(
      VirtioErrorCode.IMAGE_TRUNCATED,
      `${what} [${hex(addr)}, ${hex(addr + len)}) is outside the image [${hex(img.base)}, ${hex(img.base + img.size)})`,
      { what, addr, len },
    );
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
