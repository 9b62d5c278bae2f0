/**
 * Benchmarks of the OpenAMP pairing (issue 7, item 5): round trip and message rate across two OS processes over the
 * OpenAMP Linux layout (shared file + one-byte socket kicks), same payload sizes, same machine, same run:
 *
 *   peer-c↔peer-c          our independent C peer on both sides (the C reference for this transport)
 *   tz-virtio↔peer-c       our host (this process) against the C remote
 *   peer-c↔tz-virtio       the C host against our remote (a child `tz-virtio openamp remote`)
 *   tz-virtio↔tz-virtio    our host here, our remote in a child process
 *
 * Rows follow the bench JSON shape: { experiment: 'rtt' | 'throughput', contender, payload, iterations, meanUs,
 * msgPerSec, ... }. Real OpenAMP binaries are only present on a developer machine (built from source in a temp
 * folder; docs/openamp-interop.md): their pairings are measured by hand and recorded there, not by this function.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenAmpSession } from './session.js';
import { waitBound } from './ping.js';
import { OPENAMP_ECHO_SERVICE } from './layout.js';

export interface OpenAmpBenchRow {
  readonly experiment: 'rtt' | 'throughput';
  readonly contender: string;
  readonly payload: number;
  readonly iterations: number;
  /** rtt: mean round trip; throughput: mean time per echoed message. */
  readonly meanUs: number;
  readonly msgPerSec: number;
  readonly transport: 'openamp-linux (shared file + AF_UNIX kicks)';
}

export interface OpenAmpBenchOptions {
  /** Payload sizes in bytes (4..496). Default [16, 256, 496]. */
  readonly payloads?: readonly number[];
  /** Messages per measurement. Default 2000. */
  readonly iterations?: number;
  /** Messages in flight for the throughput rows. Default 64. */
  readonly window?: number;
  /** Path of the compiled C peer; default: built from test/openamp/fixtures/peer.c with gcc into a temp dir. */
  readonly peerBin?: string;
  readonly log?: (line: string) => void;
}

const TRANSPORT = 'openamp-linux (shared file + AF_UNIX kicks)' as const;

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

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
}

/** Our host in this process: rtt (one message at a time) or throughput (`window` in flight), echoes counted. */
async function tsHost(shm: string, sock: string, mode: 'rtt' | 'throughput', payload: number, iterations: number, window: number): Promise<CResult> {
  const s = await OpenAmpSession.open({ role: 'host', shmPath: shm, socketPath: sock, timeoutMs: 15_000 });
  let got = 0;
  let wake: (() => void) | undefined;
  const ep = s.rpmsg.createEndpoint({
    name: OPENAMP_ECHO_SERVICE,
    onMessage: () => {
      got++;
      wake?.();
    },
  });
  await waitBound(s, ep, 15_000);
  const msg = new Uint8Array(payload).fill(0x5a);
  const until = (n: number): Promise<void> =>
    got >= n
      ? Promise.resolve()
      : new Promise((resolve) => {
          wake = (): void => {
            if (got >= n) {
              wake = undefined;
              resolve();
            }
          };
        });
  for (let i = 0; i < 100; i++) {
    await ep.send(msg);
    await until(i + 1);
  }
  got = 0;
  const t0 = performance.now();
  if (mode === 'rtt') {
    for (let i = 0; i < iterations; i++) {
      await ep.send(msg);
      await until(i + 1);
    }
  } else {
    let sent = 0;
    while (got < iterations) {
      while (sent < iterations && sent - got < window) {
        if (!ep.trySend(msg)) break;
        sent++;
      }
      await until(Math.min(sent, got + 1));
    }
  }
  const elapsedUs = (performance.now() - t0) * 1000;
  ep.destroy();
  await new Promise((r) => setImmediate(r));
  await s.close();
  return { elapsedUs, iterations };
}

function cHostArgs(shm: string, sock: string, mode: 'rtt' | 'throughput', payload: number, iterations: number, window: number): string[] {
  return ['host', '--shm', shm, '--sock', sock, '--bench', mode === 'rtt' ? 'rtt' : 'rate', '--size', String(payload), '--iters', String(iterations), '--window', String(window)];
}

/** Runs the pairings; rows whose tools are missing (gcc, the built CLI) are skipped and logged. */
export async function runOpenAmpBench(o: OpenAmpBenchOptions = {}): Promise<OpenAmpBenchRow[]> {
  const log = o.log ?? ((): void => undefined);
  const payloads = o.payloads ?? [16, 256, 496];
  const iterations = o.iterations ?? 2000;
  const window = o.window ?? 64;
  const dir = mkdtempSync(join(tmpdir(), 'tz-openamp-bench-'));
  const rows: OpenAmpBenchRow[] = [];
  try {
    const peer = o.peerBin ?? buildPeer(dir);
    const cli = pkgFile('bin/tz-virtio.mjs');
    let k = 0;
    const next = (): { shm: string; sock: string } => ({ shm: join(dir, `b${k}.shm`), sock: join(dir, `b${k++}.sock`) });
    const row = (experiment: 'rtt' | 'throughput', contender: string, payload: number, r: CResult): void => {
      const meanUs = r.elapsedUs / r.iterations;
      rows.push({ experiment, contender, payload, iterations: r.iterations, meanUs, msgPerSec: r.iterations / (r.elapsedUs / 1e6), transport: TRANSPORT });
      log(`${experiment} ${contender} ${payload} B: ${meanUs.toFixed(2)} µs/msg`);
    };
    for (const payload of payloads) {
      for (const mode of ['rtt', 'throughput'] as const) {
        if (peer !== undefined) {
          // C host <-> C remote
          let p = next();
          const cr = run(peer, ['remote', '--shm', p.shm, '--sock', p.sock]);
          const ch = await run(peer, cHostArgs(p.shm, p.sock, mode, payload, iterations, window));
          await cr;
          if (ch.code === 0) row(mode, 'peer-c↔peer-c', payload, JSON.parse(ch.stdout) as CResult);
          // tz-virtio host <-> C remote
          p = next();
          const cr2 = run(peer, ['remote', '--shm', p.shm, '--sock', p.sock]);
          row(mode, 'tz-virtio↔peer-c', payload, await tsHost(p.shm, p.sock, mode, payload, iterations, window));
          await cr2;
          // C host <-> tz-virtio remote (child process)
          p = next();
          const tr = run(process.execPath, [cli, 'openamp', 'remote', '-q', '--shm', p.shm, '--socket', p.sock]);
          const ch2 = await run(peer, cHostArgs(p.shm, p.sock, mode, payload, iterations, window));
          await tr;
          if (ch2.code === 0) row(mode, 'peer-c↔tz-virtio', payload, JSON.parse(ch2.stdout) as CResult);
        } else log('gcc or peer.c unavailable: C rows skipped');
        // tz-virtio host <-> tz-virtio remote, two processes
        const p = next();
        const tr = run(process.execPath, [cli, 'openamp', 'remote', '-q', '--shm', p.shm, '--socket', p.sock]);
        row(mode, 'tz-virtio↔tz-virtio', payload, await tsHost(p.shm, p.sock, mode, payload, iterations, window));
        await tr;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
