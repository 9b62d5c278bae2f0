/**
 * The wake-up floor: a raw Atomics ping-pong on two words with the same doorbell and wait policies as every other
 * contender (no payload, no queue). Any round trip above this is the transport's own cost.
 */
import { report, type Contender, type RoleInstance } from '../contender.js';
import { driveRttClient, driveSide, type RttClient, type Side } from '../side.js';
import { CTL_FREE, endpoints, newControl, notifyIfWanted, type Endpoints } from '../shared.js';

const PING = CTL_FREE;
const PONG = CTL_FREE + 1;
const SERVER_WANT = CTL_FREE + 2;
const CLIENT_WANT = CTL_FREE + 3;

class Client implements RttClient {
  private expect = 0;
  constructor(
    private readonly ctl: Int32Array,
    private readonly ep: Endpoints,
  ) {}
  ping(seq: number): void {
    this.expect = (seq + 1) | 0;
    Atomics.store(this.ctl, PING, this.expect);
    notifyIfWanted(this.ctl, SERVER_WANT, this.ep);
  }
  poll(): boolean {
    return Atomics.load(this.ctl, PONG) === this.expect;
  }
  arm(): boolean {
    Atomics.store(this.ctl, CLIENT_WANT, 1);
    return !this.poll();
  }
  disarm(): void {
    Atomics.store(this.ctl, CLIENT_WANT, 0);
  }
}

class Server implements Side {
  progress = 0;
  verified = 0;
  constructor(
    private readonly ctl: Int32Array,
    private readonly ep: Endpoints,
  ) {}
  work(): boolean {
    const p = Atomics.load(this.ctl, PING);
    if (p === this.progress) return false;
    if (p !== this.progress + 1) throw new Error(`atomics-floor: ping ${p} after ${this.progress}`);
    Atomics.store(this.ctl, PONG, p);
    notifyIfWanted(this.ctl, CLIENT_WANT, this.ep);
    this.progress++;
    this.verified++;
    return true;
  }
  arm(): boolean {
    Atomics.store(this.ctl, SERVER_WANT, 1);
    return Atomics.load(this.ctl, PING) === this.progress;
  }
  disarm(): void {
    Atomics.store(this.ctl, SERVER_WANT, 0);
  }
  counters(): Record<string, number> {
    return {};
  }
}

export const contender: Contender = {
  name: 'atomics-floor',
  description: 'raw Atomics.wait/notify ping-pong on one word each way (the wake-up floor)',
  throughputModes: [],
  rttPolicies: ['block', 'spin-then-block', 'poll'],
  maxSize: () => Number.POSITIVE_INFINITY,
  setup() {
    return { shared: { ctl: newControl() }, roles: ['client', 'server'] };
  },
  createRole(role, spec, shared): RoleInstance {
    const ctl = shared['ctl'] as Int32Array;
    const ep = endpoints(ctl, role === 'client' ? 'sender' : 'receiver', 'multi-core');
    if (role === 'client') {
      const c = new Client(ctl, ep);
      return {
        run: () => {
          const r = driveRttClient(c, ep.myBell, spec.policy, spec.warmup, spec.count, ep.peerBell);
          return report(role, r, r.messages + spec.warmup, undefined, r.samples);
        },
      };
    }
    const s = new Server(ctl, ep);
    return { run: () => report(role, driveSide(s, { mode: 'multi-core', policy: spec.policy, bell: ep.myBell, peer: ep.peerBell, total: spec.warmup + spec.count, warmup: spec.warmup }), s.verified) };
  },
};
