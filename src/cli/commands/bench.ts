/**
 * `tz-virtio bench`: tz-virtio against its peers in one run (throughput, rtt, secure-task jitter, heap), a table on
 * the terminal, a progress bar while it runs, --json for one {env, results} object, charts (SVG + PNG) and
 * results.json in --out. `--micro` runs the micro benchmarks instead.
 */
import type { Command } from 'commander';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildTables, defaultOptions, renderText, runBench, waitForQuiet, writeOutputs, BenchError, CONTENDER_NAMES, EXPERIMENTS, WAIT_POLICIES, reportJson, type BenchOptions, type ExperimentName, type WaitPolicy } from '../../bench/index.js';
import { ProgressBar } from '../../bench/report/progress.js';
import { DEFAULT_WAIT_POLICY } from '../../sync/policy.js';
import { CliError } from '../errors.js';
import { choiceListOption, choiceOption, intOption, positiveNumberOption } from '../options.js';

/** The options as commander hands them over, each already checked by its parser. */
interface Opts {
  quick?: boolean;
  json?: boolean;
  out?: string;
  only?: ExperimentName[];
  sizes?: number[];
  rounds?: number;
  window?: number;
  policy?: WaitPolicy;
  contenders?: string[];
  seed?: number;
  micro?: boolean;
  charts?: boolean;
  progress?: boolean;
  scale?: number;
  waitQuiet?: number;
}

/** Largest throughput message: 64 MiB. */
export const MAX_BENCH_SIZE = 64 * 2 ** 20;
/** Rounds per configuration: 1..100. */
export const MAX_ROUNDS = 100;
/** Messages in flight: 1..4096. */
export const MAX_WINDOW = 4096;
/** Largest --scale (a full run is already minutes long at 1). */
export const MAX_SCALE = 100;
/** Longest --wait-quiet, seconds. */
export const MAX_WAIT_QUIET_S = 3600;

/** Parses "64,4k,16KiB,1M" into bytes; each size a multiple of 4 in 8 B..64 MiB. */
export function parseSizes(text: string): number[] {
  return text.split(',').map((raw) => {
    const t = raw.trim();
    const m = /^([0-9]+)\s*(k|kib|m|mib|b)?$/i.exec(t);
    if (!m) throw new CliError(`--sizes: '${t}' is not a size (e.g. 64, 4k, 64KiB, 1M)`);
    const unit = (m[2] ?? 'b').toLowerCase();
    const bytes = Number(m[1]) * (unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 2 ** 20 : 1);
    if (!(Number.isSafeInteger(bytes) && bytes >= 8 && bytes <= MAX_BENCH_SIZE && bytes % 4 === 0)) {
      throw new CliError(`--sizes: '${t}' must be a multiple of 4 bytes in 8..64 MiB`);
    }
    return bytes;
  });
}

export function optionsFrom(o: Opts): BenchOptions {
  const over: { -readonly [K in keyof BenchOptions]?: BenchOptions[K] } = {};
  if (o.only !== undefined) over.only = o.only;
  if (o.micro) over.only = [...new Set([...(o.only ?? []), 'micro' as const])];
  if (o.sizes !== undefined) over.sizes = o.sizes;
  if (o.rounds !== undefined) over.rounds = o.rounds;
  if (o.window !== undefined) over.window = o.window;
  if (o.policy !== undefined) over.policy = o.policy;
  if (o.contenders !== undefined) over.contenders = o.contenders;
  if (o.seed !== undefined) over.seed = o.seed;
  if (o.scale !== undefined) over.scale = o.scale;
  try {
    return defaultOptions(o.quick === true, over);
  } catch (e) {
    // the parsers checked each option; what is left is the bench's own rule on their combination
    if (e instanceof BenchError) throw new CliError(`bench: ${e.message}`);
    throw e;
  }
}

/** Makes sure --out can be written before minutes of benchmarking, not after (the report would be lost). */
export function checkOutDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CliError(`--out: '${dir}' must be a writable directory (${err.code ?? err.message})`);
  }
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmark tz-virtio (virtqueue, RPMsg) against postMessage, ringbuf.js, the Atomics floor and memcpy')
    .option('--quick', 'short run (about a minute on 2 cores)')
    .option('--json', 'print one JSON object {env, results} on stdout instead of tables')
    .option('--out <dir>', 'write results.json and charts (SVG, PNG) here', 'bench-out')
    .option('--only <list>', `experiments: ${EXPERIMENTS.join(',')}`, choiceListOption('--only', EXPERIMENTS))
    .option('--sizes <list>', 'throughput message sizes, multiples of 4 in 8..64 MiB, e.g. 64,4k,64k', parseSizes)
    .option('--rounds <n>', `rounds per configuration (fresh workers each), 1..${MAX_ROUNDS} (default: 3, --quick 2)`, intOption('--rounds', { min: 1, max: MAX_ROUNDS }))
    .option('--window <n>', 'flow-control window (messages in flight), same for every contender', intOption('--window', { min: 1, max: MAX_WINDOW }), 64)
    .option('--policy <p>', `throughput wait policy: ${WAIT_POLICIES.join(', ')}`, choiceOption('--policy', WAIT_POLICIES), DEFAULT_WAIT_POLICY)
    .option('--contenders <list>', `contenders to run: ${CONTENDER_NAMES.join(',')} (default: all)`, choiceListOption('--contenders', CONTENDER_NAMES))
    .option('--seed <n>', 'seed of the shuffled trial order, 0..4294967295 (default: from the clock)', intOption('--seed', { min: 0, max: 0xffff_ffff }))
    .option('--scale <x>', `scale the messages per trial (e.g. 0.1), up to ${MAX_SCALE}`, positiveNumberOption('--scale', MAX_SCALE), 1)
    .option('--wait-quiet <seconds>', `first wait (up to this long, 0..${MAX_WAIT_QUIET_S}) until the machine is idle (< 15% CPU busy)`, intOption('--wait-quiet', { min: 0, max: MAX_WAIT_QUIET_S }))
    .option('--micro', 'run the micro benchmarks (src/bench/micro)')
    .option('--no-charts', 'do not write charts')
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', '\nExamples:\n  npx tz-virtio bench --quick\n  npx tz-virtio bench --only throughput --sizes 64,4k --json')
    .action(async (o: Opts) => {
      const opts = optionsFrom(o);
      const dir = resolve(o.out ?? 'bench-out');
      checkOutDir(dir);
      let quiet: { busy: number | undefined; waitedMs: number } | undefined;
      if (o.waitQuiet !== undefined) {
        quiet = await waitForQuiet(o.waitQuiet * 1000, 0.15, (busy) => {
          if (process.stderr.isTTY && o.progress !== false) process.stderr.write(`\rwaiting for a quiet machine (${(busy * 100).toFixed(0)}% busy)...`);
        });
        if (process.stderr.isTTY && o.progress !== false) process.stderr.write('\r\x1b[K');
      }
      const bar = new ProgressBar(0, process.stderr, o.progress !== false);
      const report = await runBench(opts, {
        progress(done, total, label) {
          bar.total = total;
          bar.update(done, label);
        },
      });
      bar.done();
      if (quiet) report.env.quietCheck = quiet;
      const command = ['tz-virtio', ...process.argv.slice(2)].join(' ');
      const files = writeOutputs(report, dir, { charts: o.charts !== false, command });
      if (o.json) {
        process.stdout.write(reportJson(report) + '\n');
        return;
      }
      const e = report.env;
      process.stdout.write(`tz-virtio bench: Node ${e.node}, ${e.cpu}, ${e.cores} cores, load ${e.loadAvg.join(' -> ')}${opts.quick ? ' (quick)' : ''}\n\n`);
      process.stdout.write(renderText(buildTables(report)) + '\n\n');
      process.stdout.write(`wrote ${files.length} files to ${dir}\n`);
    });
}
