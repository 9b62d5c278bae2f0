import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../src/fuzz/run.js';

describe('vsock fuzz target (hostile driver against the device)', () => {
  it('a seeded run finds no crash, hang or violation, and exercises every mutation and some typed errors', () => {
    const r = runFuzz({ seed: 1234, iterations: 24, targets: ['vsock'], steps: 120 });
    expect(r.findings).toEqual([]);
    expect(r.crashes + r.hangs + r.violations).toBe(0);
    expect(Object.keys(r.mutations).length).toBeGreaterThanOrEqual(13);
    expect(Object.keys(r.errorsByCode).length).toBeGreaterThan(0);
    expect(r.states).toBeGreaterThan(1000);
  }, 120_000);
});
