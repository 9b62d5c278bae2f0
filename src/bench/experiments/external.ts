/**
 * Experiments outside the shared-memory contenders (`--only process,openamp`; not part of the default run or
 * --quick): rows from other layers' own benchmark drivers, put in the same report.
 *
 *   process: the hypervisor's default scenario (secure Ed25519 signer, non-secure client) with partitions as worker
 *            threads of one process and as separate OS processes (runIsolationBench, src/hypervisor/process).
 *   openamp: the OpenAMP Linux pairing across two OS processes (shared file + AF_UNIX kicks): our C peer, our host
 *            and remote, and real OpenAMP binaries when a local build is found (runOpenAmpBench, src/openamp/bench.ts;
 *            build recipe in docs/openamp-interop.md; directory $TZ_OPENAMP_DIR, default /tmp/oa).
 * A driver that cannot run here (no gcc, no native addon, no build, a failure) gives a skipped row, never a crash.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ExternalResult, SkippedResult } from '../types.js';

export interface ExternalOptions {
  readonly quick: boolean;
  readonly scale: number;
  readonly log?: (line: string) => void;
}

function skipped(experiment: 'process' | 'openamp', e: unknown, contender?: string): SkippedResult {
  return { experiment, ...(contender !== undefined ? { contender } : {}), skipped: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
}

export async function runProcessRows(o: ExternalOptions): Promise<(ExternalResult | SkippedResult)[]> {
  let mod: typeof import('../../hypervisor/process/index.js');
  try {
    mod = await import('../../hypervisor/process/index.js');
  } catch (e) {
    return [skipped('process', e)];
  }
  try {
    const messages = Math.max(50, Math.round(2000 * o.scale));
    const { exampleModule } = await import('../../../examples/scenarios.js');
    const rows = await mod.runIsolationBench({
      messages,
      secureModule: exampleModule('secure-signer.js'),
      nonsecureModule: exampleModule('nonsecure-client.js'),
      ...(o.log ? { log: o.log } : {}),
    });
    return rows.map((r) => ({
      experiment: 'process',
      kind: r.experiment,
      contender: r.contender,
      setting: `${r.cores} core${r.cores === 1 ? '' : 's'}, window ${r.window}`,
      messages: r.messages,
      meanUs: r.meanUs,
      ...(r.p50Us !== undefined ? { p50Us: r.p50Us } : {}),
      ...(r.p99Us !== undefined ? { p99Us: r.p99Us } : {}),
      msgPerSec: r.msgPerSec,
    }));
  } catch (e) {
    return [skipped('process', e)];
  }
}

/** Real OpenAMP binaries from a local build (docs/openamp-interop.md), when all are there. */
function openAmpBuild(dir: string): { echo: string; pingBench?: string; preload: string; libraryPath: string } | undefined {
  const echo = join(dir, 'target/bin/rpmsg-echo-shared');
  const preload = join(dir, 'shim.so');
  const libraryPath = join(dir, 'target/lib');
  if (!existsSync(echo) || !existsSync(preload) || !existsSync(libraryPath)) return undefined;
  const pingBench = join(dir, 'bench/ping-bench-shared');
  return { echo, preload, libraryPath, ...(existsSync(pingBench) ? { pingBench } : {}) };
}

export async function runOpenAmpRows(o: ExternalOptions): Promise<(ExternalResult | SkippedResult)[]> {
  const out: (ExternalResult | SkippedResult)[] = [];
  if (spawnSync('gcc', ['--version'], { encoding: 'utf8' }).status !== 0) out.push({ experiment: 'openamp', contender: 'peer-c', skipped: 'gcc not found: the C peer rows are left out' });
  const dir = process.env['TZ_OPENAMP_DIR'] ?? '/tmp/oa';
  const build = openAmpBuild(dir);
  if (build === undefined) out.push({ experiment: 'openamp', contender: 'openamp-c', skipped: `no local OpenAMP build in ${dir} (docs/openamp-interop.md): its rows are left out` });
  let mod: typeof import('../../openamp/bench.js');
  try {
    mod = await import('../../openamp/bench.js');
  } catch (e) {
    return [...out, skipped('openamp', e)];
  }
  try {
    const rows = await mod.runOpenAmpBench({
      payloads: o.quick ? [16] : [16, 496],
      // 20000 messages per throughput cell and 5000 round trips per rtt cell (1000 were too few: a fresh process's
      // first thousand messages are a JIT warm-up), 3 interleaved rounds, the median reported
      iterations: Math.max(100, Math.round((o.quick ? 5000 : 20_000) * o.scale)),
      rttIterations: Math.max(100, Math.round((o.quick ? 1000 : 5000) * o.scale)),
      repeats: o.quick ? 1 : 3,
      ...(build !== undefined ? { openamp: build } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
    for (const r of rows) {
      out.push({ experiment: 'openamp', kind: r.experiment, contender: r.contender, setting: `${r.payload} B${r.experiment === 'throughput' ? ', window 64' : ''}`, messages: r.iterations, meanUs: r.meanUs, ...(r.p50Us !== undefined ? { p50Us: r.p50Us } : {}), ...(r.p99Us !== undefined ? { p99Us: r.p99Us } : {}), msgPerSec: r.msgPerSec, minUs: r.minUs, maxUs: r.maxUs });
    }
  } catch (e) {
    out.push(skipped('openamp', e));
  }
  return out;
}
