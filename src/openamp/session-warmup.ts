/**
 * JIT warm-up of a session's exact code paths. A fresh Node process runs its first ~20000 messages slowly (V8's lower
 * tiers, then re-optimisation): measured tz-virtio ↔ tz-virtio across two processes, 20000-message slices after
 * the in-memory warm-up (./warmup.ts) ran 2.9-4.4 µs per message in the first slice and 0.4-0.75 in the following
 * ones. The in-memory pair warms the RPMsg classes, but not the session loop (runUntil, the Waiter, the kick
 * sleeper, the futex link, the native kick calls), and the session's RPMsg objects met call targets and branches
 * the in-memory pair never took (its notify is a no-op, nothing ever waits): V8 deoptimised drainRx's callees, route,
 * acquireTx, trySendRaw and runUntil once the real session ran, and recompiled them on a helper thread that then
 * competed with the pair for the CPUs.
 *
 * So before a session announces its endpoint, the process runs the same role on a private pair: first the in-memory
 * pair (./warmup.ts, cheap: ~50 ms), then a second session with the same options over a private file and socket in a
 * temp folder, whose peer (the other role, warmed the same way first) runs in a worker thread
 * (./session-warmup-peer.ts). Same classes, same options, same loop, both directions, the bench's and the ping's
 * message sizes, windows and single round trips. A failed warm-up is reported, never fatal.
 *
 * When: a host warms up before it connects (a session polled while its endpoint does not exist yet would read the
 * remote's announcement early: the endpoint then binds at once and never announces, so its destroy() would send no
 * DESTROY and an OpenAMP remote would not end); a remote after it accepted, with its endpoint announced anyway
 * (./echo.ts), as the socket server must be there when the host connects.
 */
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenAmpSession, type KickPath, type OpenAmpRole } from './session.js';
import { waitBound } from './ping.js';
import { runEchoRemote } from './echo.js';
import { warmUpRpmsg } from './warmup.js';
import { OPENAMP_ECHO_SERVICE } from './layout.js';
import { OpenAmpError, OpenAmpErrorCode } from './errors.js';
import { compiledUrl } from '../host/compiled.js';
import type { WaitPolicy } from '../sync/policy.js';

/** Default messages of a session warm-up, in each of its two stages (a fresh process settles after 10000-20000). */
export const DEFAULT_SESSION_WARMUP_MESSAGES = 20_000;
/** Most messages a warm-up may be asked for. */
export const MAX_SESSION_WARMUP_MESSAGES = 1_000_000;
/** Messages in flight in the warm-up's windows (the bench's window). */
const WINDOW = 64;

/** The session options a warm-up copies (what decides which code runs); clonable into the worker. */
export interface SessionWarmUpOptions {
  readonly kicks?: KickPath;
  readonly spinUs?: number;
  readonly waitPolicy?: WaitPolicy;
  readonly futexLink?: boolean;
  /** Deadline for the whole warm-up's steps (connect, bind, each echo), ms. Default 15000. */
  readonly timeoutMs?: number;
}

export interface SessionWarmUpResult {
  /** Messages echoed through the private pair. */
  readonly messages: number;
  readonly ms: number;
  /** Why it stopped early, when it did (the real session goes on regardless). */
  readonly error?: string;
}

/** What the warm-up's worker receives. */
export interface WarmUpPeerData {
  readonly role: OpenAmpRole;
  readonly shmPath: string;
  readonly socketPath: string;
  readonly messages: number;
  readonly options: SessionWarmUpOptions;
}

/** Opens one side of the private pair with the copied options. */
export function openWarmUpSession(role: OpenAmpRole, shmPath: string, socketPath: string, o: SessionWarmUpOptions): Promise<OpenAmpSession> {
  return OpenAmpSession.open({
    role,
    shmPath,
    socketPath,
    timeoutMs: o.timeoutMs ?? 15_000,
    ...(o.kicks !== undefined ? { kicks: o.kicks } : {}),
    ...(o.spinUs !== undefined ? { spinUs: o.spinUs } : {}),
    ...(o.waitPolicy !== undefined ? { waitPolicy: o.waitPolicy } : {}),
    ...(o.futexLink !== undefined ? { futexLink: o.futexLink } : {}),
  });
}

/**
 * The host role of the warm-up, as `openamp host` and the bench's host drive a session: one eighth of the messages
 * as single round trips (send, then run until the echo), the rest in windows of 64 (cork, trySend, uncork, run
 * until an echo); sizes cycle through 16 B, the largest payload and the ping's growing sizes. Destroys its endpoint
 * at the end (the echo remote then ends) and closes the session. Returns the echoes counted.
 */
export async function driveWarmUpHost(s: OpenAmpSession, messages: number, timeoutMs = 15_000): Promise<number> {
  let got = 0;
  const ep = s.rpmsg.createEndpoint({
    name: OPENAMP_ECHO_SERVICE,
    onMessage: () => {
      got++;
    },
  });
  try {
    await waitBound(s, ep, timeoutMs);
    const max = s.rpmsg.maxPayload;
    const buf = new Uint8Array(max).fill(0x5a);
    const views = Array.from({ length: max + 1 }, (_, n) => buf.subarray(0, n));
    const size = (i: number): number => {
      const k = i & 7;
      return k < 5 ? 16 : k < 7 ? max : 17 + ((i >>> 3) % (max - 16));
    };
    const native = s.kickPath === 'native';
    const fail = (r: string, n: number): OpenAmpError => new OpenAmpError(r === 'peer-gone' ? OpenAmpErrorCode.PEER_GONE : OpenAmpErrorCode.TIMEOUT, `warm-up: ${r} waiting for echo ${n}`);
    const rtts = messages >>> 3;
    for (let i = 0; i < rtts; i++) {
      if (native) {
        ep.sendToBlocking(ep.dst, views[size(i)]!, timeoutMs);
        const r = s.runUntil(() => got > i, { timeoutMs });
        if (r !== 'done') throw fail(r, i + 1);
      } else {
        await s.send(ep, views[size(i)]!, { timeoutMs });
        const r = await s.until(() => got > i, { timeoutMs });
        if (r !== 'done') throw fail(r, i + 1);
      }
    }
    let sent = got;
    while (got < messages) {
      s.rpmsg.cork();
      while (sent < messages && sent - got < WINDOW && ep.trySend(views[size(sent)]!)) sent++;
      s.rpmsg.uncork();
      const want = Math.min(sent, got + 1);
      const r = native ? s.runUntil(() => got >= want, { timeoutMs }) : await s.until(() => got >= want, { timeoutMs });
      if (r !== 'done') throw fail(r, want);
    }
    return got;
  } finally {
    if (!s.peerGone) ep.destroy(); // name-service DESTROY: the echo remote ends
    await new Promise((r) => setImmediate(r));
    await s.close();
  }
}

/**
 * Runs `messages` echoes through the in-memory pair and then through a private session pair: this thread plays `role` with the given options, a worker the
 * other role. Call it before the real session creates its endpoint. Never throws for a failed run (see `error`);
 * throws OPENAMP_ERR_BAD_ARGUMENT for a bad count.
 */
export async function warmUpSession(role: OpenAmpRole, messages: number = DEFAULT_SESSION_WARMUP_MESSAGES, o: SessionWarmUpOptions = {}): Promise<SessionWarmUpResult> {
  if (!(Number.isInteger(messages) && messages >= 0 && messages <= MAX_SESSION_WARMUP_MESSAGES)) {
    throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `warm-up messages must be an integer 0..${MAX_SESSION_WARMUP_MESSAGES}, not ${messages}`);
  }
  if (role !== 'host' && role !== 'remote') throw new OpenAmpError(OpenAmpErrorCode.BAD_ARGUMENT, `role must be host or remote, not ${String(role)}`);
  const t0 = performance.now();
  if (messages === 0) return { messages: 0, ms: 0 };
  const dir = mkdtempSync(join(tmpdir(), 'tz-openamp-warmup-'));
  const shmPath = join(dir, 'w.shm');
  const socketPath = join(dir, 'w.sock');
  const data: WarmUpPeerData = { role: role === 'host' ? 'remote' : 'host', shmPath, socketPath, messages, options: o };
  let worker: Worker | undefined;
  let echoed = 0;
  try {
    worker = new Worker(compiledUrl(import.meta.url, './session-warmup-peer.js'), { workerData: data });
    const w = worker;
    const peerDone = new Promise<void>((resolve, reject) => {
      w.once('error', reject);
      w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`warm-up peer exited with code ${code}`))));
    });
    peerDone.catch(() => undefined); // observed below; a failure before that must not be unhandled
    // the RPMsg classes first, on the cheap in-memory pair (the worker does the same meanwhile), then the session
    warmUpRpmsg(messages);
    const s = await openWarmUpSession(role, shmPath, socketPath, o);
    if (role === 'host') echoed = await driveWarmUpHost(s, messages, o.timeoutMs);
    else echoed = (await runEchoRemote(s, { warmup: 0 })).echoed;
    await peerDone;
    worker = undefined;
    return { messages: echoed, ms: performance.now() - t0 };
  } catch (e) {
    return { messages: echoed, ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e) };
  } finally {
    if (worker !== undefined) await worker.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
}
