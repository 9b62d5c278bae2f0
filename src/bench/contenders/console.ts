/**
 * tz-virtio virtio-console: the sender is the console driver (non-secure side) writing on port 0 (the console port,
 * opened by the MULTIPORT bring-up), the receiver the console device (secure side). Every message goes into one
 * driver transmit buffer (buffers of max(4 KiB, message) bytes, as many as the window); the receiver copies every
 * message out of shared memory into its own buffer and checks the stamps, and every window/4 messages (and at the
 * end) sends an acknowledgement (u32 count) back on port 0's receiveq. This is the in-thread API under the port
 * streams (ConsoleDriver.send / ConsoleDevice.onData), so the figure is the device's, not Node's stream machinery.
 *
 * Notifications: a running side keeps its notifications off (driver.disarm / device.disarm: flags or EVENT_IDX), and
 * before sleeping arms them and sleeps only when arm() found nothing waiting.
 */
import { ConsoleDevice, ConsoleDriver } from '../../console/index.js';
import {
  copyBytes,
  PhysicalMemory,
  SplitVirtqueueDevice,
  SplitVirtqueueDriver,
  VirtioFeature,
  bit,
  splitLegacyLayout,
  type VirtqueueDevice,
  type VirtqueueDriver,
} from '../../virtio/index.js';
import { report, type Contender, type RoleInstance } from '../contender.js';
import { BenchError, BenchErrorCode, verifyFailed } from '../errors.js';
import { driveSide, type Side } from '../side.js';
import { appBuffer, checkStamp, endpoints, newControl, stamp, type Endpoints } from '../shared.js';
import type { TrialSpec } from '../types.js';

const BASE = 0x1000_0000;
const PORT = 0;
const MAX_SIZE = 64 * 1024;

interface Plan {
  readonly n: number;
  readonly split: { desc: number; avail: number; used: number };
}

interface ConsoleShared {
  readonly sab: SharedArrayBuffer;
  readonly plans: readonly Plan[];
  readonly features: bigint;
  readonly pool: { base: number; size: number };
  readonly config: Uint8Array;
  readonly driverOpts: { maxPorts: number; queueSize: number; bufferSize: number };
}

function plan(spec: TrialSpec): ConsoleShared {
  let q = 8;
  while (q < spec.window) q *= 2;
  q = Math.min(q, 256);
  const driverOpts = { maxPorts: 1, queueSize: q, bufferSize: Math.max(4096, Math.ceil(spec.size / 8) * 8) };
  const device = new ConsoleDevice({ queueSize: q });
  const driver = new ConsoleDriver(driverOpts);
  const features = driver.negotiate(device.deviceFeatures & ~bit(VirtioFeature.RING_PACKED) & ~bit(VirtioFeature.INDIRECT_DESC));
  let at = BASE;
  const plans = driver.queueSizes(device.queueMaxSizes).map((n) => {
    const l = splitLegacyLayout(at, n, 4096);
    at = Math.ceil((at + l.totalBytes) / 4096) * 4096;
    return { n, split: { desc: l.desc, avail: l.avail, used: l.used } };
  });
  const pool = { base: at, size: driver.poolBytes };
  const config = new Uint8Array(12);
  device.readConfig(0, config);
  return { sab: new SharedArrayBuffer(at + pool.size - BASE), plans, features, pool, config, driverOpts };
}

function memoryOf(s: ConsoleShared): PhysicalMemory {
  return new PhysicalMemory([{ name: 'ipc', base: BASE, size: s.sab.byteLength, buffer: s.sab }]);
}

/** Polls until port 0 is open on this side (the peer brings up its side in its own worker). */
function bringUp(poll: () => void, open: () => boolean, who: string): void {
  const until = performance.now() + 10_000;
  const w = new Int32Array(new SharedArrayBuffer(4));
  while (!open()) {
    poll();
    if (performance.now() > until) throw new BenchError(BenchErrorCode.WORKER_FAILED, `console ${who}: port ${PORT} did not open within 10 s`);
    Atomics.wait(w, 0, 0, 0.2);
  }
}

class Sender implements Side {
  progress = 0;
  verified = 0;
  private sent = 0;
  private readonly app;
  constructor(
    private readonly driver: ConsoleDriver,
    private readonly link: Endpoints,
    private readonly spec: TrialSpec,
    private readonly total: number,
  ) {
    this.app = appBuffer(spec.size);
    const ack = new Uint32Array(1);
    const ack8 = new Uint8Array(ack.buffer);
    driver.onData(PORT, (d) => {
      if (d.length !== 4) throw verifyFailed('console', this.progress, 'acknowledgement length');
      ack8.set(d);
      const n = ack[0]!;
      if (n < this.progress || n > this.sent) throw verifyFailed('console', n, 'acknowledgement');
      this.progress = this.verified = n;
      return true;
    });
  }
  work(): boolean {
    const before = this.progress;
    this.driver.interrupt();
    let moved = this.progress !== before;
    const { size, window } = this.spec;
    while (this.sent < this.total && this.sent - this.progress < window) {
      stamp(this.app.u32, 0, size, this.sent);
      if (this.driver.send(PORT, this.app.u8) === 0) break;
      this.sent++;
      moved = true;
    }
    return moved;
  }
  arm(): boolean {
    return this.driver.arm(PORT);
  }
  disarm(): void {
    this.driver.disarm(PORT);
  }
  counters(): Record<string, number> {
    return { notifications: this.link.notifications(), kicks: this.driver.stats.notifications };
  }
}

class Receiver implements Side {
  progress = 0;
  verified = 0;
  private received = 0;
  private readonly ackEvery: number;
  private readonly ack = new Uint8Array(4);
  private readonly ack32 = new Uint32Array(this.ack.buffer);
  constructor(
    private readonly device: ConsoleDevice,
    private readonly link: Endpoints,
    spec: TrialSpec,
    private readonly total: number,
  ) {
    this.ackEvery = Math.max(1, Math.floor(spec.window / 4));
    const size = spec.size;
    const dst = new Uint8Array(size);
    const dst32 = new Uint32Array(dst.buffer);
    device.onData(PORT, (d) => {
      if (d.length !== size) throw verifyFailed('console', this.received, 'length');
      copyBytes(dst, 0, d, 0, size); // every byte into the receiver's own buffer (the product's copy)
      if (!checkStamp(dst32, 0, size, this.received)) throw verifyFailed('console', this.received);
      this.received++;
      this.verified++;
      return true;
    });
  }
  work(): boolean {
    const n = this.device.poll();
    let moved = n > 0;
    const due = this.received === this.total ? this.total : this.received - (this.received % this.ackEvery);
    if (due > this.progress) {
      this.ack32[0] = due;
      if (this.device.send(PORT, this.ack) === 4) {
        this.progress = due;
        moved = true;
      }
    }
    return moved;
  }
  arm(): boolean {
    return this.device.arm(PORT);
  }
  disarm(): void {
    this.device.disarm(PORT);
  }
  counters(): Record<string, number> {
    return { notifications: this.link.notifications() };
  }
}

export const contender: Contender = {
  name: 'console',
  description: 'tz-virtio virtio-console driver -> device on port 0 (MULTIPORT bring-up, one buffer per message, copy out)',
  throughputModes: ['multi-core'],
  rttPolicies: [],
  maxSize: () => MAX_SIZE,
  setup(spec) {
    if (spec.experiment !== 'throughput') throw new BenchError(BenchErrorCode.UNAVAILABLE, 'console: throughput only');
    const s = plan(spec);
    return { shared: { ctl: newControl(), console: s }, roles: ['sender', 'receiver'] };
  },
  createRole(role, spec, shared): RoleInstance {
    const ctl = shared['ctl'] as Int32Array;
    const s = shared['console'] as ConsoleShared;
    const memory = memoryOf(s);
    const total = spec.warmup + spec.count;
    const link = endpoints(ctl, role === 'sender' ? 'sender' : 'receiver', 'multi-core');
    const opts = { features: s.features };
    if (role === 'sender') {
      const driver = new ConsoleDriver(s.driverOpts);
      driver.negotiate(s.features);
      driver.activate({
        features: s.features,
        memory,
        pool: s.pool,
        queues: s.plans.map((p, index) => {
          const vq: VirtqueueDriver<number> = new SplitVirtqueueDriver<number>(memory, p.n, p.split, opts);
          return { index, vq, kick: () => (vq.kick() ? (link.notify(), true) : false) };
        }),
        readConfig: (o, d) => d.set(s.config.subarray(o, o + d.length)),
        writeConfig: () => undefined,
      });
      bringUp(() => driver.interrupt(), () => driver.isOpen(PORT), 'driver');
      const side = new Sender(driver, link, spec, total);
      driver.disarm(PORT); // running: acknowledgements and used buffers are picked up by polling
      return {
        run: () => {
          const r = driveSide(side, { mode: 'multi-core', policy: spec.policy, bell: link.myBell, total, warmup: spec.warmup });
          return report(role, r, side.verified, { ...side.counters(), sleeps: r.sleeps ?? 0 });
        },
      };
    }
    const device = new ConsoleDevice({ queueSize: s.plans[0]!.n });
    device.checkFeatures(s.features);
    device.activate({
      features: s.features,
      memory,
      queues: s.plans.map((p, index) => ({ index, vq: new SplitVirtqueueDevice(memory, p.n, p.split, opts) as VirtqueueDevice, notify: () => link.notify() })),
      configChanged: () => link.notify(),
      needsReset: (reason) => {
        throw new BenchError(BenchErrorCode.WORKER_FAILED, `console device needs reset: ${reason}`);
      },
    });
    bringUp(() => device.poll(), () => device.isOpen(PORT), 'device');
    const side = new Receiver(device, link, spec, total);
    device.disarm(PORT); // running: new messages are picked up by polling
    return {
      run: () => {
        const r = driveSide(side, { mode: 'multi-core', policy: spec.policy, bell: link.myBell, total, warmup: spec.warmup });
        return report(role, r, side.verified, { ...side.counters(), sleeps: r.sleeps ?? 0 });
      },
    };
  },
};
