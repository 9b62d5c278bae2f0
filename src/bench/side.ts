/**
 * The generic driving loops of a benchmark side. A contender implements `Side` (one non-blocking step plus the
 * arm/disarm pair of its notification scheme); the loops add the wait policy (multi-core) or the core token
 * (single-core), the warm-up cut and the timing, so every shared-memory contender waits in exactly the same way.
 */
import { CoreToken, Doorbell, Waiter } from '../sync/index.js';
import { threadCpuNs, threadTimes } from './cpu.js';
import type { CoreMode, WaitPolicy } from './types.js';

export interface Side {
  /** One non-blocking step: send what the window allows and reap acknowledgements, or receive and verify. True when anything moved. */
  work(): boolean;
  /**
   * Asks the peer for a notification before sleeping (enable callbacks / notifications). Returns false when work
   * is already pending, in which case the loop works again instead of sleeping.
   */
  arm(): boolean;
  /** After waking: notifications off again (the side is running and will see new work by itself). */
  disarm(): void;
  /** Acknowledged (sender) or received (receiver) messages so far, warm-up included. */
  readonly progress: number;
  /** Messages verified so far (sequence stamps checked). */
  readonly verified: number;
  counters(): Record<string, number>;
}

export interface LoopOptions {
  readonly mode: CoreMode;
  readonly policy: WaitPolicy;
  /** This side's doorbell (multi-core). */
  readonly bell: Doorbell;
  /** The peer's doorbell: whether the peer sleeps (policy 'peer-aware'). */
  readonly peer?: Doorbell;
  /** The core token (single-core). */
  readonly token?: CoreToken;
  /** Total messages, warm-up included. */
  readonly total: number;
  readonly warmup: number;
}

export interface LoopResult {
  /** Times the side slept (Atomics.wait on its doorbell) in the whole run. */
  readonly sleeps?: number;
  /** Multi-core: idle episodes ended while spinning / by a sleep, and the spin budget at the end (µs). */
  readonly spin?: { readonly spinHits: number; readonly spinMisses: number; readonly spinBudgetUs: number; readonly crowdedSpells: number; readonly runQueuePct: number };
  readonly messages: number;
  readonly elapsedNs: number;
  readonly cpuNs: number;
}

/** Runs `side` until its progress reaches `total`; the measured part starts when progress first reaches `warmup`. */
export function driveSide(side: Side, o: LoopOptions): LoopResult {
  let t0 = -1;
  let c0 = 0;
  let q0 = 0;
  let p0 = 0;
  const mark = (): void => {
    p0 = side.progress;
    ({ cpuNs: c0, runQueueNs: q0 } = threadTimes());
    t0 = performance.now();
  };
  if (o.warmup <= 0) mark();
  let waiter: Waiter | undefined;
  if (o.mode === 'single-core') {
    const token = o.token!;
    token.acquire();
    while (side.progress < o.total) {
      if (side.work()) {
        if (t0 < 0 && side.progress >= o.warmup) mark();
        continue;
      }
      // idle: ask for a notification (the world waits for its interrupt), then SMC yield: the other world runs
      // until it notifies us (non-secure -> secure) or goes idle itself; no-op once it has finished
      if (!side.arm()) continue;
      token.switchToOther();
      side.disarm();
    }
    token.finish();
  } else {
    const bell = o.bell;
    const w = new Waiter(bell, o.policy, o.peer !== undefined ? { peer: o.peer } : {});
    waiter = w;
    const arm = (): boolean => side.arm();
    const disarm = (): void => side.disarm();
    while (side.progress < o.total) {
      const seen = bell.seq();
      if (side.work()) {
        w.progressed();
        if (t0 < 0 && side.progress >= o.warmup) mark();
        continue;
      }
      w.idle(seen, arm, disarm);
    }
  }
  const t1 = performance.now();
  const { cpuNs: c1, runQueueNs: q1 } = threadTimes();
  if (t0 < 0) mark();
  const spin: LoopResult['spin'] =
    waiter === undefined
      ? undefined
      : {
          spinHits: waiter.spinHits,
          spinMisses: waiter.spinMisses,
          spinBudgetUs: Math.round(waiter.budget.ms * 1000),
          crowdedSpells: waiter.crowdedSpells,
          // the share of the measured time this side waited for a CPU (a crowded machine; -1 unknown)
          runQueuePct: q0 >= 0 && q1 >= 0 ? Math.round((100 * (q1 - q0)) / ((t1 - t0) * 1e6)) : -1,
        };
  return { messages: side.progress - p0, elapsedNs: (t1 - t0) * 1e6, cpuNs: c1 - c0, sleeps: o.bell.sleeps, ...(spin ? { spin } : {}) };
}

/**
 * Waits for one condition with a wait policy (rtt clients): `ready()` is polled; before sleeping `arm()` must
 * return true (false = already ready). One Waiter per client, so its spin budget learns across round trips.
 */
export function waitUntil(ready: () => boolean, arm: () => boolean, disarm: () => void, waiter: Waiter): void {
  waiter.until(ready, arm, disarm);
}

/** The client half of a ping-pong: sends one request, then polls for its reply. */
export interface RttClient {
  ping(seq: number): void;
  /** True once the reply to the last ping has arrived and checked out. */
  poll(): boolean;
  arm(): boolean;
  disarm(): void;
}

/** Runs `warmup + count` round trips, recording the last `count` in ns. */
export function driveRttClient(client: RttClient, bell: Doorbell, policy: WaitPolicy, warmup: number, count: number, peer?: Doorbell): LoopResult & { samples: Float64Array } {
  const samples = new Float64Array(count);
  const ready = (): boolean => client.poll();
  const arm = (): boolean => client.arm();
  const disarm = (): void => client.disarm();
  const waiter = new Waiter(bell, policy, peer !== undefined ? { peer } : {});
  for (let i = 0; i < warmup; i++) {
    client.ping(i);
    waitUntil(ready, arm, disarm, waiter);
  }
  const c0 = threadCpuNs();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    client.ping(warmup + i);
    waitUntil(ready, arm, disarm, waiter);
    samples[i] = (performance.now() - t) * 1e6;
  }
  const t1 = performance.now();
  return { messages: count, elapsedNs: (t1 - t0) * 1e6, cpuNs: threadCpuNs() - c0, samples };
}
