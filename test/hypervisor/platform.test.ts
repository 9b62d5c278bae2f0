import { describe, expect, it } from 'vitest';
import { buildPlatform, describeMap, windowsFor, MiB } from '../../src/hypervisor/platform.js';
import { classify, touchesSecure } from '../../src/guest/memory-map.js';
import { isHypervisorError, HypervisorErrorCode } from '../../src/hypervisor/errors.js';

describe('platform: default ZC702-like map', () => {
  const p = buildPlatform();
  it('declares 1 GiB of DDR in 16 segments of 64 MiB with only the top one secure', () => {
    expect(p.map.ddrSize).toBe(0x4000_0000);
    expect(p.map.segments).toHaveLength(16);
    expect(p.map.segments.filter((s) => s.secure).map((s) => s.base)).toEqual([0x3c00_0000]);
  });
  it('backs a secure window in the top segment and non-secure IPC/RAM windows below it', () => {
    expect(p.secureRam).toMatchObject({ base: 0x3c00_0000, size: MiB, secure: true });
    expect(p.ipc.secure).toBe(false);
    expect(p.ipc.base + p.ipc.size).toBeLessThanOrEqual(0x3c00_0000);
    expect(describeMap(p).join('\n')).toContain('SECURE');
  });
  it('gives the non-secure world no secure window, the secure world its RAM and the IPC region', () => {
    expect(windowsFor(p, 'nonsecure').some((w) => w.secure)).toBe(false);
    expect(windowsFor(p, 'secure').map((w) => w.name).sort()).toEqual(['ipc', 'secure-ram']);
  });
});

describe('platform: configuration errors', () => {
  const bad: Array<[string, Parameters<typeof buildPlatform>[0]]> = [
    ['segment not a power of two', { ddr: { segmentSize: 3 * MiB } }],
    ['secure segment out of range', { secureSegments: [16] }],
    ['no secure segment', { secureSegments: [] }],
    ['secure RAM in a non-secure segment', { secureRam: { base: 0x1000_0000 } }],
    ['IPC window overlapping secure memory', { ipc: { base: 0x3bf0_0000, size: 2 * MiB } }],
    ['unaligned window', { ipc: { base: 0x3800_0100 } }],
    ['window outside DDR', { nsRam: { base: 0x4000_0000 } }],
    ['overlapping windows', { nsRam: { base: 0x3800_0000 } }],
  ];
  for (const [what, cfg] of bad) {
    it(`refuses ${what}`, () => {
      let err: unknown;
      try {
        buildPlatform(cfg);
      } catch (e) {
        err = e;
      }
      expect(isHypervisorError(err, HypervisorErrorCode.BAD_CONFIG)).toBe(true);
    });
  }
});

describe('TZASC classification at every secure segment boundary', () => {
  const p = buildPlatform({ secureSegments: [0, 3, 4, 9, 15], ipc: { base: 0x1400_0000 }, nsRam: { base: 0x2000_0000 }, secureRam: { base: 0x0c00_0000 } });
  const m = p.map;
  const boundaries: number[] = [];
  m.segments.forEach((s, i) => {
    const prev = m.segments[i - 1];
    if (s.secure && (!prev || !prev.secure)) boundaries.push(s.base);
    const next = m.segments[i + 1];
    if (s.secure && (!next || !next.secure)) boundaries.push(s.base + s.size);
  });
  it('finds the boundaries of each secure run', () => {
    expect(boundaries).toEqual([0, 0x0400_0000, 0x0c00_0000, 0x1400_0000, 0x2400_0000, 0x2800_0000, 0x3c00_0000, 0x4000_0000]);
  });
  it('non-secure accesses touching a secure byte are security faults, the others never are; secure ones never are', () => {
    let checked = 0;
    for (const b of boundaries) {
      for (let d = -16; d <= 16; d++) {
        for (const len of [1, 2, 4, 8, 16]) {
          const addr = b + d;
          if (addr < 0) continue;
          const touches = touchesSecure(m, addr, len);
          // oracle: byte by byte
          let any = false;
          for (let a = addr; a < addr + len; a++) {
            const seg = m.segments[Math.floor(a / m.segmentSize)];
            if (seg?.secure) any = true;
          }
          expect(touches).toBe(any);
          const ns = classify(m, 'nonsecure', addr, len, windowsFor(p, 'nonsecure'));
          expect(ns === 'security').toBe(any);
          expect(classify(m, 'secure', addr, len, windowsFor(p, 'secure'))).not.toBe('security');
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(800);
  });
  it('an allowed but unbacked address is a bus error, a backed one is fine', () => {
    expect(classify(m, 'nonsecure', 0x1800_0000, 4, windowsFor(p, 'nonsecure'))).toBe('bus');
    expect(classify(m, 'nonsecure', p.ipc.base + 8, 4, windowsFor(p, 'nonsecure'))).toBe('ok');
    expect(classify(m, 'secure', p.ipc.base + 8, 4, windowsFor(p, 'secure'))).toBe('ok');
    expect(classify(m, 'nonsecure', -4, 4, windowsFor(p, 'nonsecure'))).toBe('bus');
    expect(classify(m, 'nonsecure', 0x5000_0000, 4, windowsFor(p, 'nonsecure'))).toBe('bus');
  });
});
