/**
 * `tz-virtio bench`: tz-virtio against its peers in one run (throughput, rtt, secure-task jitter, heap), a table on
 * the terminal, a progress bar while it runs, --json for one {env, results} object, charts (SVG + PNG) and
 * results.json in --out. `--micro` runs the micro benchmarks instead.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { buildTables, defaultOptions, renderText, runBench, waitForQuiet, writeOutputs, BenchError, EXPERIMENTS, WAIT_POLICIES, reportJson, type BenchOptions, type ExperimentName, type WaitPolicy } from '../../bench/index.js';
import { ProgressBar } from '../../bench/report/progress.js';
import { CliError, parseNumberArg } from '../errors.js';

interface Opts {
  quick?: boolean;
  json?: boolean;
  out?: string;
  only?: string;
  sizes?: string;
  rounds?: string;
  window?: string;
  policy?: string;
  contenders?: string;
  seed?: string;
  micro?: boolean;
  charts?: boolean;
  progress?: boolean;
  scale?: string;
  waitQuiet?: string;
}

/** Parses "64,4k,16KiB,1M" into bytes. */
export function parseSizes(text: string): number[] {
  return text.split(',').map((raw) => {
    const t = raw.trim();
    const m = /^([0-9]+)\s*(k|kib|m|mib|b)?$/i.exec(t);
    if (!m) throw new CliError(`--sizes: '${t}' is not a size (e.g. 64, 4k, 64KiB, 1M)`);
    const unit = (m[2] ?? 'b').toLowerCase();
    return Number(m[1]) * (unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 2 ** 20 : 1);
  });
}

export function optionsFrom(o: Opts): BenchOptions {
  const over: { -readonly [K in keyof BenchOptions]?: BenchOptions[K] } = {};
  if (o.only !== undefined) over.only = o.only.split(',').map((s) => s.trim()) as ExperimentName[];
  if (o.micro) over.only = [...new Set([...(o.only !== undefined ? over.only! : []), 'micro' as const])];
  if (o.sizes !== undefined) over.sizes = parseSizes(o.sizes);
  if (o.rounds !== undefined) over.rounds = parseNumberArg('--rounds', o.rounds);
  if (o.window !== undefined) over.window = parseNumberArg('--window', o.window);
  if (o.policy !== undefined) over.policy = o.policy as WaitPolicy;
  if (o.contenders !== undefined) over.contenders = o.contenders.split(',').map((s) => s.trim());
  if (o.seed !== undefined) over.seed = parseNumberArg('--seed', o.seed);
  if (o.scale !== undefined) {
    over.scale = Number(o.scale);
    if (!(over.scale > 0)) throw new CliError(`--scale: '${o.scale}' must be a positive number`);
  }
  try {
    return defaultOptions(o.quick === true, over);
  } catch (e) {
    if (e instanceof BenchError) throw new CliError(e.message);
    throw e;
  }
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmark tz-virtio (virtqueue, RPMsg) against postMessage, ringbuf.js, the Atomics floor and memcpy')
    .option('--quick', 'short run (about a minute on 2 cores)')
    .option('--json', 'print one JSON object {env, results} on stdout instead of tables')
    .option('--out <dir>', 'write results.json and charts (SVG, PNG) here', 'bench-out')
    .option('--only <list>', `experiments: ${EXPERIMENTS.join(',')}`)
    .option('--sizes <list>', 'throughput message sizes, e.g. 64,4k,64k')
    .option('--rounds <n>', 'rounds per configuration (fresh workers each)')
    .option('--window <n>', 'flow-control window (messages in flight), same for every contender')
    .option('--policy <p>', `throughput wait policy: ${WAIT_POLICIES.join(', ')}`)
    .option('--contenders <list>', 'contenders to run (default: all)')
    .option('--seed <n>', 'seed of the shuffled trial order')
    .option('--scale <x>', 'scale the messages per trial (e.g. 0.1)')
    .option('--wait-quiet <seconds>', 'first wait (up to this long) until the machine is idle (< 15% CPU busy)')
    .option('--micro', 'run the micro benchmarks (src/bench/micro)')
    .option('--no-charts', 'do not write charts')
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', '\nExamples:\n  npx tz-virtio bench --quick\n  npx tz-virtio bench --only throughput --sizes 64,4k --json')
    .action(async (o: Opts) => {
      const opts = optionsFrom(o);
      let quiet: { busy: number | undefined; waitedMs: number } | undefined;
      if (o.waitQuiet !== undefined) {
        const s = parseNumberArg('--wait-quiet', o.waitQuiet);
        quiet = await waitForQuiet(s * 1000, 0.15, (busy) => {
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
      const dir = resolve(o.out ?? 'bench-out');
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
