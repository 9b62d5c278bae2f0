/**
 * A guest's view of physical memory: every access is classified against the public memory map first (TZASC, then
 * the bus), and only then performed on the PhysicalMemory this partition holds.
 *
 * Isolation does not rest on this check: the non-secure partition's PhysicalMemory simply has no secure region
 * (its worker never receives the secure SharedArrayBuffer). The check is what turns a forbidden access into the
 * behaviour of the board: the access is refused, a SecurityFault is reported to the hypervisor, and the guest gets
 * a GuestAbort (data abort) it may catch.
 */
import type { PhysicalMemory } from '../virtio/memory.js';
import { hex } from '../virtio/memory.js';
import { GuestAbort, GuestErrorCode, type AccessKind } from './errors.js';
import { classify, type MemoryMapDesc, type WindowDesc, type World } from './memory-map.js';

export interface FaultRecord {
  readonly addr: number;
  readonly len: number;
  readonly world: World;
  readonly access: AccessKind;
  readonly kind: 'security' | 'bus';
  /** Microseconds on the machine clock. */
  readonly timeUs: number;
}

export interface MemoryPortDeps {
  readonly world: World;
  readonly map: MemoryMapDesc;
  readonly memory: PhysicalMemory;
  readonly held: readonly WindowDesc[];
  /** Called for every refused access before the abort is thrown. */
  readonly onFault: (f: FaultRecord) => void;
  readonly now: () => number;
  /** Called before each access (the non-secure runtime's preemption point). */
  readonly boundary?: () => void;
}

export interface MemoryPort {
  read8(addr: number): number;
  read16(addr: number): number;
  read32(addr: number): number;
  write8(addr: number, v: number): void;
  write16(addr: number, v: number): void;
  write32(addr: number, v: number): void;
  /** Copies len bytes out of memory. */
  read(addr: number, len: number): Uint8Array;
  write(addr: number, data: Uint8Array): void;
  /** Atomics on an aligned u32 (counters shared between partitions). */
  atomicLoad32(addr: number): number;
  atomicStore32(addr: number, v: number): void;
  atomicAdd32(addr: number, v: number): number;
  /** A zero-copy view (checked once, for the whole range). */
  view(addr: number, len: number): Uint8Array;
  /** The verdict without performing an access (no fault recorded). */
  probe(addr: number, len: number): 'ok' | 'security' | 'bus';
}

export function createMemoryPort(d: MemoryPortDeps): MemoryPort {
  const { world, map, memory, held } = d;
  const boundary = d.boundary ?? (() => undefined);
  function check(addr: number, len: number, access: AccessKind): void {
    boundary();
    const v = classify(map, world, addr, len, held);
    if (v === 'ok') return;
    d.onFault({ addr, len, world, access, kind: v, timeUs: d.now() });
    if (v === 'security') {
      throw new GuestAbort(GuestErrorCode.SECURITY_FAULT, `${world} ${access} of ${len} bytes at ${hex(addr)} refused: secure memory`, addr, len, access);
    }
    throw new GuestAbort(GuestErrorCode.BUS_ERROR, `${world} ${access} of ${len} bytes at ${hex(addr)}: no memory there`, addr, len, access);
  }
  function aligned(addr: number, n: number, access: AccessKind): void {
    check(addr, n, access);
    if (addr % n !== 0) throw new GuestAbort(GuestErrorCode.ALIGNMENT, `${n}-byte atomic at ${hex(addr)} is misaligned`, addr, n, access);
  }
  function u32(addr: number) {
    const r = memory.regionFor(addr, 4);
    return { a: r.u32, i: (addr - r.base) >>> 2 };
  }
  return {
    read8: (a) => (check(a, 1, 'read'), memory.read8(a)),
    read16: (a) => (check(a, 2, 'read'), memory.read16(a)),
    read32: (a) => (check(a, 4, 'read'), memory.read32(a)),
    write8: (a, v) => (check(a, 1, 'write'), memory.write8(a, v)),
    write16: (a, v) => (check(a, 2, 'write'), memory.write16(a, v)),
    write32: (a, v) => (check(a, 4, 'write'), memory.write32(a, v)),
    read: (a, len) => {
      check(a, len, 'read');
      const out = new Uint8Array(len);
      memory.readBytes(a, out, 0, len);
      return out;
    },
    write: (a, data) => (check(a, data.length, 'write'), memory.write(a, data)),
    atomicLoad32: (a) => (aligned(a, 4, 'read'), memory.atomicLoad32(a)),
    atomicStore32: (a, v) => (aligned(a, 4, 'write'), memory.atomicStore32(a, v)),
    atomicAdd32: (a, v) => {
      aligned(a, 4, 'write');
      const { a: arr, i } = u32(a);
      return Atomics.add(arr, i, v >>> 0) >>> 0;
    },
    view: (a, len) => (check(a, len, 'read'), memory.bytes(a, len)),
    probe: (a, len) => classify(map, world, a, len, held),
  };
}
