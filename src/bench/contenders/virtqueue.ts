/**
 * tz-virtio raw virtqueue: the sender is the VIRTIO driver, the receiver the device, over one queue in a shared
 * "physical memory" region, with EVENT_IDX notification suppression. One message = one device-readable buffer
 * (large messages = one large buffer); the used ring is the acknowledgement. Split (VIRTIO 1.2 §2.7, the default)
 * or packed (§2.8, "virtqueue-packed").
 *
 *   region "ipc" @ IPC_BASE:  [ring (split legacy layout / packed desc ring + event areas)] ... [buffer pool @ +64 KiB]
 *
 * rtt: one request/response chain per round trip (out: request, in: response), the device echoes the request into
 * the response buffer and returns the chain with used.len = size.
 */
import { copyBytes, DescriptorChain, features, PhysicalMemory, VirtioFeature, type MemoryRegion, type Segment, type VirtqueueDevice, type VirtqueueDriver } from '../../virtio/index.js';
import { PackedVirtqueueDevice, PackedVirtqueueDriver } from '../../virtio/packed/index.js';
import { SplitVirtqueueDevice, SplitVirtqueueDriver, splitLegacyLayout } from '../../virtio/split/index.js';
import { report, type Contender, type RoleInstance } from '../contender.js';
import { verifyFailed } from '../errors.js';
import { driveRttClient, driveSide, type RttClient, type Side } from '../side.js';
import { appBuffer, checkStamp, endpoints, MessageVerifier, newControl, stamp, type Endpoints } from '../shared.js';
import type { CoreMode, TrialSpec } from '../types.js';

/** Non-secure DDR, below LTZVisor's secure top segment (ARCHITECTURE.md default layout). */
export const IPC_BASE = 0x1000_0000;
const POOL_OFFSET = 0x1_0000;
const FEATURES = features(VirtioFeature.VERSION_1, VirtioFeature.EVENT_IDX);

type Layout = 'split' | 'packed';
/** How the receiver reads every byte: copy it out (TypedArray.set) or compare it in place (MessageVerifier). */
type Read = 'copy' | 'inplace';

function queueSize(spec: TrialSpec): number {
  let n = 8;
  while (n < spec.window) n *= 2;
  return n;
}

function slot(size: number): number {
  return Math.ceil(size / 64) * 64;
}

function regionBytes(spec: TrialSpec): number {
  const bufs = spec.experiment === 'rtt' ? 2 : spec.window;
  return POOL_OFFSET + bufs * slot(spec.size);
}

function makeQueues(layout: Layout, memory: PhysicalMemory, n: number): { driver: () => VirtqueueDriver<number>; device: () => VirtqueueDevice } {
  if (layout === 'split') {
    const l = splitLegacyLayout(IPC_BASE, n, 64);
    return {
      driver: () => new SplitVirtqueueDriver<number>(memory, n, l, { features: FEATURES }),
      device: () => new SplitVirtqueueDevice(memory, n, l, { features: FEATURES, maxChainSegments: 2 }),
    };
  }
  const a = { desc: IPC_BASE, driverEvent: IPC_BASE + 16 * n, deviceEvent: IPC_BASE + 16 * n + 4 };
  return {
    driver: () => new PackedVirtqueueDriver<number>(memory, n, a, { features: FEATURES }),
    device: () => new PackedVirtqueueDevice(memory, n, a, { features: FEATURES, maxChainSegments: 2 }),
  };
}

class Sender implements Side {
  progress = 0;
  verified = 0;
  private sent = 0;
  private readonly free: Int32Array;
  private nFree: number;
  private readonly app;
  constructor(
    private readonly vq: VirtqueueDriver<number>,
    private readonly region: MemoryRegion,
    private readonly ep: Endpoints,
    private readonly spec: TrialSpec,
    private readonly total: number,
  ) {
    this.app = appBuffer(spec.size);
    this.free = new Int32Array(spec.window);
    for (let i = 0; i < spec.window; i++) this.free[i] = i;
    this.nFree = spec.window;
    vq.disableCallbacks();
  }
  work(): boolean {
    let moved = false;
    const vq = this.vq;
    for (let b = vq.popUsed(); b !== undefined; b = vq.popUsed()) {
      this.free[this.nFree++] = b;
      this.progress++;
      this.verified++;
      moved = true;
    }
    const size = this.spec.size;
    const step = slot(size);
    let added = 0;
    while (this.sent < this.total && this.nFree > 0) {
      const b = this.free[--this.nFree]!;
      const off = POOL_OFFSET + b * step;
      stamp(this.app.u32, 0, size, this.sent);
      copyBytes(this.region.u8, off, this.app.u8, 0, size); // copy into the shared buffer (the product's copy)
      vq.addBuffer(IPC_BASE + off, size, false, b);
      this.sent++;
      added++;
    }
    // one kick per burst (as Linux drivers batch adds before virtqueue_kick): one avail.idx update, at most one
    // notification
    if (added > 0) {
      moved = true;
      if (vq.kick()) this.ep.notify();
    }
    return moved;
  }
  arm(): boolean {
    return this.vq.enableCallbacks();
  }
  disarm(): void {
    this.vq.disableCallbacks();
  }
  counters(): Record<string, number> {
    return { notifications: this.ep.notifications() };
  }
}

class Receiver implements Side {
  progress = 0;
  verified = 0;
  private readonly chain = new DescriptorChain(2);
  private readonly dst: Uint8Array;
  private readonly dst32: Uint32Array;
  private readonly verifier: MessageVerifier | undefined;
  /** In place: one view per pool slot, made once (no allocation per message). */
  private readonly views: (Uint8Array | undefined)[] = [];
  private readonly publishEvery: number;
  constructor(
    private readonly vq: VirtqueueDevice,
    private readonly region: MemoryRegion,
    private readonly ep: Endpoints,
    private readonly spec: TrialSpec,
    read: Read,
  ) {
    this.dst = new Uint8Array(spec.size);
    this.dst32 = new Uint32Array(this.dst.buffer);
    this.verifier = read === 'inplace' ? new MessageVerifier(spec.size) : undefined;
    this.publishEvery = Math.max(1, spec.window >>> 2);
    vq.disableNotifications();
  }
  private slotView(off: number): Uint8Array {
    const i = (off - POOL_OFFSET) / slot(this.spec.size);
    let v = this.views[i];
    if (v === undefined || v.byteOffset !== off) {
      v = this.region.u8.subarray(off, off + this.spec.size);
      this.views[i] = v;
    }
    return v;
  }
  work(): boolean {
    const { vq, chain, region } = this;
    const size = this.spec.size;
    let n = 0;
    while (n < this.spec.window && vq.pop(chain)) {
      if (chain.readable !== 1 || chain.len[0] !== size) throw verifyFailed('virtqueue', this.progress, 'buffer length');
      const off = chain.addr[0]! - IPC_BASE;
      if (this.verifier !== undefined) {
        // in place: every byte compared with the expected message, then the buffer goes back
        if (!this.verifier.check(this.slotView(off), this.progress)) throw verifyFailed('virtqueue', this.progress);
      } else {
        copyBytes(this.dst, 0, region.u8, off, size); // the receiver reads every byte into its own memory (the product's copy)
        if (!checkStamp(this.dst32, 0, size, this.progress)) throw verifyFailed('virtqueue', this.progress);
      }
      vq.pushUsed(chain.head, 0);
      this.progress++;
      this.verified++;
      // used.idx is updated once per quarter window (as vhost devices batch vhost_add_used_n + one signal), not
      // per buffer: the index line moves between the cores once per batch, and the sender reclaims the batch from
      // one index read; a quarter keeps the sender supplied while large messages are being read
      if (++n % this.publishEvery === 0 && vq.publishUsed()) this.ep.notify();
    }
    if (vq.publishUsed()) this.ep.notify();
    return n > 0;
  }
  arm(): boolean {
    return this.vq.enableNotifications();
  }
  disarm(): void {
    this.vq.disableNotifications();
  }
  counters(): Record<string, number> {
    return { notifications: this.ep.notifications() };
  }
}

class Client implements RttClient {
  private readonly app;
  private readonly out: Segment[];
  private readonly inn: Segment[];
  private readonly respWord: number;
  private seq = 0;
  constructor(
    private readonly vq: VirtqueueDriver<number>,
    private readonly region: MemoryRegion,
    private readonly ep: Endpoints,
    private readonly size: number,
  ) {
    this.app = appBuffer(size);
    const s = slot(size);
    this.out = [{ addr: IPC_BASE + POOL_OFFSET, len: size }];
    this.inn = [{ addr: IPC_BASE + POOL_OFFSET + s, len: size }];
    this.respWord = (POOL_OFFSET + s) >>> 2;
    vq.disableCallbacks();
  }
  ping(seq: number): void {
    this.seq = seq;
    stamp(this.app.u32, 0, this.size, seq);
    this.region.u8.set(this.app.u8, POOL_OFFSET);
    this.vq.add(this.out, this.inn, 0);
    if (this.vq.kick()) this.ep.notify();
  }
  poll(): boolean {
    if (this.vq.popUsed() === undefined) return false;
    if (this.vq.lastUsedLen !== this.size || !checkStamp(this.region.u32, this.respWord, this.size, this.seq)) throw verifyFailed('virtqueue', this.seq, 'echo');
    return true;
  }
  arm(): boolean {
    return this.vq.enableCallbacks();
  }
  disarm(): void {
    this.vq.disableCallbacks();
  }
}

class Server implements Side {
  progress = 0;
  verified = 0;
  private readonly chain = new DescriptorChain(2);
  constructor(
    private readonly vq: VirtqueueDevice,
    private readonly region: MemoryRegion,
    private readonly ep: Endpoints,
    private readonly size: number,
  ) {
    vq.disableNotifications();
  }
  work(): boolean {
    const { vq, chain, region, size } = this;
    if (!vq.pop(chain)) return false;
    if (chain.count !== 2 || chain.readable !== 1) throw verifyFailed('virtqueue', this.progress, 'chain shape');
    const rd = chain.addr[0]! - IPC_BASE;
    const wr = chain.addr[1]! - IPC_BASE;
    if (!checkStamp(region.u32, rd >>> 2, size, this.progress)) throw verifyFailed('virtqueue', this.progress);
    region.u8.copyWithin(wr, rd, rd + size); // echo: the device reads every byte into the response
    vq.pushUsed(chain.head, size);
    if (vq.publishUsed()) this.ep.notify();
    this.progress++;
    this.verified++;
    return true;
  }
  arm(): boolean {
    return this.vq.enableNotifications();
  }
  disarm(): void {
    this.vq.disableNotifications();
  }
  counters(): Record<string, number> {
    return { notifications: this.ep.notifications() };
  }
}

function makeContender(name: string, layout: Layout, description: string, read: Read = 'copy'): Contender {
  return {
    name,
    description,
    // the in-place row is a throughput variant of the receive rule only (multi-core)
    throughputModes: read === 'copy' ? ['multi-core', 'single-core'] : ['multi-core'],
    rttPolicies: read === 'copy' ? ['block', 'spin-then-block', 'poll', 'peer-aware'] : [],
    maxSize: () => 0x4000_0000,
    setup(spec) {
      return { shared: { ctl: newControl(), ipc: new SharedArrayBuffer(regionBytes(spec)) }, roles: spec.experiment === 'rtt' ? ['client', 'server'] : ['sender', 'receiver'] };
    },
    createRole(role, spec, shared): RoleInstance {
      const ctl = shared['ctl'] as Int32Array;
      const ipc = shared['ipc'] as SharedArrayBuffer;
      const memory = new PhysicalMemory([{ name: 'ipc', base: IPC_BASE, size: ipc.byteLength, buffer: ipc }]);
      const region = memory.regions[0]!;
      const q = makeQueues(layout, memory, queueSize(spec));
      const mode: CoreMode = spec.mode === 'single-core' ? 'single-core' : 'multi-core';
      const total = spec.warmup + spec.count;
      if (spec.experiment === 'rtt') {
        const ep = endpoints(ctl, role === 'client' ? 'sender' : 'receiver', 'multi-core');
        if (role === 'client') {
          const c = new Client(q.driver(), region, ep, spec.size);
          return {
            run: () => {
              const r = driveRttClient(c, ep.myBell, spec.policy, spec.warmup, spec.count, ep.peerBell);
              return report(role, r, r.messages + spec.warmup, undefined, r.samples);
            },
          };
        }
        const s = new Server(q.device(), region, ep, spec.size);
        return { run: () => report(role, driveSide(s, { mode, policy: spec.policy, bell: ep.myBell, peer: ep.peerBell, total, warmup: spec.warmup }), s.verified, s.counters()) };
      }
      const ep = endpoints(ctl, role === 'sender' ? 'sender' : 'receiver', mode);
      const side = role === 'sender' ? new Sender(q.driver(), region, ep, spec, total) : new Receiver(q.device(), region, ep, spec, read);
      return {
        run: () => {
          const r = driveSide(side, { mode, policy: spec.policy, bell: ep.myBell, peer: ep.peerBell, token: ep.token, total, warmup: spec.warmup });
          return report(role, r, side.verified, { ...side.counters(), sleeps: r.sleeps ?? 0, ...(mode === 'single-core' ? { worldSwitches: ep.token.switches } : {}) });
        },
      };
    },
  };
}

export const contenders: readonly Contender[] = [
  makeContender('virtqueue', 'split', 'tz-virtio split virtqueue (VIRTIO 1.2 §2.7), EVENT_IDX, one buffer per message'),
  makeContender('virtqueue-packed', 'packed', 'tz-virtio packed virtqueue (VIRTIO 1.2 §2.8), event suppression, one buffer per message'),
  makeContender('virtqueue-inplace', 'split', 'tz-virtio split virtqueue, the receiver compares every byte in place instead of copying it out', 'inplace'),
];
