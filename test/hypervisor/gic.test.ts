import { describe, expect, it } from 'vitest';
import { Gic, GIC_SPURIOUS } from '../../src/hypervisor/gic.js';
import { isHypervisorError } from '../../src/hypervisor/errors.js';

function gic() {
  const g = new Gic({ lines: 64, cpus: 2 });
  g.configure(8, { group: 0, enabled: true, priority: 0x40 }, 'secure', 0);
  g.configure(29, { group: 0, enabled: true, priority: 0x20 }, 'secure', 0);
  g.configure(9, { group: 1, enabled: true, priority: 0xa0 }, 'secure', 1);
  g.configure(40, { group: 1, enabled: true, priority: 0x80, targetCpu: 1 }, 'secure');
  return g;
}

describe('GIC model', () => {
  it('acknowledges the most urgent pending line of the world group, then ends it', () => {
    const g = gic();
    g.setPending(8, 0);
    g.setPending(29, 0);
    expect(g.acknowledge('nonsecure', 0)).toBe(GIC_SPURIOUS);
    expect(g.acknowledge('secure', 0)).toBe(29);
    expect(g.isActive(29, 0)).toBe(true);
    expect(g.acknowledge('secure', 0)).toBe(8);
    expect(g.acknowledge('secure', 0)).toBe(GIC_SPURIOUS);
    expect(g.endOfInterrupt(29, 'nonsecure', 0)).toBe(false);
    expect(g.endOfInterrupt(29, 'secure', 0)).toBe(true);
    expect(g.endOfInterrupt(29, 'secure', 0)).toBe(false);
  });
  it('keeps an active line from being acknowledged again until its EOI', () => {
    const g = gic();
    g.setPending(8, 0);
    expect(g.acknowledge('secure', 0)).toBe(8);
    g.setPending(8, 0);
    expect(g.acknowledge('secure', 0)).toBe(GIC_SPURIOUS);
    g.endOfInterrupt(8, 'secure', 0);
    expect(g.acknowledge('secure', 0)).toBe(8);
  });
  it('does not deliver disabled lines', () => {
    const g = gic();
    g.configure(8, { enabled: false }, 'secure', 0);
    g.setPending(8, 0);
    expect(g.acknowledge('secure', 0)).toBe(GIC_SPURIOUS);
    g.configure(8, { enabled: true }, 'secure', 0);
    expect(g.acknowledge('secure', 0)).toBe(8);
  });
  it('ignores non-secure writes to secure lines and any non-secure change of group', () => {
    const g = gic();
    expect(g.configure(8, { enabled: false }, 'nonsecure', 0)).toBe(false);
    expect(g.isEnabled(8, 0)).toBe(true);
    expect(g.configure(9, { group: 0 }, 'nonsecure', 1)).toBe(false);
    expect(g.groupOf(9, 1)).toBe(1);
    expect(g.configure(9, { priority: 0x10 }, 'nonsecure', 1)).toBe(true);
    expect(g.ignoredWrites).toBe(2);
  });
  it('banks SGIs per CPU; a non-secure SGI request only raises group-1 SGIs', () => {
    const g = gic();
    expect(g.sendSgi(8, [0], 'nonsecure')).toBe(0);
    expect(g.isPending(8, 0)).toBe(false);
    expect(g.sendSgi(8, [0], 'secure')).toBe(1);
    expect(g.isPending(8, 0)).toBe(true);
    expect(g.isPending(8, 1)).toBe(false);
    expect(g.sendSgi(9, [1], 'nonsecure')).toBe(1);
    expect(g.acknowledge('nonsecure', 1)).toBe(9);
    expect(g.acknowledge('nonsecure', 0)).toBe(GIC_SPURIOUS);
  });
  it('delivers an SPI to its target CPU only', () => {
    const g = gic();
    g.setPending(40);
    expect(g.acknowledge('nonsecure', 0)).toBe(GIC_SPURIOUS);
    expect(g.acknowledge('nonsecure', 1)).toBe(40);
  });
  it('rejects lines, CPUs and priorities that do not exist', () => {
    const g = gic();
    for (const f of [() => g.setPending(64), () => g.setPending(-1), () => g.setPending(3, 2), () => g.sendSgi(16, [0], 'secure'), () => g.configure(8, { priority: 256 }, 'secure')]) {
      expect(() => f()).toThrow();
      try {
        f();
      } catch (e) {
        expect(isHypervisorError(e)).toBe(true);
      }
    }
  });
});
