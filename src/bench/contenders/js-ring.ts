/**
 * The JavaScript limit: the `native` contender's ring, line for line, in JavaScript. WINDOW fixed slots of SIZE
 * bytes (rounded up to 64) in a SharedArrayBuffer between two workers; the producer stamps its private message,
 * copies it into the next slot (TypedArray.set) and publishes `sent`; the consumer copies the slot into its own
 * buffer (every byte read), checks both stamps and publishes `acked`. No descriptors, no headers, no rings of
 * indices: what any shared-memory transport written in JavaScript on this machine can reach at most, so a table can
 * tell the cost of the language (native vs js-ring) from the cost of the protocol (js-ring vs virtqueue, rpmsg).
 *
 *   sent, acked, rx want, tx want   free-running u32 counters and flags, each on its own 64-byte line
 *   slot[i % WINDOW]                the producer's while i - acked < WINDOW and i >= sent; the consumer's for
 *                                   acked <= i < sent (Atomics.store publishes, Atomics.load observes: seq-cst)
 *
 * Waiting is the project's (src/sync Waiter through ../side.ts): a side about to sleep sets its "want" flag and
 * looks again; the other side rings the doorbell only when the flag is set, as VIRTIO notification suppression.
 */
import { report, type Contender, type RoleInstance } from '../contender.js';
import { verifyFailed } from '../errors.js';
import { driveSide, type Side } from '../side.js';
import { appBuffer, checkStamp, endpoints, newControl, notifyIfWanted, stamp, type Endpoints } from '../shared.js';
import type { TrialSpec } from '../types.js';

const NAME = 'js-ring';
/** Int32 word offsets in the index block, 16 words (64 bytes) apart so no two sides write one cache line. */
const W_SENT = 0;
const W_ACKED = 16;
const W_RX_WANT = 32;
const W_TX_WANT = 48;
const INDEX_WORDS = 64;

function slotStep(size: number): number {
  return Math.ceil(size / 64) * 64;
}

class Producer implements Side {
  progress = 0;
  verified = 0;
  private sent = 0;
  private readonly app;
  constructor(
    private readonly idx: Int32Array,
    private readonly slots: Uint8Array,
    private readonly ep: Endpoints,
    private readonly spec: TrialSpec,
    private readonly total: number,
  ) {
    this.app = appBuffer(spec.size);
  }
  work(): boolean {
    const idx = this.idx;
    const acked = Atomics.load(idx, W_ACKED);
    let moved = acked !== this.progress;
    this.progress = this.verified = acked;
    const { size, window } = this.spec;
    const step = slotStep(size);
    while (this.sent < this.total && this.sent - this.progress < window) {
      const i = this.sent;
      stamp(this.app.u32, 0, size, i);
      this.slots.set(this.app.u8, (i % window) * step);
      this.sent = i + 1;
      Atomics.store(idx, W_SENT, i + 1);
      notifyIfWanted(idx, W_RX_WANT, this.ep);
      moved = true;
    }
    return moved;
  }
  arm(): boolean {
    Atomics.store(this.idx, W_TX_WANT, 1);
    return Atomics.load(this.idx, W_ACKED) === this.progress;
  }
  disarm(): void {
    Atomics.store(this.idx, W_TX_WANT, 0);
  }
  counters(): Record<string, number> {
    return { notifications: this.ep.notifications() };
  }
}

class Consumer implements Side {
  progress = 0;
  verified = 0;
  private readonly own: Uint8Array;
  private readonly own32: Uint32Array;
  constructor(
    private readonly idx: Int32Array,
    private readonly slots: Uint8Array,
    private readonly ep: Endpoints,
    private readonly spec: TrialSpec,
  ) {
    this.own = new Uint8Array(spec.size);
    this.own32 = new Uint32Array(this.own.buffer);
  }
  work(): boolean {
    const idx = this.idx;
    const avail = Atomics.load(idx, W_SENT);
    const { size, window } = this.spec;
    const step = slotStep(size);
    let recv = this.progress;
    if (recv === avail) return false;
    while (recv !== avail) {
      const off = (recv % window) * step;
      this.own.set(this.slots.subarray(off, off + size));
      if (!checkStamp(this.own32, 0, size, recv)) throw verifyFailed(NAME, recv);
      recv++;
      this.progress = this.verified = recv;
      Atomics.store(idx, W_ACKED, recv);
      notifyIfWanted(idx, W_TX_WANT, this.ep);
    }
    return true;
  }
  arm(): boolean {
    Atomics.store(this.idx, W_RX_WANT, 1);
    return Atomics.load(this.idx, W_SENT) === this.progress;
  }
  disarm(): void {
    Atomics.store(this.idx, W_RX_WANT, 0);
  }
  counters(): Record<string, number> {
    return { notifications: this.ep.notifications() };
  }
}

export const contender: Contender = {
  name: NAME,
  description: "the native contender's ring in JavaScript (fixed slots, sent/acked counters): the limit of any JavaScript transport",
  throughputModes: ['multi-core'],
  rttPolicies: [],
  maxSize: () => Number.POSITIVE_INFINITY,
  setup(spec) {
    return {
      shared: { ctl: newControl(), idx: new SharedArrayBuffer(INDEX_WORDS * 4), slots: new SharedArrayBuffer(spec.window * slotStep(spec.size)) },
      roles: ['sender', 'receiver'],
    };
  },
  createRole(role, spec, shared): RoleInstance {
    const ctl = shared['ctl'] as Int32Array;
    const idx = new Int32Array(shared['idx'] as SharedArrayBuffer);
    const slots = new Uint8Array(shared['slots'] as SharedArrayBuffer);
    const total = spec.warmup + spec.count;
    const ep = endpoints(ctl, role === 'sender' ? 'sender' : 'receiver', 'multi-core');
    const side: Side = role === 'sender' ? new Producer(idx, slots, ep, spec, total) : new Consumer(idx, slots, ep, spec);
    return {
      run: () => {
        const r = driveSide(side, { mode: 'multi-core', policy: spec.policy, bell: ep.myBell, peer: ep.peerBell, total, warmup: spec.warmup });
        return report(role, r, side.verified, { ...side.counters(), sleeps: r.sleeps ?? 0 });
      },
    };
  },
};
