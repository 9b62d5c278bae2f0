/**
 * The two worlds of the jitter experiment (one worker each).
 *
 * secure: a periodic task (period P, busy work W, deadline D from release). Releases are absolute times
 *   t0 + k*P. Between jobs the secure world is idle: with load it services the RPMsg remote (receives and checks
 *   the non-secure stream) in that idle time, with the secure RT executive's discipline (see secure() below):
 *   bounded bursts that never overlap the lead before a release. Otherwise it waits:
 *     multi-core:  idle = sleep on its doorbell until 250 µs before the release (the lead), then spin to the
 *                  release (our model of a precise timer interrupt);
 *     single-core: idle = SMC yield, the non-secure world gets the core until the timer "FIQ" is due at the lead:
 *                  the non-secure world checks it at each guest API boundary (each send), so the secure world
 *                  gets the core back at the first boundary after the lead and spins to the release
 *                  (preemption honesty: JavaScript cannot interrupt the other worker).
 *   Release jitter = job start - release; a miss = job end > release + D.
 *
 * nonsecure: streams 'size'-byte RPMsg messages host -> remote at full speed (copy send) until told to stop; out of
 *   TX buffers it spins 50 µs, then sleeps until the remote returns some (multi-core; Linux's rpmsg_send sleeps
 *   likewise), or keeps polling until the timer FIQ takes the core (single-core).
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { PhysicalMemory } from '../../virtio/index.js';
import { RpmsgHost, RpmsgRemote, type RpmsgLayout, type RpmsgMessage } from '../../rpmsg/index.js';
import { RPMSG_IPC_BASE } from '../contenders/rpmsg.js';
import { CoreToken, SPIN_BUDGET_MS } from '../../sync/index.js';
import { endpoints, CTL_FREE, stamp, checkStamp, appBuffer } from '../shared.js';
import type { CoreMode } from '../types.js';

export interface JitterWorkerData {
  role: 'secure' | 'nonsecure';
  mode: CoreMode;
  load: boolean;
  periodUs: number;
  workUs: number;
  deadlineUs: number;
  periods: number;
  size: number;
  ctl: Int32Array;
  /** [0] = next release time (performance.timeOrigin-relative ms of the secure worker, shared as epoch ms). */
  times: Float64Array;
  ipc: SharedArrayBuffer;
  layout: RpmsgLayout;
}

const STOP = CTL_FREE;
/**
 * Multi-core idle: sleep until this long before the release, then spin. Atomics.wait timeouts overshoot by the
 * kernel's timer slack (50 µs by default) plus the wake-up; the spin makes the release as precise as a timer
 * interrupt would be.
 */
const TIMER_GUARD_MS = 0.25;
const d = workerData as JitterWorkerData;
const port = parentPort!;
/** Both workers use the same clock: epoch-relative ms with sub-µs resolution. */
const now = (): number => performance.timeOrigin + performance.now();

/**
 * Sets this thread's nice value (Linux: setpriority on the thread id from /proc/thread-self). The secure world has
 * priority over the non-secure world in LTZVisor; on a shared host, raising the secure thread (needs privilege) and
 * lowering the non-secure one (always allowed) is the closest the model gets. Returns whether it took effect.
 */
function setThreadNice(nice: number): boolean {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid)) return false;
    os.setPriority(tid, nice);
    return os.getPriority(tid) === nice;
  } catch {
    return false;
  }
}

/**
 * The secure side follows the discipline of the hypervisor's secure RT executive (docs/partitions.md): a due
 * release runs before any service work; the RPMsg service runs in bursts that are started only when they fit before
 * the next release's lead (now + estimate + guard <= release - lead) and stop at a budget (bounded even while the
 * non-secure side keeps the ring full); idle, the world sleeps (multi-core: armRx, then its doorbell) or yields
 * (single-core) until the lead, then spins to the release.
 */
const GUARD_MS = 0.02;
/** A service burst stops after this long (or at the lead, whichever is first). */
const MAX_BURST_MS = 0.1;
/** The least useful burst. */
const MIN_BURST_MS = 0.01;
/**
 * A burst can run past its stop time by up to one ring of held messages (and by whatever the host does to the
 * thread); the overshoot estimate (mean + 4 mean deviations of recent overshoots) is kept clear of the lead, within
 * these bounds (so one GC pause cannot price the service out of every period).
 */
const MIN_OVERSHOOT_MS = 0.005;
const MAX_OVERSHOOT_MS = 0.1;

function secure(): void {
  const niced = setThreadNice(-10);
  const link = endpoints(d.ctl, 'receiver', d.mode);
  const token = link.token;
  let remote: RpmsgRemote | undefined;
  let received = 0;
  let bad = 0;
  /** The running burst stops taking messages at this time (ms); later ones are held, their buffers kept from the ring. */
  let stopAt = Number.POSITIVE_INFINITY;
  let sinceCheck = 0;
  let over = false;
  const held: RpmsgMessage[] = [];
  let heldHead = 0;
  const dst = new Uint8Array(d.size);
  const dst32 = new Uint32Array(dst.buffer);
  const consume = (m: RpmsgMessage): void => {
    m.copyTo(dst);
    if (!checkStamp(dst32, 0, d.size, received)) bad++;
    received++;
  };
  if (d.load) {
    const memory = new PhysicalMemory([{ name: 'ipc', base: RPMSG_IPC_BASE, size: d.ipc.byteLength, buffer: d.ipc }]);
    remote = new RpmsgRemote(memory, d.layout.rscTable, { transport: { notify: () => link.notify() } });
    remote.createEndpoint({
      addr: 0x401,
      dst: 0x400,
      onMessage: (m) => {
        // Over budget: keep the message (in order, after those already held) and its buffer: the host runs out of
        // buffers and the poll ends once the ring is empty (at most one ring of messages, each only held).
        if (!over && ++sinceCheck >= 8) {
          sinceCheck = 0;
          over = now() >= stopAt;
        }
        if (over || heldHead < held.length) held.push(m.hold());
        else consume(m);
      },
    });
  }
  /** One service burst until `until` (ms): held messages first (in order), then one poll. Returns messages taken. */
  const burst = (r: RpmsgRemote, until: number): number => {
    let n = 0;
    while (heldHead < held.length) {
      const m = held[heldHead]!;
      held[heldHead++] = undefined as unknown as RpmsgMessage;
      consume(m);
      m.release();
      n++;
      if ((n & 7) === 0 && now() >= until) break;
    }
    if (heldHead === held.length) {
      held.length = 0;
      heldHead = 0;
      stopAt = until;
      over = false;
      sinceCheck = 0;
      n += r.poll();
      stopAt = Number.POSITIVE_INFINITY;
    }
    return n;
  };
  const P = d.periodUs / 1000;
  const W = d.workUs / 1000;
  const D = d.deadlineUs / 1000;
  const jitter = new Float64Array(d.periods);
  let misses = 0;
  let maxService = 0;
  let polls = 0;
  let mean = MIN_OVERSHOOT_MS;
  let dev = 0;
  let heldBack = 0;
  if (d.mode === 'single-core') token.acquire();
  remote?.poll(); // attach
  remote?.disarmRx(); // running: the secure world polls when it services
  const t0 = now() + 20;
  for (let k = 0; k < d.periods; k++) {
    const release = t0 + k * P;
    const lead = release - TIMER_GUARD_MS;
    // single-core: the timer FIQ that takes the core back is due at the lead, not at the release
    d.times[0] = d.mode === 'single-core' ? lead : release;
    for (;;) {
      const t = now();
      if (t >= release) break;
      if (t >= lead) continue; // spin to the release
      if (remote !== undefined) {
        const over = Math.min(MAX_OVERSHOOT_MS, Math.max(MIN_OVERSHOOT_MS, mean + 4 * dev));
        if (t + MIN_BURST_MS + over + GUARD_MS <= lead) {
          const until = Math.min(t + MAX_BURST_MS, lead - GUARD_MS - over);
          const n = burst(remote, until);
          if (n > 0) {
            const end = now();
            const dt = end - t;
            if (dt > maxService) maxService = dt;
            const o = Math.max(0, end - until);
            dev += (Math.abs(o - mean) - dev) / 8;
            mean += (o - mean) / 8;
            polls++;
            continue;
          }
        } else heldBack++;
      }
      if (d.mode === 'single-core') {
        // idle: ask for the non-secure notification (an SMC brings the core back at once) only when a burst would
        // still fit; either way the timer FIQ at the lead brings it back at the next non-secure API boundary
        const room = now() + MIN_BURST_MS + GUARD_MS <= lead;
        if (remote !== undefined && room && !remote.armRx()) {
          remote.disarmRx();
          continue;
        }
        token.switchToOther();
        remote?.disarmRx();
        continue;
      }
      // sleep until the lead unless a message is waiting (armRx false) and there is room to service it
      const seen = link.myBell.seq();
      if (remote !== undefined && !remote.armRx() && heldHead === held.length) {
        remote.disarmRx();
        if (now() + MIN_BURST_MS + GUARD_MS <= lead) continue;
      }
      const left = lead - now();
      if (left > 0) link.myBell.sleep(seen, left);
      remote?.disarmRx();
    }
    const start = now();
    jitter[k] = (start - release) * 1000;
    while (now() - start < W) {
      /* the job's work */
    }
    if (now() - release > D) misses++;
  }
  Atomics.store(d.ctl, STOP, 1);
  if (d.mode === 'single-core') token.finish();
  else link.peerBell.ring();
  for (const m of held.slice(heldHead)) {
    consume(m);
    m.release();
  }
  port.postMessage({ jitter, misses, received, bad, switches: token.switches, maxServiceUs: maxService * 1000, polls, niced, heldBack });
}

function nonsecure(): void {
  setThreadNice(10);
  const link = endpoints(d.ctl, 'sender', d.mode);
  const token = link.token;
  const memory = new PhysicalMemory([{ name: 'ipc', base: RPMSG_IPC_BASE, size: d.ipc.byteLength, buffer: d.ipc }]);
  // Out of TX buffers (multi-core), the sender waits as Linux's rpmsg_send does: briefly spinning, then asleep until
  // the remote returns buffers (its notification rings our doorbell; the sleep is capped, so a notification that
  // came between the last look and the sleep costs at most 0.2 ms).
  const waitForNotification = (ms: number): boolean => {
    link.myBell.sleep(link.myBell.seq(), Math.min(ms, 0.2));
    return true;
  };
  const host = new RpmsgHost(memory, d.layout, { transport: { notify: () => link.notify() }, waitForNotification });
  host.start();
  port.postMessage({ started: true });
  const ep = host.createEndpoint({ addr: 0x400, dst: 0x401 });
  const app = appBuffer(d.size);
  let sent = 0;
  if (d.mode === 'multi-core' && !d.load) {
    // nothing to stream: sleep until the secure world is done
    for (let seen = link.myBell.seq(); Atomics.load(d.ctl, STOP) === 0; seen = link.myBell.seq()) link.myBell.sleep(seen, 100);
  }
  if (d.mode === 'single-core') token.acquire();
  while (Atomics.load(d.ctl, STOP) === 0) {
    // guest API boundary: a due timer FIQ takes the core back to the secure world
    if (d.mode === 'single-core' && now() >= d.times[0]!) {
      if (!token.switchToOther()) break;
      continue;
    }
    if (!d.load) continue;
    stamp(app.u32, 0, d.size, sent);
    if (ep.trySend(app.u8)) {
      sent++;
      continue;
    }
    host.poll();
    if (d.mode === 'single-core') continue;
    const spinUntil = now() + SPIN_BUDGET_MS;
    let ok = false;
    while (!ok && now() < spinUntil && Atomics.load(d.ctl, STOP) === 0) {
      host.poll();
      ok = ep.trySend(app.u8);
    }
    if (!ok) {
      try {
        ep.sendBlocking(app.u8, 20);
        ok = true;
      } catch {
        // TX_TIMEOUT: the secure world held its buffers for 20 ms (or stopped): look at STOP and go on
      }
    }
    if (ok) sent++;
  }
  if (d.mode === 'single-core') token.finish();
  port.postMessage({ sent });
}

if (d.role === 'secure') secure();
else nonsecure();
