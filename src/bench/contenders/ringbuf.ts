/**
 * Peer: ringbuf.js (a wait-free SPSC byte ring over a SharedArrayBuffer) with length-prefix framing: every message
 * is a u32 length then the payload. Same window, doorbell and wait policy as our own contenders: a consumer that
 * goes to sleep sets a "want" word; the producer rings the doorbell only when it is set (the moral equivalent of
 * VIRTIO notification suppression). Acknowledgements: the receiver publishes its verified count (ctl ACK word).
 */
import { RingBuffer } from 'ringbuf.js';
import { report, type Contender, type RoleInstance } from '../contender.js';
import { verifyFailed } from '../errors.js';
import { driveRttClient, driveSide, type RttClient, type Side } from '../side.js';
import { appBuffer, checkStamp, CTL_ACK, CTL_FREE, endpoints, newControl, notifyIfWanted, stamp, type Endpoints } from '../shared.js';
import type { CoreMode, TrialSpec } from '../types.js';

const NAME = 'ringbuf.js';
/** Words: the receiver wants a notification / the sender wants one. */
const W_RX_WANT = CTL_FREE;
const W_TX_WANT = CTL_FREE + 1;

/** Pops exactly one framed message (possibly over several calls). */
class FrameReader {
  private readonly hdr = new Uint8Array(4);
  private readonly hdr32 = new Uint32Array(this.hdr.buffer);
  private pending = -1;
  private got = 0;
  constructor(
    private readonly rb: RingBuffer,
    readonly dst: Uint8Array,
  ) {}
  /** True when a whole message sits in dst. */
  read(): boolean {
    const rb = this.rb;
    if (this.pending < 0) {
      if (rb.availableRead() < 4) return false;
      rb.pop(this.hdr, 4);
      this.pending = this.hdr32[0]!;
      if (this.pending !== this.dst.length) throw verifyFailed(NAME, -1, `length prefix (${this.pending})`);
      this.got = 0;
    }
    this.got += rb.pop(this.dst, this.pending - this.got, this.got);
    if (this.got < this.pending) return false;
    this.pending = -1;
    return true;
  }
}

function pushFrame(rb: RingBuffer, hdr: Uint8Array, payload: Uint8Array): boolean {
  if (rb.availableWrite() < payload.length + 4) return false;
  rb.push(hdr);
  rb.push(payload);
  return true;
}

class Sender implements Side {
  progress = 0;
  verified = 0;
  private sent = 0;
  private readonly app;
  private readonly hdr = new Uint8Array(4);
  constructor(
    private readonly rb: RingBuffer,
    private readonly ctl: Int32Array,
    private readonly ep: Endpoints,
    private readonly spec: TrialSpec,
    private readonly total: number,
  ) {
    this.app = appBuffer(spec.size);
    new Uint32Array(this.hdr.buffer)[0] = spec.size;
  }
  work(): boolean {
    let moved = false;
    const acked = Atomics.load(this.ctl, CTL_ACK);
    if (acked !== this.progress) {
      this.progress = this.verified = acked;
      moved = true;
    }
    const { size, window } = this.spec;
    while (this.sent < this.total && this.sent - this.progress < window) {
      stamp(this.app.u32, 0, size, this.sent);
      if (!pushFrame(this.rb, this.hdr, this.app.u8)) break;
      this.sent++;
      moved = true;
      notifyIfWanted(this.ctl, W_RX_WANT, this.ep);
    }
    return moved;
  }
  arm(): boolean {
    Atomics.store(this.ctl, W_TX_WANT, 1);
    return Atomics.load(this.ctl, CTL_ACK) === this.progress;
  }
  disarm(): void {
    Atomics.store(this.ctl, W_TX_WANT, 0);
  }
  counters(): Record<string, number> {
    return { notifications: this.ep.notifications() };
  }
}

class Receiver implements Side {
  progress = 0;
  verified = 0;
  private readonly reader: FrameReader;
  private readonly dst32: Uint32Array;
  constructor(
    private readonly rb: RingBuffer,
    private readonly ctl: Int32Array,
    private readonly ep: Endpoints,
    private readonly size: number,
    private readonly window: number,
  ) {
    const dst = new Uint8Array(size);
    this.dst32 = new Uint32Array(dst.buffer);
    this.reader = new FrameReader(rb, dst);
  }
  work(): boolean {
    let moved = false;
    // at most one window per step, so the loop's warm-up cut lands close to the warm-up count
    for (let n = 0; n < this.window && this.reader.read(); n++) {
      if (!checkStamp(this.dst32, 0, this.size, this.progress)) throw verifyFailed(NAME, this.progress);
      this.progress++;
      this.verified++;
      moved = true;
      Atomics.store(this.ctl, CTL_ACK, this.progress);
      notifyIfWanted(this.ctl, W_TX_WANT, this.ep);
    }
    return moved;
  }
  arm(): boolean {
    Atomics.store(this.ctl, W_RX_WANT, 1);
    return this.rb.availableRead() === 0;
  }
  disarm(): void {
    Atomics.store(this.ctl, W_RX_WANT, 0);
  }
  counters(): Record<string, number> {
    return { notifications: this.ep.notifications() };
  }
}

/** rtt: request ring and response ring; the server echoes every message. */
class Client implements RttClient {
  private readonly app;
  private readonly reader: FrameReader;
  private readonly dst32: Uint32Array;
  private readonly hdr = new Uint8Array(4);
  private seq = 0;
  constructor(
    private readonly req: RingBuffer,
    private readonly resp: RingBuffer,
    private readonly ctl: Int32Array,
    private readonly ep: Endpoints,
    private readonly size: number,
  ) {
    this.app = appBuffer(size);
    new Uint32Array(this.hdr.buffer)[0] = size;
    const dst = new Uint8Array(size);
    this.dst32 = new Uint32Array(dst.buffer);
    this.reader = new FrameReader(resp, dst);
  }
  ping(seq: number): void {
    this.seq = seq;
    stamp(this.app.u32, 0, this.size, seq);
    pushFrame(this.req, this.hdr, this.app.u8);
    notifyIfWanted(this.ctl, W_RX_WANT, this.ep);
  }
  poll(): boolean {
    if (!this.reader.read()) return false;
    if (!checkStamp(this.dst32, 0, this.size, this.seq)) throw verifyFailed(NAME, this.seq, 'echo');
    return true;
  }
  arm(): boolean {
    Atomics.store(this.ctl, W_TX_WANT, 1);
    return this.resp.availableRead() === 0;
  }
  disarm(): void {
    Atomics.store(this.ctl, W_TX_WANT, 0);
  }
}

class Server implements Side {
  progress = 0;
  verified = 0;
  private readonly reader: FrameReader;
  private readonly dst32: Uint32Array;
  private readonly hdr = new Uint8Array(4);
  constructor(
    private readonly req: RingBuffer,
    private readonly resp: RingBuffer,
    private readonly ctl: Int32Array,
    private readonly ep: Endpoints,
    private readonly size: number,
  ) {
    const dst = new Uint8Array(size);
    this.dst32 = new Uint32Array(dst.buffer);
    this.reader = new FrameReader(req, dst);
    new Uint32Array(this.hdr.buffer)[0] = size;
  }
  work(): boolean {
    if (!this.reader.read()) return false;
    if (!checkStamp(this.dst32, 0, this.size, this.progress)) throw verifyFailed(NAME, this.progress);
    this.progress++;
    this.verified++;
    pushFrame(this.resp, this.hdr, this.reader.dst);
    notifyIfWanted(this.ctl, W_TX_WANT, this.ep);
    return true;
  }
  arm(): boolean {
    Atomics.store(this.ctl, W_RX_WANT, 1);
    return this.req.availableRead() === 0;
  }
  disarm(): void {
    Atomics.store(this.ctl, W_RX_WANT, 0);
  }
  counters(): Record<string, number> {
    return {};
  }
}

export const contender: Contender = {
  name: NAME,
  description: 'ringbuf.js 0.4 SPSC byte ring, u32 length prefix, same doorbell and wait policy',
  throughputModes: ['multi-core'],
  rttPolicies: ['block', 'spin-then-block', 'poll', 'peer-aware'],
  maxSize: () => Number.POSITIVE_INFINITY,
  setup(spec) {
    const cap = spec.experiment === 'rtt' ? 4 * (spec.size + 4) : spec.window * (spec.size + 4);
    const shared: Record<string, unknown> = { ctl: newControl(), ring: RingBuffer.getStorageForCapacity(cap, Uint8Array) };
    if (spec.experiment === 'rtt') shared['ring2'] = RingBuffer.getStorageForCapacity(cap, Uint8Array);
    return { shared, roles: spec.experiment === 'rtt' ? ['client', 'server'] : ['sender', 'receiver'] };
  },
  createRole(role, spec, shared): RoleInstance {
    const ctl = shared['ctl'] as Int32Array;
    const ring = new RingBuffer(shared['ring'] as SharedArrayBuffer, Uint8Array);
    const total = spec.warmup + spec.count;
    const mode: CoreMode = spec.mode === 'single-core' ? 'single-core' : 'multi-core';
    if (spec.experiment === 'rtt') {
      const ring2 = new RingBuffer(shared['ring2'] as SharedArrayBuffer, Uint8Array);
      const ep = endpoints(ctl, role === 'client' ? 'sender' : 'receiver', 'multi-core');
      if (role === 'client') {
        const c = new Client(ring, ring2, ctl, ep, spec.size);
        return {
          run: () => {
            const r = driveRttClient(c, ep.myBell, spec.policy, spec.warmup, spec.count, ep.peerBell);
            return report(role, r, r.messages + spec.warmup, undefined, r.samples);
          },
        };
      }
      const s = new Server(ring, ring2, ctl, ep, spec.size);
      return { run: () => report(role, driveSide(s, { mode, policy: spec.policy, bell: ep.myBell, peer: ep.peerBell, total, warmup: spec.warmup }), s.verified) };
    }
    const ep = endpoints(ctl, role === 'sender' ? 'sender' : 'receiver', mode);
    const side = role === 'sender' ? new Sender(ring, ctl, ep, spec, total) : new Receiver(ring, ctl, ep, spec.size, spec.window);
    return {
      run: () => {
        const r = driveSide(side, { mode, policy: spec.policy, bell: ep.myBell, peer: ep.peerBell, token: ep.token, total, warmup: spec.warmup });
        return report(role, r, side.verified, { ...side.counters(), sleeps: r.sleeps ?? 0 });
      },
    };
  },
};
