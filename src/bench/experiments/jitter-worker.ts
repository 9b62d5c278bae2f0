/**
 * The two worlds of the jitter experiment (one worker each).
 *
 * secure: a periodic task (period P, busy work W, deadline D from release). Releases are absolute times
 *   t0 + k*P. Between jobs the secure world is idle: with load it services the RPMsg remote (receives and checks
 *   the non-secure stream) in that idle time; otherwise it waits.
 *     multi-core:  idle = sleep on its doorbell until 250 µs before the release, then spin to the release (our model
 *                  of a precise timer interrupt);
 *     single-core: idle = SMC yield, the non-secure world gets the core until the timer "FIQ" is due: the
 *                  non-secure world checks the next release time at each guest API boundary (each send), so
 *                  the release waits for the next boundary (preemption honesty: JavaScript cannot interrupt it).
 *   Release jitter = job start - release; a miss = job end > release + D.
 *
 * nonsecure: streams 'size'-byte RPMsg messages host -> remote at full speed (copy send) until told to stop.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { PhysicalMemory } from '../../virtio/index.js';
import { RpmsgHost, RpmsgRemote, type RpmsgLayout } from '../../rpmsg/index.js';
import { RPMSG_IPC_BASE } from '../contenders/rpmsg.js';
import { CoreToken } from '../coretoken.js';
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

function secure(): void {
  const niced = setThreadNice(-10);
  const link = endpoints(d.ctl, 'receiver', d.mode);
  const token = link.token;
  let remote: RpmsgRemote | undefined;
  let received = 0;
  let bad = 0;
  if (d.load) {
    const memory = new PhysicalMemory([{ name: 'ipc', base: RPMSG_IPC_BASE, size: d.ipc.byteLength, buffer: d.ipc }]);
    remote = new RpmsgRemote(memory, d.layout.rscTable, { transport: { notify: () => link.notify() } });
    const dst = new Uint8Array(d.size);
    const dst32 = new Uint32Array(dst.buffer);
    remote.createEndpoint({
      addr: 0x401,
      dst: 0x400,
      onMessage: (m) => {
        m.copyTo(dst);
        if (!checkStamp(dst32, 0, d.size, received)) bad++;
        received++;
      },
    });
  }
  const P = d.periodUs / 1000;
  const W = d.workUs / 1000;
  const D = d.deadlineUs / 1000;
  const jitter = new Float64Array(d.periods);
  let misses = 0;
  let maxService = 0;
  let polls = 0;
  if (d.mode === 'single-core') token.acquire();
  const t0 = now() + 20;
  for (let k = 0; k < d.periods; k++) {
    const release = t0 + k * P;
    d.times[0] = release;
    // idle until the release
    for (;;) {
      const t = now();
      if (t >= release) break;
      if (remote !== undefined) {
        const n = remote.poll();
        if (n > 0) {
          const dt = now() - t;
          if (dt > maxService) maxService = dt;
          polls++;
          continue;
        }
      }
      if (d.mode === 'single-core') {
        token.switchToOther();
        continue;
      }
      const left = release - t;
      if (left > TIMER_GUARD_MS) link.myBell.sleep(link.myBell.seq(), left - TIMER_GUARD_MS);
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
  port.postMessage({ jitter, misses, received, bad, switches: token.switches, maxServiceUs: maxService * 1000, polls, niced });
}

function nonsecure(): void {
  setThreadNice(10);
  const link = endpoints(d.ctl, 'sender', d.mode);
  const token = link.token;
  const memory = new PhysicalMemory([{ name: 'ipc', base: RPMSG_IPC_BASE, size: d.ipc.byteLength, buffer: d.ipc }]);
  const host = new RpmsgHost(memory, d.layout, { transport: { notify: () => link.notify() } });
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
    if (ep.trySend(app.u8)) sent++;
    else host.poll();
  }
  if (d.mode === 'single-core') token.finish();
  port.postMessage({ sent });
}

if (d.role === 'secure') secure();
else nonsecure();
