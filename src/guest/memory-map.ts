/**
 * The public memory map, as a guest (and the platform) sees it: DDR cut into TZASC segments, each secure or not, plus
 * the windows of it that are actually backed by SharedArrayBuffers in this model.
 *
 * The map is declared in full (1 GiB by default) but only a few MiB are backed; a partition is *given* only the
 * backed windows its world may reach. `classify` is the TZASC + bus decoder: it answers, for an access of `len`
 * bytes at `addr` by a world, whether it is allowed, a security fault, or a bus error. It is plain data so that it can
 * be posted to a worker.
 */
export type World = 'secure' | 'nonsecure';

export interface SegmentDesc {
  readonly base: number;
  readonly size: number;
  readonly secure: boolean;
}

export interface WindowDesc {
  /** Name for reports: "secure-ram", "ipc", "ns-ram". */
  readonly name: string;
  readonly base: number;
  readonly size: number;
  /** Derived from the segments it lies in (a window never straddles a secure/non-secure boundary). */
  readonly secure: boolean;
}

export interface MemoryMapDesc {
  readonly name: string;
  readonly ddrBase: number;
  readonly ddrSize: number;
  readonly segmentSize: number;
  readonly segments: readonly SegmentDesc[];
  readonly windows: readonly WindowDesc[];
}

export type AccessVerdict = 'ok' | 'security' | 'bus';

/** Index of the segment holding addr, or -1 outside DDR. */
export function segmentIndex(map: MemoryMapDesc, addr: number): number {
  if (!(addr >= map.ddrBase) || addr >= map.ddrBase + map.ddrSize) return -1;
  return Math.floor((addr - map.ddrBase) / map.segmentSize);
}

/** True when any byte of [addr, addr+len) lies in a secure segment. */
export function touchesSecure(map: MemoryMapDesc, addr: number, len: number): boolean {
  if (len <= 0) return false;
  const first = segmentIndex(map, Math.max(addr, map.ddrBase));
  const lastAddr = Math.min(addr + len - 1, map.ddrBase + map.ddrSize - 1);
  if (first < 0 || lastAddr < addr) return false;
  const last = segmentIndex(map, lastAddr);
  for (let i = first; i <= last; i++) if (map.segments[i]!.secure) return true;
  return false;
}

/**
 * The verdict of the TZASC and the bus for an access. Security is checked first (as the TZASC sits before the DDR
 * controller): a non-secure access touching any secure byte is a security fault even if part of it is unbacked.
 * `held` are the windows this partition holds.
 */
export function classify(map: MemoryMapDesc, world: World, addr: number, len: number, held: readonly WindowDesc[]): AccessVerdict {
  if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || addr < 0 || len <= 0) return 'bus';
  if (world === 'nonsecure' && touchesSecure(map, addr, len)) return 'security';
  for (const w of held) if (addr >= w.base && addr + len <= w.base + w.size) return 'ok';
  return 'bus';
}
