/**
 * Crash and reboot of the non-secure partition in the middle of a stream, on two worker threads
 * that run the RPMsg roles directly (secure = remote/receiver, non-secure = host/sender; one core each):
 *
 *   1. both boot; the sender streams sequence-numbered, CRC-checked messages; the receiver acknowledges
 *      cumulatively;
 *   2. once `crashAt` messages are acknowledged, the non-secure worker is terminated (worker.terminate(): wherever it
 *      was, possibly half-way through writing a descriptor);
 *   3. the secure worker keeps running (its loop heartbeat is watched during the outage);
 *   4. a new non-secure worker boots: it resets the virtio device, starts it again (features renegotiated, rings
 *      re-initialised), asks the receiver where to resume (RESUME -> cumulative ack) and sends the rest.
 *
 * Checked: every message the sender saw acknowledged was delivered exactly once (no duplicate, no gap), all
 * `messages` were delivered in the end, none corrupted. The machine model (src/hypervisor) has no reboot hook yet;
 * this runs the same roles without it (see docs/robustness.md).
 */
import { Worker } from 'node:worker_threads';
import { PhysicalMemory } from '../virtio/memory.js';
import { planRpmsgRegion, writeResourceTable } from '../rpmsg/index.js';
import { R_ACKED, R_SECURE_BEAT, R_STOP, R_SECURE_BELL, R_WORDS, type RebootWorkerData } from './reboot-ctrl.js';
import { compiledUrl } from '../host/compiled.js';

export interface RebootOptions {
  readonly messages: number;
  /** Kill the non-secure worker once this many messages were acknowledged (default messages / 3). */
  readonly crashAt?: number;
  /** Crashes (each followed by a reboot), spread over the stream (default 1). */
  readonly crashes?: number;
  readonly window?: number;
  readonly seed?: number;
  /** Give up when the stream does not move (no acknowledgement, no resume after a reboot) for this long (default 15 s). */
  readonly stallTimeoutMs?: number;
  /** Called after each boot resumed and after each crash (progress for the terminal). */
  readonly onProgress?: (p: { readonly boot: number; readonly crashes: number; readonly event: 'resumed' | 'crashed'; readonly acked: number }) => void;
}

export interface RebootResult {
  readonly messages: number;
  readonly crashes: number;
  /** Acknowledged count the sender had seen when it was killed, per crash. */
  readonly ackedAtCrash: number[];
  /** Where each rebooted sender resumed (the receiver's cumulative ack after the reset). */
  readonly resumedAt: number[];
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly corrupted: number;
  /** The secure loop kept running during each outage: its heartbeats between kill and reboot. */
  readonly secureBeatsDuringOutage: number[];
  readonly secureMaxLoopGapMs: number;
  readonly securePeerErrors: number;
  readonly elapsedMs: number;
  /** Why the run stopped early (a boot that never resumed, a stream that stalled, a partition that failed). */
  readonly failure?: string;
  readonly ok: boolean;
}

function workerUrl(): URL {
  return compiledUrl(import.meta.url, './reboot-worker.js');
}

export async function runReboot(o: RebootOptions): Promise<RebootResult> {
  const t0 = performance.now();
  const layout = planRpmsgRegion({ base: 0x3800_0000, numBuffers: 64, bufferSize: 512 });
  const region = new SharedArrayBuffer(Math.ceil(layout.size / 8) * 8);
  writeResourceTable(new PhysicalMemory([{ name: 'ipc', base: layout.base, size: layout.size, buffer: region }]), layout);
  const ctrlBuf = new SharedArrayBuffer(4 * R_WORDS);
  const ctrl = new Int32Array(ctrlBuf);
  const base = { region, layout, ctrl: ctrlBuf, messages: o.messages, window: o.window ?? 24, seed: o.seed ?? 1 };
  const start = (role: 'secure' | 'nonsecure', boot: number) => new Worker(workerUrl(), { workerData: { ...base, role, boot } satisfies RebootWorkerData });
  const done = <T>(w: Worker) =>
    new Promise<T>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });

  const crashes = o.crashes ?? 1;
  if (!(Number.isSafeInteger(o.messages) && o.messages >= 1)) throw new RangeError(`messages must be a positive integer, not ${o.messages}`);
  if (!(Number.isSafeInteger(crashes) && crashes >= 1 && crashes < o.messages)) throw new RangeError(`crashes must be in 1..messages-1 (each crash needs a message sent before it), not ${crashes}`);
  const stallMs = o.stallTimeoutMs ?? 15_000;
  const secure = start('secure', 0);
  const secureReport = done<Record<string, number>>(secure);
  secureReport.catch(() => undefined);
  const ackedAtCrash: number[] = [];
  const resumedAt: number[] = [];
  const beats: number[] = [];
  let failure: string | undefined;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    for (let boot = 0; boot <= crashes && failure === undefined; boot++) {
      const ns = start('nonsecure', boot);
      let over = false;
      let resumed = false;
      let error: string | undefined;
      ns.on('message', (m: { resumedAt?: number; done?: boolean }) => {
        if (m.resumedAt !== undefined) {
          resumedAt.push(m.resumedAt);
          resumed = true;
          o.onProgress?.({ boot, crashes, event: 'resumed', acked: m.resumedAt });
        }
        if (m.done === true) over = true;
      });
      ns.once('error', (e) => {
        over = true;
        error = e.message;
      });
      ns.once('exit', () => (over = true));
      // Every wait is bounded: `until` must come true, or the stream must move, within stallMs.
      const wait = async (until: () => boolean, what: string): Promise<boolean> => {
        let last = Atomics.load(ctrl, R_ACKED);
        let since = performance.now();
        while (!until()) {
          if (error !== undefined) {
            failure = `non-secure boot ${boot}: ${error}`;
            return false;
          }
          const a = Atomics.load(ctrl, R_ACKED);
          if (a !== last) {
            last = a;
            since = performance.now();
          } else if (performance.now() - since > stallMs) {
            failure = `non-secure boot ${boot}: ${what}: nothing acknowledged for ${stallMs} ms (at ${a})`;
            return false;
          }
          await sleep(1);
        }
        return true;
      };
      // A boot counts once it asked the receiver where to resume: killing it earlier would test nothing new.
      const ok = await wait(() => resumed || over, 'no resume after boot');
      if (ok && !resumed && error === undefined) failure = `non-secure boot ${boot} ended before it resumed the stream`;
      if (ok && boot < crashes && failure === undefined) {
        const at = o.crashAt !== undefined ? o.crashAt * (boot + 1) : Math.floor((o.messages * (boot + 1)) / (crashes + 1));
        // Wait until the stream passes the crash point (or the sender finishes first), then kill the partition.
        if (await wait(() => over || Atomics.load(ctrl, R_ACKED) >= at, `waiting for the crash point ${at}`)) {
          await ns.terminate();
          ackedAtCrash.push(Atomics.load(ctrl, R_ACKED));
          o.onProgress?.({ boot, crashes, event: 'crashed', acked: ackedAtCrash[ackedAtCrash.length - 1]! });
          // The outage: the secure side goes on alone for a while.
          const b0 = Atomics.load(ctrl, R_SECURE_BEAT);
          await sleep(50);
          beats.push(Atomics.load(ctrl, R_SECURE_BEAT) - b0);
        }
      } else if (ok && failure === undefined) {
        await wait(() => over, 'waiting for the last boot to finish');
        if (error !== undefined && failure === undefined) failure = `non-secure boot ${boot}: ${error}`;
      }
      await ns.terminate();
    }
  } finally {
    Atomics.store(ctrl, R_STOP, 1);
    Atomics.notify(ctrl, R_SECURE_BELL);
  }
  // the secure worker reports once told to stop; a secure side that does not is a failure, not a hang
  const s = await Promise.race([secureReport, sleep(stallMs).then(() => undefined)]).catch((e: Error) => {
    failure ??= `secure partition: ${e.message}`;
    return undefined;
  });
  if (s === undefined) failure ??= `the secure partition did not report within ${stallMs} ms of the stop`;
  await secure.terminate();
  const rep: Record<string, number> = s ?? {};
  const delivered = rep['delivered'] ?? 0;
  const lost = rep['lost'] ?? 0;
  const duplicated = rep['duplicated'] ?? 0;
  const corrupted = rep['corrupted'] ?? 0;
  return {
    messages: o.messages,
    crashes,
    ackedAtCrash,
    resumedAt,
    delivered,
    lost,
    duplicated,
    corrupted,
    secureBeatsDuringOutage: beats,
    secureMaxLoopGapMs: rep['maxLoopGapMs'] ?? 0,
    securePeerErrors: rep['peerErrors'] ?? 0,
    elapsedMs: performance.now() - t0,
    ...(failure !== undefined ? { failure } : {}),
    // one resume per boot and one acknowledged count per crash: every boot was killed only after it resumed
    ok:
      failure === undefined &&
      ackedAtCrash.length === crashes &&
      resumedAt.length === crashes + 1 &&
      delivered === o.messages &&
      lost === 0 &&
      duplicated === 0 &&
      corrupted === 0 &&
      ackedAtCrash.every((a) => a <= delivered) &&
      beats.every((b) => b > 0),
  };
}

function list(v: readonly number[]): string {
  return v.length <= 12 ? v.join(', ') : `${v.slice(0, 10).join(', ')}, ... (${v.length} in all)`;
}

export function formatReboot(r: RebootResult): string {
  return [
    `crash and reboot of the non-secure partition: ${r.messages} messages, ${r.crashes} crash(es)`,
    `  acknowledged when killed: ${list(r.ackedAtCrash)}; resumed at: ${list(r.resumedAt)}`,
    `  delivered ${r.delivered}, lost ${r.lost}, duplicated ${r.duplicated}, corrupted ${r.corrupted}`,
    ...(r.failure !== undefined ? [`  FAILED: ${r.failure}`] : []),
    `  secure loop during each 50 ms outage: min ${r.secureBeatsDuringOutage.length > 0 ? Math.min(...r.secureBeatsDuringOutage) : 0} iterations; longest loop gap ${r.secureMaxLoopGapMs.toFixed(1)} ms; ring errors it refused ${r.securePeerErrors}`,
    `  ${(r.elapsedMs / 1000).toFixed(1)} s, result ${r.ok ? 'OK' : 'FAILED'}`,
  ].join('\n');
}

