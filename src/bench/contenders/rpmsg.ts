/**
 * tz-virtio RPMsg: the sender is the RPMsg host (VIRTIO driver, non-secure side), the receiver the RPMsg remote
 * (device, secure side), as Linux and an OpenAMP remote are arranged. Fixed endpoint addresses (no name-service
 * round trip in the measured part). Buffers: 512 B (Linux's) while the message fits, else one buffer sized to the
 * message (the header's u16 length caps a payload at 65535 bytes); Linux's 256 buffers per direction. The flow-control
 * window (messages sent and not yet acknowledged) is the same as every other contender's.
 *
 *   "rpmsg":          sender: ep.trySend(app)  (copy into the TX buffer)
 *   "rpmsg-zerocopy": sender: ep.getTxBuffer(), writes the message in place, ep.sendNoCopy()
 *   "rpmsg-inplace":  sender as "rpmsg"; the receiver compares every byte in place instead of copying it out
 * The receiver copies every payload out of its RX buffer into its own buffer (msg.copyTo, reading every byte) and
 * checks the stamps ("rpmsg-inplace": compares every byte with the expected message, MessageVerifier); every
 * window/4 messages (and at the end) it sends an acknowledgement message back (u32 count) over vring0.
 *
 * Notifications follow the RPMsg roles' armRx()/disarmRx() protocol: a running side keeps its RX notifications off
 * (the peer neither notifies it nor, with EVENT_IDX, sees an event index that moves with every message); before
 * sleeping it arms, and sleeps only when armRx() returned true. Bursts of sends are published between cork()/uncork().
 *
 * rtt: the remote echoes each message back with trySend.
 */
import { PhysicalMemory } from '../../virtio/index.js';
import { DEFAULT_BUFFERS_PER_DIRECTION, planRpmsgRegion, RpmsgHost, RpmsgRemote, writeResourceTable, type Endpoint, type RpmsgLayout, type RxMessage, type TxBuffer } from '../../rpmsg/index.js';
import { report, type Contender, type RoleInstance } from '../contender.js';
import { BenchError, BenchErrorCode, verifyFailed } from '../errors.js';
import { driveRttClient, driveSide, type RttClient, type Side } from '../side.js';
import { appBuffer, checkStamp, endpoints, MessageVerifier, newControl, stamp, type Endpoints } from '../shared.js';
import type { CoreMode, TrialSpec } from '../types.js';

export const RPMSG_IPC_BASE = 0x1000_0000;
const HOST_ADDR = 0x400;
const REMOTE_ADDR = 0x401;
/** Largest payload: the RPMsg header's len field is a u16 (rounded down to our 4-byte message granularity). */
export const RPMSG_MAX_PAYLOAD = 65532;

export function rpmsgPlan(size: number, perDirection: number): RpmsgLayout {
  let n = 2;
  while (n < perDirection) n *= 2;
  const bufferSize = Math.max(512, Math.ceil((size + 16) / 8) * 8);
  return planRpmsgRegion({ base: RPMSG_IPC_BASE, numBuffers: 2 * n, bufferSize });
}

function memoryOf(shared: Record<string, unknown>): PhysicalMemory {
  const sab = shared['ipc'] as SharedArrayBuffer;
  return new PhysicalMemory([{ name: 'ipc', base: RPMSG_IPC_BASE, size: sab.byteLength, buffer: sab }]);
}

/** Polls the remote until it has attached to the host's rings (the host starts in the other worker). */
function attach(remote: RpmsgRemote): void {
  const until = performance.now() + 10_000;
  const w = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    remote.poll();
    if (remote.state === 'ready') break;
    if (performance.now() > until) throw new BenchError(BenchErrorCode.WORKER_FAILED, 'rpmsg remote: the host did not start within 10 s');
    Atomics.wait(w, 0, 0, 0.2);
  }
}

type Variant = 'copy' | 'zerocopy' | 'inplace';

class Sender implements Side {
  progress = 0;
  verified = 0;
  private sent = 0;
  private readonly app;
  private readonly ep: Endpoint;
  constructor(
    private readonly host: RpmsgHost,
    private readonly link: Endpoints,
    private readonly spec: TrialSpec,
    private readonly total: number,
    private readonly zeroCopy: boolean,
  ) {
    this.app = appBuffer(spec.size);
    host.disarmRx(); // running: acknowledgements are picked up by polling
    this.ep = host.createEndpoint({
      addr: HOST_ADDR,
      dst: REMOTE_ADDR,
      onMessage: (m) => {
        const r = m as RxMessage;
        const n = r.region!.view.getUint32(r.payloadOff, true);
        if (m.len !== 4 || n < this.progress || n > this.sent) throw verifyFailed('rpmsg', n, 'acknowledgement');
        this.progress = this.verified = n;
      },
    });
  }
  work(): boolean {
    const before = this.progress;
    const { size, window } = this.spec;
    // acknowledgements matter only once half the window is in flight: poll the host RX ring then, not on every step
    if (this.sent - this.progress >= window >>> 1 || this.sent >= this.total) this.host.poll();
    let moved = this.progress !== before;
    // a burst is published with one index update and at most one notification (host.cork/uncork)
    this.host.cork();
    while (this.sent < this.total && this.sent - this.progress < window) {
      if (this.zeroCopy) {
        const b: TxBuffer | undefined = this.ep.getTxBuffer();
        if (b === undefined) break;
        stamp(b.region!.u32, (b.off + 16) >>> 2, size, this.sent); // the message is produced in place
        this.ep.sendNoCopy(b, size);
      } else {
        stamp(this.app.u32, 0, size, this.sent);
        if (!this.ep.trySend(this.app.u8)) break;
      }
      this.sent++;
      moved = true;
    }
    this.host.uncork();
    return moved;
  }
  arm(): boolean {
    return this.host.armRx(); // false: an acknowledgement is already waiting
  }
  disarm(): void {
    this.host.disarmRx();
  }
  counters(): Record<string, number> {
    return { notifications: this.link.notifications(), txNoBuffer: this.host.stats.txNoBuffer };
  }
}

class Receiver implements Side {
  progress = 0;
  verified = 0;
  private received = 0;
  private readonly ackEvery: number;
  private readonly dst: Uint8Array;
  private readonly dst32: Uint32Array;
  private readonly ack = new Uint8Array(4);
  private readonly ack32 = new Uint32Array(this.ack.buffer);
  private readonly ep: Endpoint;
  constructor(
    private readonly remote: RpmsgRemote,
    private readonly link: Endpoints,
    private readonly spec: TrialSpec,
    private readonly total: number,
    inPlace: boolean,
  ) {
    this.ackEvery = Math.max(1, Math.floor(spec.window / 4));
    this.dst = new Uint8Array(spec.size);
    this.dst32 = new Uint32Array(this.dst.buffer);
    const size = spec.size;
    const verifier = inPlace ? new MessageVerifier(size) : undefined;
    this.ep = remote.createEndpoint({
      addr: REMOTE_ADDR,
      dst: HOST_ADDR,
      onMessage: (m) => {
        if (m.len !== size) throw verifyFailed('rpmsg', this.received, 'length');
        if (verifier !== undefined) {
          if (!verifier.check(m.data, this.received)) throw verifyFailed('rpmsg', this.received);
        } else {
          m.copyTo(this.dst); // every byte into the receiver's own buffer
          if (!checkStamp(this.dst32, 0, size, this.received)) throw verifyFailed('rpmsg', this.received);
        }
        this.received++;
        this.verified++;
      },
    });
    remote.disarmRx(); // running: new messages are picked up by polling
  }
  work(): boolean {
    const n = this.remote.poll();
    if (this.remote.stats.callbackErrors > 0) throw verifyFailed('rpmsg', this.received, 'receive callback');
    let moved = n > 0;
    const due = this.received === this.total ? this.total : this.received - (this.received % this.ackEvery);
    if (due > this.progress) {
      this.ack32[0] = due;
      if (this.ep.trySend(this.ack)) {
        this.progress = due;
        moved = true;
      }
    }
    return moved;
  }
  arm(): boolean {
    return this.remote.armRx(); // false: a message is already waiting
  }
  disarm(): void {
    this.remote.disarmRx();
  }
  counters(): Record<string, number> {
    return { notifications: this.link.notifications() };
  }
}

class Client implements RttClient {
  private readonly app;
  private readonly ep: Endpoint;
  private seq = 0;
  private got = -1;
  private readonly dst: Uint8Array;
  private readonly dst32: Uint32Array;
  constructor(
    private readonly host: RpmsgHost,
    private readonly size: number,
  ) {
    this.app = appBuffer(size);
    this.dst = new Uint8Array(size);
    this.dst32 = new Uint32Array(this.dst.buffer);
    this.ep = host.createEndpoint({
      addr: HOST_ADDR,
      dst: REMOTE_ADDR,
      onMessage: (m) => {
        if (m.len !== size) throw verifyFailed('rpmsg', this.seq, 'echo length');
        m.copyTo(this.dst);
        if (!checkStamp(this.dst32, 0, size, this.seq)) throw verifyFailed('rpmsg', this.seq, 'echo');
        this.got = this.seq;
      },
    });
    host.disarmRx();
  }
  ping(seq: number): void {
    this.seq = seq;
    stamp(this.app.u32, 0, this.size, seq);
    // The remote echoes before it returns our TX buffer (it publishes vring1's used index after its receive loop),
    // so a buffer may still be on its way back: reclaim until one is free.
    const until = performance.now() + 5000;
    while (!this.ep.trySend(this.app.u8)) {
      if (performance.now() > until) throw new BenchError(BenchErrorCode.WORKER_FAILED, 'rpmsg rtt: no TX buffer for a ping within 5 s');
    }
  }
  poll(): boolean {
    this.host.poll();
    if (this.host.stats.callbackErrors > 0) throw verifyFailed('rpmsg', this.seq, 'echo callback');
    return this.got === this.seq;
  }
  arm(): boolean {
    return this.host.armRx();
  }
  disarm(): void {
    this.host.disarmRx();
  }
}

class Server implements Side {
  progress = 0;
  verified = 0;
  constructor(private readonly remote: RpmsgRemote) {
    const ep: Endpoint = remote.createEndpoint({
      addr: REMOTE_ADDR,
      dst: HOST_ADDR,
      onMessage: (m) => {
        const r = m as RxMessage;
        if (!checkStamp(r.region!.u32, r.payloadOff >>> 2, m.len, this.progress)) throw verifyFailed('rpmsg', this.progress);
        if (!ep.trySend(m.data)) throw new BenchError(BenchErrorCode.WORKER_FAILED, 'rpmsg rtt: no TX buffer for an echo');
        this.progress++;
        this.verified++;
      },
    });
    remote.disarmRx();
  }
  work(): boolean {
    const n = this.remote.poll();
    if (this.remote.stats.callbackErrors > 0) throw verifyFailed('rpmsg', this.progress, 'echo callback');
    return n > 0;
  }
  arm(): boolean {
    return this.remote.armRx();
  }
  disarm(): void {
    this.remote.disarmRx();
  }
  counters(): Record<string, number> {
    return {};
  }
}

function make(name: string, variant: Variant): Contender {
  const zeroCopy = variant === 'zerocopy';
  return {
    name,
    description:
      variant === 'zerocopy'
        ? 'tz-virtio RPMsg host -> remote, zero-copy send (getTxBuffer + sendNoCopy)'
        : variant === 'inplace'
          ? 'tz-virtio RPMsg host -> remote, copy send, the receiver compares every byte in place'
          : 'tz-virtio RPMsg host -> remote, copy send (trySend)',
    throughputModes: variant === 'inplace' ? ['multi-core'] : ['multi-core', 'single-core'],
    rttPolicies: variant === 'copy' ? ['block', 'spin-then-block', 'poll', 'peer-aware'] : [],
    maxSize: () => RPMSG_MAX_PAYLOAD,
    setup(spec) {
      // Linux's 256 buffers per direction (at least the window); the window itself is enforced by acknowledgements
      const layout = rpmsgPlan(spec.size, spec.experiment === 'rtt' ? 16 : Math.max(DEFAULT_BUFFERS_PER_DIRECTION, spec.window));
      const ipc = new SharedArrayBuffer(layout.size);
      writeResourceTable(new PhysicalMemory([{ name: 'ipc', base: RPMSG_IPC_BASE, size: layout.size, buffer: ipc }]), layout);
      return { shared: { ctl: newControl(), ipc, layout }, roles: spec.experiment === 'rtt' ? ['client', 'server'] : ['sender', 'receiver'] };
    },
    createRole(role, spec, shared): RoleInstance {
      const ctl = shared['ctl'] as Int32Array;
      const layout = shared['layout'] as RpmsgLayout;
      const memory = memoryOf(shared);
      const mode: CoreMode = spec.mode === 'single-core' ? 'single-core' : 'multi-core';
      const total = spec.warmup + spec.count;
      const hostSide = role === 'sender' || role === 'client';
      const link = endpoints(ctl, hostSide ? 'sender' : 'receiver', spec.experiment === 'rtt' ? 'multi-core' : mode);
      const onCallbackError = (e: unknown): void => {
        throw e;
      };
      const opts = { transport: { notify: () => link.notify() }, onCallbackError };
      if (hostSide) {
        const host = new RpmsgHost(memory, layout, opts);
        host.start();
        if (role === 'client') {
          const c = new Client(host, spec.size);
          return {
            run: () => {
              const r = driveRttClient(c, link.myBell, spec.policy, spec.warmup, spec.count, link.peerBell);
              return report(role, r, r.messages + spec.warmup, undefined, r.samples);
            },
          };
        }
        const s = new Sender(host, link, spec, total, zeroCopy);
        return {
          run: () => {
            const r = driveSide(s, { mode, policy: spec.policy, bell: link.myBell, peer: link.peerBell, token: link.token, total, warmup: spec.warmup });
            return report(role, r, s.verified, { ...s.counters(), sleeps: r.sleeps ?? 0, ...(mode === 'single-core' ? { worldSwitches: link.token.switches } : {}) });
          },
        };
      }
      const remote = new RpmsgRemote(memory, layout.rscTable, opts);
      attach(remote);
      if (role === 'server') {
        const s = new Server(remote);
        return { run: () => report(role, driveSide(s, { mode: 'multi-core', policy: spec.policy, bell: link.myBell, peer: link.peerBell, total, warmup: spec.warmup }), s.verified) };
      }
      const s = new Receiver(remote, link, spec, total, variant === 'inplace');
      return {
        run: () => {
          const r = driveSide(s, { mode, policy: spec.policy, bell: link.myBell, peer: link.peerBell, token: link.token, total, warmup: spec.warmup });
          return report(role, r, s.verified, { ...s.counters(), sleeps: r.sleeps ?? 0 });
        },
      };
    },
  };
}

export const contenders: readonly Contender[] = [make('rpmsg', 'copy'), make('rpmsg-zerocopy', 'zerocopy'), make('rpmsg-inplace', 'inplace')];
