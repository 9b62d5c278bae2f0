/**
 * Benchmarks of the OpenAMP pairing: round trip and message rate across two OS processes over the
 * OpenAMP Linux layout (shared file + one-byte socket kicks), same payload sizes, same machine, same run:
 *
 *   peer-c↔peer-c          our independent C peer on both sides (the C reference for this transport)
 *   tz-virtio↔peer-c       our host (this process) against the C remote
 *   peer-c↔tz-virtio       the C host against our remote (a child `tz-virtio openamp remote`)
 *   tz-virtio↔tz-virtio    our host here, our remote in a child process
 *
 * Rows follow the bench JSON shape: { experiment: 'rtt' | 'throughput', contender, payload, iterations, meanUs,
 * msgPerSec, p50Us, p99Us (rtt), ... }. Every cell is measured `repeats` times, the contenders interleaved round by
 * round, and reported as the median of its rounds: single runs of one cell vary 2-10x on a shared VM. With `openamp` binaries given (built locally from source in a temp folder, never committed;
 * docs/openamp-interop.md has the recipe), three more pairings run, at OpenAMP's fixed paths (/dev/shm/openamp.shm,
 * /tmp/openamp.event.0), one at a time:
 *
 *   openamp-c↔openamp-c    OpenAMP's echo remote and a timing variant of its ping host
 *   tz-virtio↔openamp-c    our host (this process) against OpenAMP's rpmsg-echo
 *   openamp-c↔tz-virtio    OpenAMP's ping host (timing variant) against our remote (a child process)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenAmpSession, type KickPath } from './session.js';
import { waitBound } from './ping.js';
import { OPENAMP_ECHO_SERVICE } from './layout.js';
import { nativeKicksAvailable } from '../host/native-kick.js';
import { warmUpSession } from './session-warmup.js';
import type { WaitPolicy } from '../sync/policy.js';

export interface OpenAmpBenchRow {
  readonly experiment: 'rtt' | 'throughput';
  readonly contender: string;
  readonly payload: number;
  readonly iterations: number;
  /** rtt: mean round trip; throughput: mean time per echoed message (median of the rounds' means). */
  readonly meanUs: number;
  readonly msgPerSec: number;
  /** rtt: median and 99th percentile of the single round trips (median of the rounds' values), when measured. */
  readonly p50Us?: number;
  readonly p99Us?: number;
  /** Measurements of this cell (interleaved with the other contenders); meanUs is their median. */
  readonly runs: number;
  /** Fastest and slowest run's µs per message. */
  readonly minUs: number;
  readonly maxUs: number;
  readonly transport: 'openamp-linux (shared file + AF_UNIX kicks)';
}

export interface OpenAmpBenchOptions {
  /** Payload sizes in bytes (4..496). Default [16, 256, 496]. */
  readonly payloads?: readonly number[];
  /** Messages per throughput measurement (after 100 warm-up echoes). Default 20000. */
  readonly iterations?: number;
  /** Round trips per rtt measurement (after 100 warm-up echoes). Default 5000. */
  readonly rttIterations?: number;
  /**
   * Rounds: every cell is measured this many times, the contenders interleaved round by round, and reported as the
   * median (the VM is shared: single runs of the same cell vary by 2-10x). Default 3.
   */
  readonly repeats?: number;
  /** Messages in flight for the throughput rows. Default 64. */
  readonly window?: number;
  /** Path of the compiled C peer; default: built from test/openamp/fixtures/peer.c with gcc into a temp dir. */
  readonly peerBin?: string;
  /** Real OpenAMP binaries (local build); their rows are skipped when absent. */
  readonly openamp?: OpenAmpBinaries;
  /**
   * Kick paths of our side to measure (src/openamp/session.ts). Default: ['native'] when the addon has the kick
   * calls, else ['event-loop']. Rows of the event-loop path are named `tz-virtio[event-loop]`.
   */
  readonly kickPaths?: readonly KickPath[];
  /** Wait policy of our sides (host here, remote children); default: the session's default. */
  readonly waitPolicy?: WaitPolicy;
  readonly log?: (line: string) => void;
}

export interface OpenAmpBinaries {
  /** OpenAMP's echo remote, e.g. <build>/bin/rpmsg-echo-shared (LD_PRELOAD needs the dynamically linked one). */
  readonly echo: string;
  /**
   * A host built from OpenAMP's rpmsg-ping.c whose app() times the exchange instead of the ping sequence: it reads
   * BENCH_MODE (rtt|rate), BENCH_SIZE, BENCH_ITERS, BENCH_WINDOW from the environment, takes the proc index (1) as
   * its argument like rpmsg-echo-ping, and prints {"elapsedUs":N,"iterations":N} (rtt: optionally "p50Us" and "p99Us" too; recipe in docs/openamp-interop.md).
   */
  readonly pingBench?: string;
  /** LD_PRELOAD shim for libmetal issue 297 (metal_linux_bus_init stubbed to succeed on a machine without UIO/VFIO). */
  readonly preload?: string;
  /** LD_LIBRARY_PATH for libmetal.so / libopen_amp.so. */
  readonly libraryPath?: string;
}

const TRANSPORT = 'openamp-linux (shared file + AF_UNIX kicks)' as const;
const OPENAMP_FIXED = { shm: '/dev/shm/openamp.shm', sock: '/tmp/openamp.event.0' } as const;

function pkgFile(rel: string): string {
  return fileURLToPath(new URL(`../../../${rel}`, import.meta.url));
}

function buildPeer(dir: string): string | undefined {
  const src = existsSync(pkgFile('test/openamp/fixtures/peer.c')) ? pkgFile('test/openamp/fixtures/peer.c') : undefined;
  if (src === undefined) return undefined;
  const bin = join(dir, 'peer');
  const r = spawnSync('gcc', ['-O2', '-o', bin, src], { encoding: 'utf8' });
  return r.status === 0 ? bin : undefined;
}

function run(cmd: string, args: string[], timeoutMs = 120_000, env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env !== undefined ? { env } : {}) });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

interface CResult {
  elapsedUs: number;
  iterations: number;
  /** rtt: median and 99th percentile of the single round trips, µs (when the driver measures them). */
  p50Us?: number;
  p99Us?: number;
}

/** The q-quantile (0..1) of the first n values of a sorted array, nearest rank (as the C peer computes it). */
export function quantile(sorted: ArrayLike<number>, n: number, q: number): number {
  if (n <= 0) return Number.NaN;
  const i = Math.ceil(q * n) - 1;
  return sorted[i < 0 ? 0 : i >= n ? n - 1 : i]!;
}

/** Median of a list of numbers (the middle one, or the mean of the two middle ones). */
export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  return v.length % 2 === 1 ? v[v.length >> 1]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

/** Our host in this process: rtt (one message at a time) or throughput (`window` in flight), echoes counted. */
async function tsHost(shm: string, sock: string, mode: 'rtt' | 'throughput', payload: number, iterations: number, window: number, kicks?: KickPath, waitPolicy?: WaitPolicy): Promise<CResult> {
  const o = { ...(kicks !== undefined ? { kicks } : {}), ...(waitPolicy !== undefined ? { waitPolicy } : {}) };
  // as `openamp host` does before it connects (./session-warmup.ts): both of our sides start warm
  await warmUpSession('host', undefined, o);
  const s = await OpenAmpSession.open({ role: 'host', shmPath: shm, socketPath: sock, timeoutMs: 15_000, ...o });
  let got = 0;
  const ep = s.rpmsg.createEndpoint({
    name: OPENAMP_ECHO_SERVICE,
    onMessage: () => {
      got++;
    },
  });
  await waitBound(s, ep, 15_000);
  const msg = new Uint8Array(payload).fill(0x5a);
  const until = async (n: number): Promise<void> => {
    const r = await s.until(() => got >= n, { timeoutMs: 15_000 });
    if (r !== 'done') throw new Error(`bench: ${r} waiting for echo ${n}`);
  };
  for (let i = 0; i < 100; i++) {
    await s.send(ep, msg);
    await until(i + 1);
  }
  got = 0;
  const lat = mode === 'rtt' ? new Float64Array(iterations) : undefined;
  const native = s.kickPath === 'native';
  const t0 = performance.now();
  if (lat !== undefined) {
    let t = t0;
    for (let i = 0; i < iterations; i++) {
      if (native) {
        // the synchronous loop of the native path (what session.send/until do, without a promise per message)
        ep.sendToBlocking(ep.dst, msg, 15_000);
        const r = s.runUntil(() => got > i, { timeoutMs: 15_000 });
        if (r !== 'done') throw new Error(`bench: ${r} waiting for echo ${i + 1}`);
      } else {
        await s.send(ep, msg);
        await until(i + 1);
      }
      const t1 = performance.now();
      lat[i] = (t1 - t) * 1000;
      t = t1;
    }
  } else {
    let sent = 0;
    while (got < iterations) {
      // One notification per burst (as Linux virtio drivers batch a kick), not one per message.
      s.rpmsg.cork();
      while (sent < iterations && sent - got < window) {
        if (!ep.trySend(msg)) break;
        sent++;
      }
      s.rpmsg.uncork();
      await until(Math.min(sent, got + 1));
    }
  }
  const elapsedUs = (performance.now() - t0) * 1000;
  ep.destroy();
  await new Promise((r) => setImmediate(r));
  await s.close();
  if (lat === undefined || iterations === 0) return { elapsedUs, iterations };
  lat.sort();
  return { elapsedUs, iterations, p50Us: quantile(lat, iterations, 0.5), p99Us: quantile(lat, iterations, 0.99) };
}

/** A driver's JSON result line, checked: elapsedUs and iterations required, p50Us/p99Us kept when numbers. */
function cResult(v: unknown): CResult | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o['elapsedUs'] !== 'number' || typeof o['iterations'] !== 'number' || !(o['iterations'] > 0)) return undefined;
  const r: CResult = { elapsedUs: o['elapsedUs'], iterations: o['iterations'] };
  if (typeof o['p50Us'] === 'number') r.p50Us = o['p50Us'];
  if (typeof o['p99Us'] === 'number') r.p99Us = o['p99Us'];
  return r;
}

function lastJson(out: string): CResult | undefined {
  const line = out.trim().split('\n').pop() ?? '';
  try {
    return cResult(JSON.parse(line));
  } catch {
    return undefined;
  }
}

function removeFixed(): void {
  rmSync(OPENAMP_FIXED.shm, { force: true });
  rmSync(OPENAMP_FIXED.sock, { force: true });
}

/** The real-OpenAMP pairings of one (mode, payload) cell, at OpenAMP's fixed paths, one after the other. */
async function openampRows(
  b: OpenAmpBinaries,
  mode: 'rtt' | 'throughput',
  payload: number,
  iterations: number,
  window: number,
  cli: string,
  paths: readonly KickPath[],
  policy: WaitPolicy | undefined,
  row: (experiment: 'rtt' | 'throughput', contender: string, payload: number, r: CResult) => void,
  log: (line: string) => void,
): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(b.preload !== undefined ? { LD_PRELOAD: b.preload } : {}),
    ...(b.libraryPath !== undefined ? { LD_LIBRARY_PATH: b.libraryPath } : {}),
  };
  const benchEnv: NodeJS.ProcessEnv = { ...env, BENCH_MODE: mode === 'rtt' ? 'rtt' : 'rate', BENCH_SIZE: String(payload), BENCH_ITERS: String(iterations), BENCH_WINDOW: String(window) };
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));
  if (b.pingBench !== undefined) {
    removeFixed();
    const er = run(b.echo, [], 120_000, env); // the echo remote is proc 0: socket server, writes the table
    await settle();
    const h = await run(b.pingBench, ['1'], 120_000, benchEnv);
    const r = lastJson(h.stdout);
    if (r !== undefined) row(mode, 'openamp-c↔openamp-c', payload, r);
    else log(`openamp-c↔openamp-c ${mode} ${payload} B failed: ${h.stderr.trim().split('\n').pop() ?? ''}`);
    await er;
  }
  for (const kp of paths) {
    removeFixed();
    const er2 = run(b.echo, [], 120_000, env);
    await settle();
    row(mode, `${ours(kp)}↔openamp-c`, payload, await tsHost(OPENAMP_FIXED.shm, OPENAMP_FIXED.sock, mode, payload, iterations, window, kp, policy));
    await er2;
  }
  if (b.pingBench !== undefined) {
    for (const kp of paths) {
      removeFixed();
      const tr = run(process.execPath, [cli, 'openamp', 'remote', '-q', '--kicks', kp, ...policyArgs(policy), '--shm', OPENAMP_FIXED.shm, '--socket', OPENAMP_FIXED.sock]);
      await settle();
      const h = await run(b.pingBench, ['1'], 120_000, benchEnv);
      const r = lastJson(h.stdout);
      if (r !== undefined) row(mode, `openamp-c↔${ours(kp)}`, payload, r);
      else log(`openamp-c↔${ours(kp)} ${mode} ${payload} B failed: ${h.stderr.trim().split('\n').pop() ?? ''}`);
      await tr;
    }
  }
  removeFixed();
}

/** The remote child's arguments for a wait policy (none: its default). */
function policyArgs(p: WaitPolicy | undefined): string[] {
  return p !== undefined ? ['--wait-policy', p] : [];
}

/** Contender name of our side on a kick path. */
function ours(kp: KickPath): string {
  return kp === 'native' ? 'tz-virtio' : 'tz-virtio[event-loop]';
}

function cHostArgs(shm: string, sock: string, mode: 'rtt' | 'throughput', payload: number, iterations: number, window: number): string[] {
  return ['host', '--shm', shm, '--sock', sock, '--bench', mode === 'rtt' ? 'rtt' : 'rate', '--size', String(payload), '--iters', String(iterations), '--window', String(window)];
}

/** Runs the pairings; rows whose tools are missing (gcc, the built CLI) are skipped and logged. */
export async function runOpenAmpBench(o: OpenAmpBenchOptions = {}): Promise<OpenAmpBenchRow[]> {
  const log = o.log ?? ((): void => undefined);
  const payloads = o.payloads ?? [16, 256, 496];
  const rateIterations = o.iterations ?? 20_000;
  const rttIterations = o.rttIterations ?? 5000;
  const window = o.window ?? 64;
  const repeats = o.repeats ?? 3;
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be an integer >= 1, not ${repeats}`);
  for (const [name, n] of [['iterations', rateIterations], ['rttIterations', rttIterations]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be an integer >= 1, not ${n}`);
  }
  const paths = o.kickPaths ?? [nativeKicksAvailable() ? 'native' : 'event-loop'];
  const dir = mkdtempSync(join(tmpdir(), 'tz-openamp-bench-'));
  const rows: OpenAmpBenchRow[] = [];
  try {
    const peer = o.peerBin ?? buildPeer(dir);
    const cli = pkgFile('bin/tz-virtio.mjs');
    let k = 0;
    const next = (): { shm: string; sock: string } => ({ shm: join(dir, `b${k}.shm`), sock: join(dir, `b${k++}.sock`) });
    const samples = new Map<string, { experiment: 'rtt' | 'throughput'; contender: string; payload: number; iterations: number; us: number[]; p50: number[]; p99: number[] }>();
    const row = (experiment: 'rtt' | 'throughput', contender: string, payload: number, r: CResult): void => {
      const key = `${experiment} ${contender} ${payload}`;
      const cell = samples.get(key) ?? { experiment, contender, payload, iterations: r.iterations, us: [], p50: [], p99: [] };
      cell.us.push(r.elapsedUs / r.iterations);
      if (r.p50Us !== undefined) cell.p50.push(r.p50Us);
      if (r.p99Us !== undefined) cell.p99.push(r.p99Us);
      samples.set(key, cell);
      const pct = r.p50Us !== undefined && r.p99Us !== undefined ? ` (p50 ${r.p50Us.toFixed(2)}, p99 ${r.p99Us.toFixed(2)})` : '';
      log(`${experiment} ${contender} ${payload} B: ${(r.elapsedUs / r.iterations).toFixed(2)} µs/msg${pct}`);
    };
    for (let round = 0; round < repeats; round++) {
      for (const payload of payloads) {
        for (const mode of ['rtt', 'throughput'] as const) {
          const iterations = mode === 'rtt' ? rttIterations : rateIterations;
          if (peer !== undefined) {
            // C host <-> C remote
            let p = next();
            const cr = run(peer, ['remote', '--shm', p.shm, '--sock', p.sock]);
            const ch = await run(peer, cHostArgs(p.shm, p.sock, mode, payload, iterations, window));
            await cr;
            const cc = ch.code === 0 ? lastJson(ch.stdout) : undefined;
            if (cc !== undefined) row(mode, 'peer-c↔peer-c', payload, cc);
            else log(`peer-c↔peer-c ${mode} ${payload} B failed: ${ch.stderr.trim().split('\n').pop() ?? ''}`);
            for (const kp of paths) {
              // tz-virtio host <-> C remote
              p = next();
              const cr2 = run(peer, ['remote', '--shm', p.shm, '--sock', p.sock]);
              row(mode, `${ours(kp)}↔peer-c`, payload, await tsHost(p.shm, p.sock, mode, payload, iterations, window, kp, o.waitPolicy));
              await cr2;
              // C host <-> tz-virtio remote (child process)
              p = next();
              const tr = run(process.execPath, [cli, 'openamp', 'remote', '-q', '--kicks', kp, ...policyArgs(o.waitPolicy), '--shm', p.shm, '--socket', p.sock]);
              const ch2 = await run(peer, cHostArgs(p.shm, p.sock, mode, payload, iterations, window));
              await tr;
              const c2 = ch2.code === 0 ? lastJson(ch2.stdout) : undefined;
              if (c2 !== undefined) row(mode, `peer-c↔${ours(kp)}`, payload, c2);
              else log(`peer-c↔${ours(kp)} ${mode} ${payload} B failed: ${ch2.stderr.trim().split('\n').pop() ?? ''}`);
            }
          } else log('gcc or peer.c unavailable: C rows skipped');
          if (o.openamp !== undefined) await openampRows(o.openamp, mode, payload, iterations, window, cli, paths, o.waitPolicy, row, log);
          for (const kp of paths) {
            // tz-virtio host <-> tz-virtio remote, two processes (same kick path on both sides)
            const p = next();
            const tr = run(process.execPath, [cli, 'openamp', 'remote', '-q', '--kicks', kp, ...policyArgs(o.waitPolicy), '--shm', p.shm, '--socket', p.sock]);
            row(mode, `${ours(kp)}↔${ours(kp)}`, payload, await tsHost(p.shm, p.sock, mode, payload, iterations, window, kp, o.waitPolicy));
            await tr;
          }
        }
      }
    }
    for (const c of samples.values()) {
      const us = [...c.us].sort((a, b) => a - b);
      const meanUs = median(us);
      rows.push({
        experiment: c.experiment,
        contender: c.contender,
        payload: c.payload,
        iterations: c.iterations,
        meanUs,
        msgPerSec: 1e6 / meanUs,
        ...(c.p50.length > 0 ? { p50Us: median(c.p50) } : {}),
        ...(c.p99.length > 0 ? { p99Us: median(c.p99) } : {}),
        runs: us.length,
        minUs: us[0]!,
        maxUs: us[us.length - 1]!,
        transport: TRANSPORT,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
