/**
 * The platform: a Zynq-7000 ZC702-like memory map and the windows of it that this model backs with memory.
 *
 *   0x0000_0000 ┌──────────────────────────┐  DDR, 1 GiB, cut by the TZASC (on the Zynq: the SLCR's
 *               │ segment 0  (64 MiB) NS    │  TZ_DDR_RAM register, one secure bit per 64 MiB) into 16
 *   0x1000_0000 │   ns-ram window (256 KiB) │  segments. LTZVisor's ZC702 board code makes the top one
 *               │ ...                       │  secure and leaves the rest to the non-secure guest.
 *   0x3800_0000 │   ipc window (1 MiB, NS)  │  ← resource table, vrings, RPMsg buffers
 *   0x3C00_0000 ├──────────────────────────┤
 *               │ segment 15 SECURE         │  ← secure-ram window (1 MiB): the secure partition's data, keys
 *   0x3FFF_FFFF └──────────────────────────┘
 *
 * Only the windows are allocated (SharedArrayBuffers); the rest of the map is declared, so that the TZASC check
 * and bus errors behave as on the board, but never backed. Every figure is configurable.
 */
import type { RegionSpec } from '../virtio/memory.js';
import { hex } from '../virtio/memory.js';
import type { MemoryMapDesc, SegmentDesc, WindowDesc } from '../guest/memory-map.js';
import { touchesSecure } from '../guest/memory-map.js';
import { HypervisorError, HypervisorErrorCode } from './errors.js';

export interface WindowConfig {
  readonly base?: number;
  readonly size?: number;
}

/** Platform options; every field optional, defaults documented per field. */
export interface PlatformConfig {
  /** Default "zc702-ltzvisor". */
  readonly name?: string;
  /** DDR: base 0, size 1 GiB, segment 64 MiB. */
  readonly ddr?: { readonly base?: number; readonly size?: number; readonly segmentSize?: number };
  /** Indices of the secure segments. Default: the top one ([15] with the default DDR). */
  readonly secureSegments?: readonly number[];
  /** Backed secure RAM: default 1 MiB at the base of the first secure segment. */
  readonly secureRam?: WindowConfig;
  /** Backed non-secure IPC region (rings and buffers): default 1 MiB at the base of the segment below the top one (0x3800_0000). */
  readonly ipc?: WindowConfig;
  /** Backed non-secure RAM private to the non-secure partition: default 256 KiB at 0x1000_0000; size 0 = none. */
  readonly nsRam?: WindowConfig;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface Platform {
  readonly map: MemoryMapDesc;
  readonly secureRam: WindowDesc;
  readonly ipc: WindowDesc;
  readonly nsRam: WindowDesc | undefined;
}

function bad(msg: string, details: Record<string, unknown> = {}): never {
  throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `platform: ${msg}`, details);
}

function isPow2(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Builds and validates the memory map. Throws HypervisorError(BAD_CONFIG) with the reason. */
export function buildPlatform(cfg: PlatformConfig = {}): Platform {
  const ddrBase = cfg.ddr?.base ?? 0;
  const ddrSize = cfg.ddr?.size ?? GiB;
  const segmentSize = cfg.ddr?.segmentSize ?? 64 * MiB;
  if (!Number.isSafeInteger(ddrBase) || ddrBase < 0 || ddrBase % 4096 !== 0) bad(`ddr base ${ddrBase} must be 4 KiB-aligned`);
  if (!isPow2(segmentSize) || segmentSize < 4096) bad(`segment size ${segmentSize} must be a power of two >= 4 KiB`);
  if (!Number.isSafeInteger(ddrSize) || ddrSize <= 0 || ddrSize % segmentSize !== 0) bad(`ddr size ${ddrSize} must be a multiple of the segment size`);
  const count = ddrSize / segmentSize;
  if (count > 4096) bad(`${count} segments (at most 4096)`);
  const secureIdx = cfg.secureSegments ?? [count - 1];
  for (const i of secureIdx) if (!Number.isInteger(i) || i < 0 || i >= count) bad(`secure segment ${i} outside 0..${count - 1}`);
  if (secureIdx.length === 0) bad('at least one segment must be secure');
  const secureSet = new Set(secureIdx);
  const segments: SegmentDesc[] = [];
  for (let i = 0; i < count; i++) segments.push({ base: ddrBase + i * segmentSize, size: segmentSize, secure: secureSet.has(i) });
  const firstSecure = Math.min(...secureIdx);
  const mapNoWindows: MemoryMapDesc = { name: cfg.name ?? 'zc702-ltzvisor', ddrBase, ddrSize, segmentSize, segments, windows: [] };

  const window = (name: string, w: WindowConfig | undefined, defBase: number, defSize: number, secure: boolean): WindowDesc => {
    const base = w?.base ?? defBase;
    const size = w?.size ?? defSize;
    if (!Number.isSafeInteger(base) || base % 4096 !== 0) bad(`${name}: base ${hex(base)} must be 4 KiB-aligned`, { name });
    if (!Number.isSafeInteger(size) || size <= 0 || size % 4096 !== 0) bad(`${name}: size ${size} must be a positive multiple of 4 KiB`, { name });
    if (base < ddrBase || base + size > ddrBase + ddrSize) bad(`${name}: [${hex(base)}, ${hex(base + size)}) is outside DDR`, { name });
    if (secure) {
      // wholly secure: every segment it touches is secure
      for (let a = base; a < base + size; a += segmentSize - ((a - ddrBase) % segmentSize)) {
        if (!segments[Math.floor((a - ddrBase) / segmentSize)]!.secure) bad(`${name}: ${hex(a)} lies in a non-secure segment`, { name });
      }
    } else if (touchesSecure(mapNoWindows, base, size)) {
      bad(`${name}: [${hex(base)}, ${hex(base + size)}) overlaps secure memory`, { name });
    }
    return { name, base, size, secure };
  };
  const secureRam = window('secure-ram', cfg.secureRam, ddrBase + firstSecure * segmentSize, MiB, true);
  const ipc = window('ipc', cfg.ipc, ddrBase + Math.max(0, ddrSize - 2 * segmentSize), MiB, false);
  const nsRamSize = cfg.nsRam?.size ?? 256 * 1024;
  const nsRam = nsRamSize === 0 ? undefined : window('ns-ram', cfg.nsRam, ddrBase + Math.min(0x1000_0000, Math.floor(count / 4) * segmentSize), 256 * 1024, false);
  const windows = [secureRam, ipc, ...(nsRam ? [nsRam] : [])].sort((a, b) => a.base - b.base);
  for (let i = 1; i < windows.length; i++) {
    const p = windows[i - 1]!;
    if (windows[i]!.base < p.base + p.size) bad(`${windows[i]!.name} overlaps ${p.name}`);
  }
  return { map: { ...mapNoWindows, windows }, secureRam, ipc, nsRam };
}

/** Backing for the windows: one SharedArrayBuffer each (zeroed). */
export interface Backing {
  readonly secureRam: RegionSpec;
  readonly ipc: RegionSpec;
  readonly nsRam: RegionSpec | undefined;
}

export function allocateBacking(p: Platform): Backing {
  const spec = (w: WindowDesc): RegionSpec => ({ name: w.name, base: w.base, size: w.size, buffer: new SharedArrayBuffer(w.size), attrs: { secure: w.secure } });
  return { secureRam: spec(p.secureRam), ipc: spec(p.ipc), nsRam: p.nsRam ? spec(p.nsRam) : undefined };
}

/**
 * What each world is given. The secure world reaches its RAM and all non-secure memory (here: the IPC region; the
 * non-secure partition's private RAM is left out because nothing secure needs it). The non-secure world gets only
 * non-secure windows: the secure SharedArrayBuffer never reaches its worker.
 */
export function windowsFor(p: Platform, world: 'secure' | 'nonsecure'): WindowDesc[] {
  return world === 'secure' ? [p.secureRam, p.ipc] : [p.ipc, ...(p.nsRam ? [p.nsRam] : [])];
}

export function regionsFor(p: Platform, b: Backing, world: 'secure' | 'nonsecure'): RegionSpec[] {
  return world === 'secure' ? [b.secureRam, b.ipc] : [b.ipc, ...(b.nsRam ? [b.nsRam] : [])];
}

/** One line per segment run and window, for the report. */
export function describeMap(p: Platform): string[] {
  const out: string[] = [];
  const m = p.map;
  let i = 0;
  while (i < m.segments.length) {
    let j = i;
    while (j + 1 < m.segments.length && m.segments[j + 1]!.secure === m.segments[i]!.secure) j++;
    const a = m.segments[i]!.base;
    const e = m.segments[j]!.base + m.segments[j]!.size - 1;
    out.push(`${hex(a).padEnd(11)}-${hex(e).padEnd(11)} DDR segments ${i}..${j} ${m.segments[i]!.secure ? 'SECURE' : 'non-secure'}`);
    i = j + 1;
  }
  for (const w of m.windows) out.push(`${hex(w.base).padEnd(11)}+${(w.size / 1024).toString().padEnd(5)} KiB  backed window "${w.name}" (${w.secure ? 'secure' : 'non-secure'})`);
  return out;
}
