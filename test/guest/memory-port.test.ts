import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/virtio/memory.js';
import { buildPlatform, allocateBacking, regionsFor, windowsFor } from '../../src/hypervisor/platform.js';
import { createMemoryPort, type FaultRecord } from '../../src/guest/memory-port.js';
import { GuestAbort, GuestErrorCode } from '../../src/guest/errors.js';

function ports() {
  const p = buildPlatform();
  const b = allocateBacking(p);
  const faults: FaultRecord[] = [];
  let boundaries = 0;
  const mk = (world: 'secure' | 'nonsecure') =>
    createMemoryPort({
      world,
      map: p.map,
      memory: new PhysicalMemory(regionsFor(p, b, world)),
      held: windowsFor(p, world),
      onFault: (f) => faults.push(f),
      now: () => 42,
      boundary: () => void boundaries++,
    });
  return { p, ns: mk('nonsecure'), s: mk('secure'), faults, boundaries: () => boundaries };
}

describe('checked memory port', () => {
  it('aborts a non-secure access to secure memory and reports address, world and access kind', () => {
    const { ns, faults } = ports();
    let err: unknown;
    try {
      ns.read32(0x3c00_1000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GuestAbort);
    expect((err as GuestAbort).code).toBe(GuestErrorCode.SECURITY_FAULT);
    expect(faults).toEqual([{ addr: 0x3c00_1000, len: 4, world: 'nonsecure', access: 'read', kind: 'security', timeUs: 42 }]);
    expect(() => ns.write(0x3bff_fffe, new Uint8Array(4))).toThrow(GuestAbort);
    expect(faults[1]).toMatchObject({ addr: 0x3bff_fffe, access: 'write', kind: 'security' });
  });

  it('turns an allowed but unbacked address into a bus error', () => {
    const { ns, s, faults } = ports();
    for (const port of [ns, s]) {
      try {
        port.read8(0x0100_0000);
        expect.unreachable();
      } catch (e) {
        expect((e as GuestAbort).code).toBe(GuestErrorCode.BUS_ERROR);
      }
    }
    expect(faults.map((f) => f.kind)).toEqual(['bus', 'bus']);
  });

  it('lets the secure world reach non-secure memory and its own RAM; both see the same IPC bytes', () => {
    const { p, ns, s, faults } = ports();
    s.write32(p.ipc.base + 16, 0xfeedf00d);
    expect(ns.read32(p.ipc.base + 16)).toBe(0xfeedf00d);
    s.write32(p.secureRam.base, 7);
    expect(s.read32(p.secureRam.base)).toBe(7);
    expect(ns.atomicAdd32(p.ipc.base + 32, 5)).toBe(0);
    expect(s.atomicLoad32(p.ipc.base + 32)).toBe(5);
    expect(faults).toEqual([]);
  });

  it('calls the preemption boundary before every access and refuses misaligned atomics', () => {
    const { p, ns, boundaries } = ports();
    ns.read8(p.ipc.base);
    ns.write8(p.ipc.base, 1);
    expect(boundaries()).toBe(2);
    expect(() => ns.atomicLoad32(p.ipc.base + 2)).toThrow(GuestAbort);
  });
});
