/**
 * The memory-bandwidth ceiling: one thread copies each message (TypedArray.set) from a private source into one of
 * `window` slots of a SharedArrayBuffer and checks the stamps there. No second side, no notification: the most any
 * shared-memory transport that copies once could reach.
 */
import { report, type Contender, type RoleInstance } from '../contender.js';
import { threadCpuNs } from '../cpu.js';
import { verifyFailed } from '../errors.js';
import { appBuffer, checkStamp, stamp } from '../shared.js';
import type { TrialSpec } from '../types.js';

function run(spec: TrialSpec, sab: SharedArrayBuffer) {
  const { size, window } = spec;
  const app = appBuffer(size);
  const dst8 = new Uint8Array(sab);
  const dst32 = new Uint32Array(sab);
  const step = Math.ceil(size / 64) * 64;
  const total = spec.warmup + spec.count;
  let t0 = 0;
  let c0 = 0;
  let verified = 0;
  for (let i = 0; i < total; i++) {
    if (i === spec.warmup) {
      c0 = threadCpuNs();
      t0 = performance.now();
    }
    const off = (i % window) * step;
    stamp(app.u32, 0, size, i);
    dst8.set(app.u8, off);
    if (!checkStamp(dst32, off >>> 2, size, i)) throw verifyFailed('memcpy', i);
    verified++;
  }
  const t1 = performance.now();
  return report('solo', { messages: spec.count, elapsedNs: (t1 - t0) * 1e6, cpuNs: threadCpuNs() - c0 }, verified);
}

export const contender: Contender = {
  name: 'memcpy',
  description: 'SharedArrayBuffer copy (TypedArray.set) in one thread: the memory-bandwidth ceiling',
  throughputModes: ['n/a'],
  countScale: 16,
  rttPolicies: [],
  maxSize: () => Number.POSITIVE_INFINITY,
  setup(spec) {
    return { shared: { sab: new SharedArrayBuffer(spec.window * Math.ceil(spec.size / 64) * 64) }, roles: ['solo'] };
  },
  createRole(_role, spec, shared): RoleInstance {
    return { run: () => run(spec, shared['sab'] as SharedArrayBuffer) };
  },
};
