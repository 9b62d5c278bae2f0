/**
 * virtio-vsock (VIRTIO 1.2 §5.10) as a benchmark contender: the sender / rtt client is the vsock driver (the guest,
 * the non-secure side) with a stream socket connected to the device's (the host's, the secure side's) server, over
 * three queues in one shared region; data is the same stamped messages as every other row, written with
 * socket.write(), through the credit window (buf_alloc: Linux's 256 KiB, or the bench's window of messages when
 * larger). Throughput: the receiver takes each payload with the socket's zero-copy receive (one copy, ring → its own
 * message buffer, as the raw virtqueue's receiver); rtt: the server reads with socket.read(size) and echoes with
 * socket.write() (the plain stream path: payloads copied into the readable side).
 * Split rings ("vsock") or packed ("vsock-packed"); EVENT_IDX on; notifications are the bench's doorbells.
 *
 *   region "ipc" @ IPC_BASE:  [rx ring][tx ring][event ring] (4 KiB aligned)  [driver pool: rx buffers, tx slots, events]
 *
 * The sides run the bench's synchronous loops: the stream API is used without the event loop (write callbacks and
 * read() are synchronous in a poll-driven runtime; flushes happen in poll()/interrupt()).
 */
import { copyBytes, PhysicalMemory, VirtioFeature, features, packedRingSizes, splitLegacyLayout } from '../../virtio/index.js';
import { PackedVirtqueueDevice, PackedVirtqueueDriver } from '../../virtio/packed/index.js';
import { SplitVirtqueueDevice, SplitVirtqueueDriver } from '../../virtio/split/index.js';
import type { DeviceQueue, DriverQueue } from '../../virtio/device.js';
import { encodeVsockConfig } from '../../vsock/header.js';
import { VsockDevice } from '../../vsock/device.js';
import { VsockDriver } from '../../vsock/driver.js';
import type { VsockSocket } from '../../vsock/socket.js';
import { report, type Contender, type RoleInstance } from '../contender.js';
import { verifyFailed } from '../errors.js';
import { driveRttClient, driveSide, type RttClient, type Side } from '../side.js';
import { appBuffer, checkStamp, endpoints, newControl, stamp, type Endpoints } from '../shared.js';
import type { TrialSpec } from '../types.js';

const IPC_BASE = 0x1000_0000;
const QUEUE_SIZE = 128;
const GUEST_CID = 3;
const PORT = 5000;
/** Driver buffers: tx slots of 64 KiB (Linux's largest packet), as many as the bench's window (the same for every row). */
function driverOpts(spec: TrialSpec) {
  return { queueSize: QUEUE_SIZE, txBufferSize: 64 * 1024, txSlots: Math.min(QUEUE_SIZE, Math.max(8, spec.window)) };
}

type Layout = 'split' | 'packed';

interface Plan {
  readonly queues: { n: number; split?: { desc: number; avail: number; used: number }; packed?: { desc: number; driverEvent: number; deviceEvent: number } }[];
  readonly pool: { base: number; size: number };
  readonly bytes: number;
  readonly features: bigint;
}

const align = (x: number, a: number) => Math.ceil(x / a) * a;

function plan(layout: Layout, spec: TrialSpec): Plan {
  let at = IPC_BASE;
  const queues = [0, 1, 2].map(() => {
    const start = at;
    if (layout === 'packed') {
      const s = packedRingSizes(QUEUE_SIZE);
      at = align(start + s.descBytes + 8, 4096);
      return { n: QUEUE_SIZE, packed: { desc: start, driverEvent: start + s.descBytes, deviceEvent: start + s.descBytes + 4 } };
    }
    const l = splitLegacyLayout(start, QUEUE_SIZE, 4096);
    at = align(start + l.totalBytes, 4096);
    return { n: QUEUE_SIZE, split: { desc: l.desc, avail: l.avail, used: l.used } };
  });
  const probe = new VsockDriver({ ...driverOpts(spec), packed: layout === 'packed' });
  const feats = probe.negotiate(new VsockDevice().deviceFeatures) & (layout === 'packed' ? ~0n : ~features(VirtioFeature.RING_PACKED));
  const pool = { base: at, size: probe.poolBytes };
  return { queues, pool, bytes: align(at + pool.size - IPC_BASE, 4096), features: feats };
}

/** The receive window: Linux's 256 KiB, or the bench's window of messages when that is larger (the same for every row). */
function bufAlloc(spec: TrialSpec): number {
  return Math.max(256 * 1024, spec.window * spec.size);
}

function makeDevice(layout: Layout, p: Plan, memory: PhysicalMemory, ep: Endpoints, spec: TrialSpec): VsockDevice {
  const dev = new VsockDevice({ guestCid: GUEST_CID, queueMaxSize: QUEUE_SIZE, schedule: () => {}, bufAlloc: bufAlloc(spec) });
  const o = { features: p.features };
  const queues: DeviceQueue[] = p.queues.map((q, index) => ({
    index,
    vq: layout === 'packed' ? new PackedVirtqueueDevice(memory, q.n, q.packed!, o) : new SplitVirtqueueDevice(memory, q.n, q.split!, o),
    notify: ep.notify,
  }));
  dev.activate({ features: p.features, queues, memory, configChanged: ep.notify, needsReset: (r) => { throw verifyFailed('vsock', 0, `device needs reset: ${r}`); } });
  return dev;
}

function makeDriver(layout: Layout, p: Plan, memory: PhysicalMemory, ep: Endpoints, spec: TrialSpec): VsockDriver {
  const drv = new VsockDriver({ ...driverOpts(spec), packed: layout === 'packed', schedule: () => {}, bufAlloc: bufAlloc(spec) });
  const o = { features: p.features };
  const queues: DriverQueue[] = p.queues.map((q, index) => {
    const vq = layout === 'packed' ? new PackedVirtqueueDriver<number>(memory, q.n, q.packed!, o) : new SplitVirtqueueDriver<number>(memory, q.n, q.split!, o);
    return {
      index,
      vq,
      kick: () => {
        const want = vq.kick();
        if (want) ep.notify();
        return want;
      },
    };
  });
  const config = encodeVsockConfig(GUEST_CID);
  drv.activate({ features: p.features, queues, memory, pool: p.pool, readConfig: (off, d) => d.set(config.subarray(off, off + d.length)), writeConfig: () => {} });
  return drv;
}

/** Reads whole messages of `size` bytes from `s` and checks their stamps; returns how many. */
function readMessages(s: VsockSocket, size: number, dst: { u8: Uint8Array; u32: Uint32Array }, first: number, max: number): number {
  let n = 0;
  while (n < max) {
    const b = s.read(size) as Buffer | null;
    if (b === null) break;
    dst.u8.set(b);
    if (!checkStamp(dst.u32, 0, size, first + n)) throw verifyFailed('vsock', first + n);
    n++;
  }
  return n;
}

class Sender implements Side {
  progress = 0;
  verified = 0;
  private sent = 0;
  /**
   * Message buffers the socket has released (a stack: the buffer just released is reused first, so the application's
   * working set stays in cache as the raw virtqueue's single message buffer does); each comes with its own write
   * callback, made once, which returns it here: nothing is allocated per message.
   */
  private readonly free: { buf: Buffer; words: Uint32Array; done: () => void }[] = [];
  private readonly sock: VsockSocket;
  constructor(
    private readonly drv: VsockDriver,
    private readonly ep: Endpoints,
    private readonly spec: TrialSpec,
    private readonly total: number,
  ) {
    this.sock = drv.connect(PORT);
    for (let i = 0; i < spec.window; i++) {
      const buf = Buffer.alloc(spec.size);
      const m = {
        buf,
        words: new Uint32Array(buf.buffer, buf.byteOffset, spec.size >>> 2),
        done: (): void => {
          this.progress++;
          this.verified++;
          this.free.push(m);
        },
      };
      this.free.push(m);
    }
  }
  work(): boolean {
    const before = this.progress;
    let moved = this.drv.interrupt() > 0;
    const size = this.spec.size;
    while (this.sent < this.total && this.sent - this.progress < this.spec.window) {
      const m = this.free.pop()!;
      stamp(m.words, 0, size, this.sent);
      this.sock.write(m.buf, m.done);
      this.sent++;
      moved = true;
    }
    if (moved) this.drv.interrupt();
    return moved || this.progress !== before;
  }
  arm(): boolean {
    return true;
  }
  disarm(): void {}
  counters(): Record<string, number> {
    return { notifications: this.ep.notifications(), creditUpdates: this.drv.endpoint.stats.creditUpdatesOut };
  }
}

class Receiver implements Side {
  progress = 0;
  verified = 0;
  private sock: VsockSocket | undefined;
  private readonly dst;
  /** Bytes of the current message gathered in dst (zero-copy receive: packets need not align with messages). */
  private fill = 0;
  constructor(
    private readonly dev: VsockDevice,
    private readonly ep: Endpoints,
    private readonly spec: TrialSpec,
    private readonly total: number,
    private readonly echo: boolean,
  ) {
    this.dst = appBuffer(spec.size);
    dev
      .createServer((s) => {
        this.sock = s;
        // throughput: each payload is copied once, from the ring into the receiver's own message buffer
        if (!echo) s.setZeroCopyReceive((v) => this.gather(v));
      })
      .listen(PORT);
  }
  private gather(v: Uint8Array): void {
    const size = this.spec.size;
    let off = 0;
    while (off < v.length) {
      const n = Math.min(size - this.fill, v.length - off);
      copyBytes(this.dst.u8, this.fill, v, off, n); // the product's copy (src/virtio/copy.ts)
      this.fill += n;
      off += n;
      if (this.fill === size) {
        if (!checkStamp(this.dst.u32, 0, size, this.progress)) throw verifyFailed('vsock', this.progress);
        this.fill = 0;
        this.progress++;
        this.verified++;
      }
    }
  }
  work(): boolean {
    const before = this.progress;
    let moved = this.dev.poll() > 0 || this.progress !== before;
    const s = this.sock;
    if (s === undefined || !this.echo) return moved;
    const n = this.echoOne(s);
    if (n > 0) {
      this.progress += n;
      this.verified += n;
      this.dev.poll(); // credit updates / the echo go out now
      moved = true;
    }
    return moved;
  }
  private echoOne(s: VsockSocket): number {
    const b = s.read(this.spec.size) as Buffer | null;
    if (b === null) return 0;
    this.dst.u8.set(b);
    if (!checkStamp(this.dst.u32, 0, this.spec.size, this.progress)) throw verifyFailed('vsock', this.progress);
    s.write(b);
    return 1;
  }
  arm(): boolean {
    return true;
  }
  disarm(): void {}
  counters(): Record<string, number> {
    return { notifications: this.ep.notifications(), creditUpdates: this.dev.endpoint.stats.creditUpdatesOut };
  }
}

class Client implements RttClient {
  private readonly sock: VsockSocket;
  private readonly app;
  private readonly dst;
  private seq = 0;
  constructor(
    private readonly drv: VsockDriver,
    private readonly size: number,
  ) {
    this.sock = drv.connect(PORT);
    this.app = appBuffer(size);
    this.dst = appBuffer(size);
  }
  ping(seq: number): void {
    this.seq = seq;
    stamp(this.app.u32, 0, this.size, seq);
    // the socket keeps the chunk until it is sent: hand it a copy (the previous one may still be referenced)
    this.sock.write(Buffer.from(this.app.u8));
    this.drv.interrupt();
  }
  poll(): boolean {
    this.drv.interrupt();
    return readMessages(this.sock, this.size, this.dst, this.seq, 1) === 1;
  }
  arm(): boolean {
    return true;
  }
  disarm(): void {}
}

function makeContender(name: string, layout: Layout, description: string): Contender {
  return {
    name,
    description,
    throughputModes: ['multi-core'],
    rttPolicies: ['spin-then-block'],
    maxSize: () => 1 << 20,
    setup(spec) {
      return { shared: { ctl: newControl(), ipc: new SharedArrayBuffer(plan(layout, spec).bytes) }, roles: spec.experiment === 'rtt' ? ['client', 'server'] : ['sender', 'receiver'] };
    },
    createRole(role, spec, shared): RoleInstance {
      const ctl = shared['ctl'] as Int32Array;
      const ipc = shared['ipc'] as SharedArrayBuffer;
      const p = plan(layout, spec);
      const memory = new PhysicalMemory([{ name: 'ipc', base: IPC_BASE, size: ipc.byteLength, buffer: ipc }]);
      const total = spec.warmup + spec.count;
      const isDriver = role === 'client' || role === 'sender';
      const ep = endpoints(ctl, isDriver ? 'sender' : 'receiver', 'multi-core');
      if (spec.experiment === 'rtt') {
        if (role === 'client') {
          const c = new Client(makeDriver(layout, p, memory, ep, spec), spec.size);
          return {
            run: () => {
              const r = driveRttClient(c, ep.myBell, spec.policy, spec.warmup, spec.count);
              return report(role, r, r.messages + spec.warmup, undefined, r.samples);
            },
          };
        }
        const s = new Receiver(makeDevice(layout, p, memory, ep, spec), ep, spec, total, true);
        return { run: () => report(role, driveSide(s, { mode: 'multi-core', policy: spec.policy, bell: ep.myBell, total, warmup: spec.warmup }), s.verified, s.counters()) };
      }
      const side = isDriver ? new Sender(makeDriver(layout, p, memory, ep, spec), ep, spec, total) : new Receiver(makeDevice(layout, p, memory, ep, spec), ep, spec, total, false);
      return {
        run: () => {
          const r = driveSide(side, { mode: 'multi-core', policy: spec.policy, bell: ep.myBell, total, warmup: spec.warmup });
          return report(role, r, side.verified, { ...side.counters(), sleeps: r.sleeps ?? 0 });
        },
      };
    },
  };
}

export const contenders: readonly Contender[] = [
  makeContender('vsock', 'split', 'virtio-vsock stream (VIRTIO 1.2 §5.10) driver → device over split rings, credit flow control, write() / zero-copy receive'),
  makeContender('vsock-packed', 'packed', 'virtio-vsock stream over packed rings, credit flow control, write() / zero-copy receive'),
];
