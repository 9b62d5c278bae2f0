/**
 * One side of an OpenAMP Linux-machine pairing: the shared file mapped MAP_SHARED (bus address = file offset), the
 * kick socket, and an RPMsg role (src/rpmsg) over them. The role is poll-driven: every received kick (any number of
 * bytes) makes it rescan both vrings, and a role notification becomes one byte on the socket.
 *
 * Two kick paths (option `kicks`):
 *   'native'      (default when the tz_shm addon has ABI 2) the addon's own socket: the session loop runs
 *                 synchronously in runUntil()/until(): poll the rings; when idle, spin for `spinUs` with RX
 *                 notifications off (the peer need not kick while we look anyway), then re-arm them and sleep in
 *                 ppoll(2) until a kick. No event-loop turn per message.
 *   'event-loop'  node:net (KickSocket): every kick is a 'data' event that polls the rings. The fallback.
 *
 * Start-up, as OpenAMP's platform_info.c does it: the socket server writes the resource table at offset 0 and then
 * accepts; the client connects. Host: negotiate features (gfeatures = dfeatures & ours, kick), zero the vrings, post
 * the RX buffers, write DRIVER_OK and kick. Remote: poll the status byte until DRIVER_OK (every kick and every
 * millisecond), then attach.
 */
import type { PhysicalMemory } from '../virtio/memory.js';
import { installThreadHooks } from '../transport/thread-hooks.js';
import { RpmsgHost, RpmsgRemote, type RpmsgCore, type NameServiceEvent } from '../rpmsg/index.js';
import type { Endpoint } from '../rpmsg/index.js';
import { mapSharedFile } from '../host/shm.js';
import { KickSocket } from '../host/kick-socket.js';
import { NativeKickSocket, nativeKicksAvailable } from '../host/native-kick.js';
import { isBlockingKickChannel, type BlockingKickChannel, type KickChannel, type KickRole } from '../host/kick-channel.js';
import {
  OPENAMP_RSC_TABLE,
  OPENAMP_SHARED_BUF,
  OPENAMP_SHARED_BUF_SIZE,
  OPENAMP_SHM_PATH,
  OPENAMP_SHM_SIZE,
  OPENAMP_SOCKET_PATH,
  encodeOpenampResourceTable,
  fileMemory,
  openampLayout,
  type OpenAmpLayoutOptions,
} from './layout.js';
import { OpenAmpError, OpenAmpErrorCode } from './errors.js';
import { DEFAULT_WAIT_POLICY, isWaitPolicy, type WaitPolicy } from '../sync/policy.js';
import { Waiter, type PeerState } from '../sync/waiter.js';
import { CpuShareDetector, type CpuShareMode } from './cpu-share.js';
import { FutexLink } from './futex-link.js';
import { KickSleeper, type SessionWaitStats } from './kick-sleeper.js';

export type OpenAmpRole = 'host' | 'remote';
export type KickPath = 'native' | 'event-loop';

/** How a run of the session loop ended. */
export type RunResult = 'done' | 'peer-gone' | 'timeout' | 'closed';

export interface RunOptions {
  /** Give up ('timeout') after this long without a received message, ms. Default 15000; Infinity = never. */
  readonly timeoutMs?: number;
  /**
   * True while the caller waits for something no kick announces (e.g. a free TX buffer the peer returns without
   * notifying): then the loop looks again every millisecond instead of sleeping until a kick.
   */
  readonly starved?: () => boolean;
}

/** Default busy-poll time before sleeping (native path), µs. */
export const DEFAULT_SPIN_US = 100;

export interface OpenAmpSessionOptions extends OpenAmpLayoutOptions {
  readonly role: OpenAmpRole;
  /** Shared file; default /dev/shm/openamp.shm (OpenAMP's shm_open("openamp.shm")). */
  readonly shmPath?: string;
  /** File size; default 0x80000. */
  readonly shmSize?: number;
  /** Kick socket; default /tmp/openamp.event.0. */
  readonly socketPath?: string;
  /** Socket side; default: the remote serves (OpenAMP's proc 0), the host connects (proc 1). */
  readonly socketRole?: KickRole;
  /** The socket server writes OpenAMP's resource table at offset 0 before accepting. Default true. */
  readonly writeTable?: boolean;
  /** How long to wait for the peer to connect and for DRIVER_OK, ms. Default 15000. */
  readonly timeoutMs?: number;
  /** Called for name-service events no local endpoint is bound to. */
  readonly onNameService?: (ev: NameServiceEvent, role: RpmsgCore) => void;
  /** Kick path; default 'native' when the addon has the kick calls, else 'event-loop'. */
  readonly kicks?: KickPath;
  /** Native path: how long an idle loop keeps polling the rings before it sleeps, µs. Default 100; 0 = never spin. */
  readonly spinUs?: number;
  /**
   * Native path: the wait policy of the session loop (src/sync): 'peer-aware' (default: poll spinUs, then sleep;
   * with a linked tz-virtio peer it sleeps at once while that peer sleeps), 'spin-then-block' (poll spinUs, then
   * sleep), 'block' (sleep at once), 'poll' (never sleep; the socket is still read for kicks and for the peer
   * leaving, without blocking).
   */
  readonly waitPolicy?: WaitPolicy;
  /**
   * Native path: when the peer is a tz-virtio session too, notify and sleep through a futex doorbell in the shared
   * file instead of the socket (./futex-link.ts); with a C peer the socket stays in use. Default true.
   */
  readonly futexLink?: boolean;
}

export class OpenAmpSession {
  readonly role: OpenAmpRole;
  readonly rpmsg: RpmsgHost | RpmsgRemote;
  readonly memory: PhysicalMemory;
  readonly kicks: KickChannel;
  /** The kick path in use. */
  readonly kickPath: KickPath;
  /** Set when the peer closed the socket. */
  peerGone = false;
  /** The session loop's wait policy (native path). */
  readonly waitPolicy: WaitPolicy;
  private readonly waiters = new Set<(n: number) => void>();
  private statusTimer: ReturnType<typeof setInterval> | undefined;
  private readonly readyWaiters: (() => void)[] = [];
  private closed = false;
  private readonly pollStatus: boolean;
  /** The futex doorbell shared with a tz-virtio peer (native path, option futexLink), if any. */
  readonly link: FutexLink | undefined;
  private readonly sleeper: KickSleeper | undefined;
  private readonly waiter: Waiter | undefined;
  /** Whether the idle loop spins or yields its CPU at once (./cpu-share.ts; native path, policy peer-aware). */
  readonly cpuShare: CpuShareDetector;
  /** The Waiter's spin cuts when the current idle call began (a sleep after no new cut followed a full spin). */
  private idleCuts = 0;

  private constructor(
    role: OpenAmpRole,
    rpmsg: RpmsgHost | RpmsgRemote,
    memory: PhysicalMemory,
    kicks: KickChannel,
    pollStatus: boolean,
    spinUs: number,
    policy: WaitPolicy,
    link: FutexLink | undefined,
    sleeper: KickSleeper | undefined,
  ) {
    this.role = role;
    this.kickPath = isBlockingKickChannel(kicks) ? 'native' : 'event-loop';
    this.waitPolicy = policy;
    this.link = link;
    this.sleeper = sleeper;
    // peer-aware: a linked peer's doorbell says whether it sleeps; either peer is reported asleep while the two sides
    // share one CPU (./cpu-share.ts), so that the side sleeps at once instead of spinning in the peer's way
    const linked: PeerState | undefined =
      link !== undefined
        ? {
            hasSleepers: () => link.sleepsOnFutex && link.peerBell.hasSleepers(),
            get lastWakeMs() {
              return link.peerBell.lastWakeMs;
            },
          }
        : undefined;
    this.cpuShare = new CpuShareDetector();
    const fullSpin = (): boolean => policy !== 'block' && this.waiter !== undefined && this.waiter.peerAsleepCuts === this.idleCuts;
    this.waiter =
      sleeper !== undefined
        ? new Waiter(this.cpuShare.watch(sleeper, fullSpin), policy, { minMs: spinUs / 1000, maxMs: policy === 'peer-aware' ? undefined : spinUs / 1000, peer: this.cpuShare.peerState(linked) })
        : undefined;
    this.rpmsg = rpmsg;
    this.memory = memory;
    this.kicks = kicks;
    kicks.onKick(() => this.poll());
    kicks.onClose(() => {
      this.peerGone = true;
      this.poll();
    });
    this.pollStatus = pollStatus;
    this.armStatusTimer();
  }

  /** Maps the file, connects the socket and starts the role (host: handshake done; remote: attaches on DRIVER_OK). */
  static async open(o: OpenAmpSessionOptions): Promise<OpenAmpSession> {
    if (o.role !== 'host' && o.role !== 'remote') throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `role must be host or remote, not ${String(o.role)}`);
    const shmPath = o.shmPath ?? OPENAMP_SHM_PATH;
    const size = o.shmSize ?? OPENAMP_SHM_SIZE;
    if (size < OPENAMP_SHARED_BUF + OPENAMP_SHARED_BUF_SIZE) {
      throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `shared file size 0x${size.toString(16)} is below the buffer pool's end 0x50000`);
    }
    const socketRole: KickRole = o.socketRole ?? (o.role === 'remote' ? 'server' : 'client');
    const sab = mapSharedFile(shmPath, { size });
    installThreadHooks(); // this thread's payload copy and load signal (transport/thread-hooks.ts)
    const memory = fileMemory(sab);
    if (socketRole === 'server' && (o.writeTable ?? true)) {
      // As platform_device_setup_resource_table: the table (status 0, gfeatures 0) at offset 0.
      memory.write(OPENAMP_RSC_TABLE, encodeOpenampResourceTable(o));
    }
    const kickPath: KickPath = o.kicks ?? (nativeKicksAvailable() ? 'native' : 'event-loop');
    if (kickPath !== 'native' && kickPath !== 'event-loop') throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `kicks must be native or event-loop, not ${String(kickPath)}`);
    const spinUs = o.spinUs ?? DEFAULT_SPIN_US;
    if (!(spinUs >= 0 && spinUs <= 1e6)) throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `spinUs must be 0..1000000, not ${spinUs}`);
    const policy = o.waitPolicy ?? DEFAULT_WAIT_POLICY;
    if (!isWaitPolicy(policy)) throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `waitPolicy must be block, spin-then-block, poll or peer-aware, not ${String(policy)}`);
    const kickOpts = { path: o.socketPath ?? OPENAMP_SOCKET_PATH, role: socketRole, timeoutMs: o.timeoutMs ?? 15_000 };
    // The futex link (native path): the server clears the block and announces itself before accepting, the client
    // once connected (./futex-link.ts).
    const useLink = kickPath === 'native' && (o.futexLink ?? true);
    const link = useLink ? new FutexLink(sab, socketRole === 'server' ? 0 : 1) : undefined;
    if (link !== undefined && socketRole === 'server') {
      FutexLink.reset(sab);
      link.announce();
    }
    const kicks: KickChannel = kickPath === 'native' ? await NativeKickSocket.open(kickOpts) : await KickSocket.open(kickOpts);
    if (link !== undefined && socketRole === 'client') link.announce();
    const sleeper = isBlockingKickChannel(kicks) ? new KickSleeper(kicks, link) : undefined;
    const kick = (): void => kicks.kick();
    const transport = { notify: link !== undefined ? (): void => link.notify(kick) : kick };
    const common = {
      transport,
      ...(o.onNameService !== undefined ? { onNameService: o.onNameService } : {}),
      // Blocking sends (sendBlocking, announcements with no free buffer) sleep on the socket or the futex doorbell.
      ...(sleeper !== undefined ? { waitForNotification: (ms: number): boolean => waitOrThrow(sleeper, ms) } : {}),
    };
    let rpmsg: RpmsgHost | RpmsgRemote;
    try {
      const layout = openampLayout(memory, o);
      if (o.role === 'host') {
        rpmsg = new RpmsgHost(memory, layout, common);
      } else {
        // consumedUsedLen: OpenAMP's host sizes a reused TX buffer from used.len (docs/openamp-interop.md).
        rpmsg = new RpmsgRemote(memory, OPENAMP_RSC_TABLE, { ...common, bufferWindow: { base: OPENAMP_SHARED_BUF, size: OPENAMP_SHARED_BUF_SIZE }, consumedUsedLen: 'descriptor' });
      }
    } catch (e) {
      await kicks.close();
      throw e;
    }
    const s = new OpenAmpSession(o.role, rpmsg, memory, kicks, o.role === 'remote', spinUs, policy, link, sleeper);
    if (rpmsg instanceof RpmsgHost) {
      s.startHost();
    }
    return s;
  }

  /** Host handshake; endpoints created before it are announced when it completes. */
  private startHost(): void {
    const host = this.rpmsg as RpmsgHost;
    // OpenAMP's remote returns consumed TX buffers with used.len = buffer length (VIRTIO says 0: nothing written);
    // our split driver reports such a len as 0 and counts it (readOnlyLenIgnored), so no adaptation is needed here.
    // OpenAMP's set_features and set_status both notify with the vdev's notifyid; one kick after DRIVER_OK covers
    // both (through the transport, so it is counted), and a remote waiting for kicks rescans the status byte.
    host.start({ kick: true });
  }

  /** Rescans everything (kick received, status timer, or by hand). */
  poll(): number {
    if (this.closed) return 0;
    const n = this.rpmsg.poll();
    if (this.waiters.size > 0) for (const w of [...this.waiters]) w(n);
    if (this.rpmsg.ready) {
      if (this.statusTimer !== undefined) {
        clearInterval(this.statusTimer);
        this.statusTimer = undefined;
      }
      for (const w of this.readyWaiters.splice(0)) w();
    } else {
      this.armStatusTimer();
    }
    return n;
  }

  /**
   * While the remote is not attached it watches the status byte every millisecond (OpenAMP's remote sleeps 1 ms
   * between reads), besides rescanning on every kick; once attached, kicks alone drive it.
   */
  private armStatusTimer(): void {
    if (!this.pollStatus || this.statusTimer !== undefined || this.closed) return;
    this.statusTimer = setInterval(() => this.poll(), 1);
  }

  /** Resolves when the RPMsg device is ready (remote: host reached DRIVER_OK). */
  whenReady(timeoutMs = 15_000): Promise<void> {
    if (this.rpmsg.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new OpenAmpError(OpenAmpErrorCode.TIMEOUT, `the host did not set DRIVER_OK within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /**
   * Runs the session loop synchronously (native path only; the thread sleeps in the kernel, not in the event loop)
   * until `done()` — checked after every poll — returns true, the peer closes the socket, or nothing arrives for
   * `timeoutMs`. When idle it polls for spinUs with RX notifications off, then re-arms them and sleeps until a kick.
   */
  runUntil(done: () => boolean, o: RunOptions = {}): RunResult {
    const sleeper = this.sleeper;
    const waiter = this.waiter;
    if (sleeper === undefined || waiter === undefined) throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, 'runUntil needs the native kick path; use until()');
    const rpmsg = this.rpmsg;
    const timeoutMs = o.timeoutMs ?? 15_000;
    const starved = o.starved;
    const polling = this.waitPolicy === 'poll';
    let lastProgress = performance.now();
    let lastCheck = 0;
    // RX notifications: off while this loop runs and looks anyway (the peer then skips its kick), on while it sleeps
    let armed = true;
    const arm = (): boolean => {
      armed = true;
      return rpmsg.armRx(); // false: a message slipped in and raised no kick: look again instead of sleeping
    };
    const disarm = (): void => {
      armed = false;
      rpmsg.disarmRx();
    };
    const gone = (): RunResult => {
      this.peerGone = true;
      this.poll(); // whatever it wrote before leaving
      return done() ? 'done' : 'peer-gone';
    };
    try {
      for (;;) {
        if (this.closed) return 'closed';
        const seen = sleeper.seq(); // before the last look (src/sync Waiter)
        const n = this.poll();
        // progress ends the idle episode before done() can end the run: a caller that runs the loop once per message
        // (a round trip) otherwise starts its next idle episode on this one's spent spin budget and sleeps at once
        if (n > 0) {
          const hits = waiter.spinHits;
          waiter.progressed();
          if (waiter.spinHits !== hits) this.cpuShare.hit(); // the spin paid
        }
        if (done()) return 'done';
        if (n > 0) {
          lastProgress = performance.now();
          // running: the peer need not kick (the session starts armed, so a loop that never idles must disarm here)
          if (armed && rpmsg.ready) disarm();
          continue;
        }
        if (this.peerGone) return 'peer-gone';
        const t = performance.now();
        const left = timeoutMs - (t - lastProgress);
        if (left <= 0) return 'timeout';
        if (!rpmsg.ready || (starved !== undefined && starved())) {
          // Not attached yet (the remote polls the status byte) or waiting for buffers no kick announces: look
          // again every millisecond.
          if (!armed) arm();
          sleeper.sleep(seen, Math.min(1, left));
          if (sleeper.peerGone) return gone();
          continue;
        }
        if (armed) disarm();
        if (polling) {
          // poll policy: look at the socket without blocking now and then (kicks to drain, the peer leaving)
          if (t - lastCheck >= 1) {
            lastCheck = t;
            if (this.kicksGone()) return gone();
          }
          continue;
        }
        this.idleCuts = waiter.peerAsleepCuts;
        waiter.idle(seen, arm, disarm, Math.min(1000, left));
        if (sleeper.peerGone) return gone();
      }
    } finally {
      if (!armed) rpmsg.armRx();
    }
  }

  /** Non-blocking look at the socket: true once the peer has closed it. */
  private kicksGone(): boolean {
    return (this.kicks as BlockingKickChannel).waitKicks(0) < 0;
  }

  /** Where the session loop slept, and how the idle episodes ended (native path; undefined on the event-loop path). */
  waitStats():
    | (SessionWaitStats & {
        readonly spinHits: number;
        readonly spinMisses: number;
        readonly peerAsleepCuts: number;
        readonly cpuShare: CpuShareMode;
        readonly toYield: number;
        readonly toSpin: number;
        readonly probes: number;
        readonly onFutex: boolean;
        readonly futexWakesSent: number;
        readonly ringsSkipped: number;
        readonly socketKicksSent: number;
      })
    | undefined {
    if (this.sleeper === undefined || this.waiter === undefined) return undefined;
    const l = this.link;
    return {
      ...this.sleeper.stats(),
      spinHits: this.waiter.spinHits,
      spinMisses: this.waiter.spinMisses,
      peerAsleepCuts: this.waiter.peerAsleepCuts,
      cpuShare: this.cpuShare.mode,
      toYield: this.cpuShare.toYield,
      toSpin: this.cpuShare.toSpin,
      probes: this.cpuShare.probes,
      onFutex: this.sleeper.onFutex,
      futexWakesSent: l?.futexWakes ?? 0,
      ringsSkipped: l?.ringsSkipped ?? 0,
      socketKicksSent: l !== undefined ? l.socketKicks : this.kicks.kicksSent,
    };
  }

  /**
   * Waits until `done()` returns true (checked after every poll), the peer leaves, or nothing arrives for timeoutMs.
   * Native path: runUntil (synchronous, then a resolved promise). Event-loop path: polls on kicks.
   */
  until(done: () => boolean, o: RunOptions = {}): Promise<RunResult> {
    if (this.kickPath === 'native') {
      try {
        return Promise.resolve(this.runUntil(done, o));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const timeoutMs = o.timeoutMs ?? 15_000;
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let retry: ReturnType<typeof setTimeout> | undefined;
      const finish = (r: RunResult): void => {
        this.waiters.delete(check);
        if (timer !== undefined) clearTimeout(timer);
        if (retry !== undefined) clearTimeout(retry);
        resolve(r);
      };
      const arm = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        if (Number.isFinite(timeoutMs)) timer = setTimeout(() => finish('timeout'), timeoutMs);
      };
      const check = (n: number): void => {
        if (done()) return finish('done');
        if (this.closed) return finish('closed');
        if (this.peerGone) return finish('peer-gone');
        if (n > 0) arm();
        if (retry === undefined && (!this.rpmsg.ready || (o.starved !== undefined && o.starved()))) {
          retry = setTimeout(() => {
            retry = undefined;
            this.poll();
          }, 1);
        }
      };
      this.waiters.add(check);
      arm();
      if (this.closed) return finish('closed');
      this.poll();
    });
  }

  /**
   * Sends a copy of `data` from `ep` to `dst` (default: its bound peer), waiting up to timeoutMs for a TX buffer
   * (native: sleeping on the socket; event-loop: asynchronously). Not for use inside an onMessage callback.
   */
  send(ep: Endpoint, data: Uint8Array, o: { readonly dst?: number; readonly timeoutMs?: number } = {}): Promise<void> {
    const dst = o.dst ?? ep.dst;
    if (this.kickPath === 'native') {
      try {
        ep.sendToBlocking(dst, data, o.timeoutMs);
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return ep.sendTo(dst, data, o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : undefined);
  }

  /** Notifies the peer explicitly (e.g. after a burst sent while corked). */
  kick(): void {
    this.kicks.kick();
  }

  /** Stops polling and closes the socket (the mapping goes with the last reference). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.statusTimer !== undefined) clearInterval(this.statusTimer);
    await this.kicks.close();
    this.link?.leave();
  }
}

/** waitForNotification of the native path: sleeps on the socket; a departed peer ends the blocking send. */
function waitOrThrow(sleeper: KickSleeper, ms: number): boolean {
  // The caller looked for a buffer just before: a ring between that look and seq() would be missed, so a futex
  // sleep is kept short (the caller loops until its deadline).
  const seen = sleeper.seq();
  const r = sleeper.sleep(seen, sleeper.onFutex ? Math.min(ms, 1) : ms);
  if (sleeper.peerGone) throw new OpenAmpError(OpenAmpErrorCode.PEER_GONE, 'the peer closed the kick socket while we waited for a TX buffer');
  return r !== 'timed-out';
}
