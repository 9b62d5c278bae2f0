/**
 * `tz-virtio bench --only linux`: Linux 6.1 user space (UML, python3 on AF_VSOCK) against our virtio-vsock device
 * served over vhost-user by this process (the secure side: echo on port 1234, a sink on 1235), beside the same
 * guest's in-kernel vsock_loopback (CID 1: Linux's vsock stack with no device at all, the upper bound), measured in
 * the same boot, alternating. Rows: bandwidth with 64 KiB writes (until the sink has read everything) and 64 B
 * ping-pong round trips (p50/p99), and the two ratios the issue sets as targets (≥ 50 % of loopback bandwidth,
 * RTT within 2× of it). Guest scripts: examples/linux/vsock-bench.sh and vsock_bench.py.
 *
 * Caveat, stated in the rows: UML runs the whole guest (sender, kernel, loopback receiver) on one host thread, and
 * the device runs in this process's event loop, on a machine the other benchmarks may share.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findUml, umlArgs, umlEnv, umlUnavailable } from '../../host/uml.js';
import { packageRoot } from '../../host/package-root.js';
import { VhostUserServer } from '../../vhost-user/index.js';
import { VsockDevice } from '../../vsock/index.js';
import type { ExternalResult, SkippedResult } from '../types.js';

export interface LinuxBenchOptions {
  readonly quick: boolean;
  readonly scale: number;
  readonly log?: (line: string) => void;
}

interface GuestRow {
  target: 'device' | 'loopback';
  kind?: 'throughput' | 'rtt';
  error?: string;
  bytes?: number;
  seconds?: number;
  rounds?: number;
  meanUs?: number;
  p50Us?: number;
  p99Us?: number;
  minUs?: number;
  maxUs?: number;
}

const skipped = (e: unknown): SkippedResult => ({ experiment: 'linux', skipped: e instanceof Error ? e.message.split('\n')[0]! : String(e) });

/** The secure side: vsock device with an echo (1234) and a sink (1235) that closes once the guest has finished. */
function secureSide(): VsockDevice {
  const device = new VsockDevice({ guestCid: 3, allowHalfOpen: true });
  device.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  }).listen(1234);
  device.createServer((s) => {
    s.on('error', () => undefined);
    s.setZeroCopyReceive(() => undefined);
    s.on('end', () => s.end());
    s.resume();
  }).listen(1235);
  return device;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function runLinuxRows(o: LinuxBenchOptions): Promise<(ExternalResult | SkippedResult)[]> {
  const why = umlUnavailable();
  if (why !== undefined) return [skipped(why)];
  const dir = mkdtempSync(join(tmpdir(), 'tz-bench-linux-'));
  const sock = join(dir, 'vsock.sock');
  const server = new VhostUserServer(sock, secureSide()).listen();
  const bytes = Math.max(4, Math.round((o.quick ? 32 : 128) * o.scale)) * 1024 * 1024;
  const rounds = Math.max(200, Math.round((o.quick ? 1000 : 4000) * o.scale));
  const repeat = o.quick ? 1 : 3;
  let output = '';
  try {
    const init = join(packageRoot(), 'examples', 'linux', 'vsock-bench.sh');
    const args = umlArgs({ init, umlDir: dir, memMiB: 256, params: [`virtio_uml.device=${sock}:19`, `TZ_BYTES=${bytes}`, `TZ_ROUNDS=${rounds}`, `TZ_REPEAT=${repeat}`] });
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(findUml()!, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: umlEnv() });
      const kill = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      };
      const timer = setTimeout(kill, 600_000);
      const onData = (d: Buffer) => {
        output += d.toString();
        for (const l of d.toString().split('\n')) if (l.startsWith('BENCH ')) o.log?.(`linux: ${l.slice(6)}`);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('close', (c) => {
        clearTimeout(timer);
        kill();
        resolve(c);
      });
    });
    const rows: GuestRow[] = output
      .split('\n')
      .filter((l) => l.startsWith('BENCH '))
      .map((l) => JSON.parse(l.slice(6)) as GuestRow);
    const errors = rows.filter((r) => r.error !== undefined);
    if (errors.length > 0) return [skipped(`the guest benchmark failed: ${errors.map((e) => `${e.target}: ${e.error}`).join('; ')}`)];
    if (rows.length === 0) return [skipped(`the guest printed no results (UML exit ${code}): ${output.split('\n').slice(-5).join(' | ')}`)];
    return summarize(rows, bytes);
  } catch (e) {
    return [skipped(e)];
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarize(rows: GuestRow[], bytes: number): ExternalResult[] {
  const out: ExternalResult[] = [];
  const name = { device: 'Linux AF_VSOCK → our vsock device (vhost-user)', loopback: 'Linux AF_VSOCK vsock_loopback (same guest)' } as const;
  const bw: Record<string, number> = {};
  const p50: Record<string, number> = {};
  for (const target of ['device', 'loopback'] as const) {
    const tp = rows.filter((r) => r.target === target && r.kind === 'throughput');
    const rt = rows.filter((r) => r.target === target && r.kind === 'rtt');
    if (tp.length > 0) {
      const perSec = tp.map((r) => r.bytes! / r.seconds!);
      const b = median(perSec);
      bw[target] = b;
      const msgs = bytes / 65536;
      out.push({
        experiment: 'linux',
        kind: 'throughput',
        contender: name[target],
        setting: `64 KiB writes, ${(b / 1e6).toFixed(0)} MB/s (median of ${tp.length}; ${(Math.min(...perSec) / 1e6).toFixed(0)}..${(Math.max(...perSec) / 1e6).toFixed(0)})`,
        messages: msgs,
        meanUs: 1e6 / (b / 65536),
        msgPerSec: b / 65536,
        bytesPerSec: b,
      });
    }
    if (rt.length > 0) {
      const best = rt.map((r) => r.p50Us!);
      p50[target] = median(best);
      const r = rt.find((x) => x.p50Us === p50[target])!;
      out.push({
        experiment: 'linux',
        kind: 'rtt',
        contender: name[target],
        setting: `64 B ping-pong (median run of ${rt.length})`,
        messages: r.rounds!,
        meanUs: r.meanUs!,
        p50Us: r.p50Us!,
        p99Us: r.p99Us!,
        minUs: r.minUs!,
        maxUs: r.maxUs!,
        msgPerSec: 1e6 / r.meanUs!,
      });
    }
  }
  if (bw['device'] !== undefined && bw['loopback'] !== undefined) {
    const f = bw['device'] / bw['loopback'];
    out.push({ experiment: 'linux', kind: 'throughput', contender: 'device / loopback bandwidth', setting: `${(f * 100).toFixed(0)} % (target ≥ 50 %: ${f >= 0.5 ? 'met' : 'NOT met'})`, messages: 0, meanUs: 0, msgPerSec: 0 });
  }
  if (p50['device'] !== undefined && p50['loopback'] !== undefined) {
    const f = p50['device'] / p50['loopback'];
    out.push({ experiment: 'linux', kind: 'rtt', contender: 'device / loopback RTT p50', setting: `${f.toFixed(2)}× (target ≤ 2×: ${f <= 2 ? 'met' : 'NOT met'})`, messages: 0, meanUs: 0, msgPerSec: 0 });
  }
  return out;
}
