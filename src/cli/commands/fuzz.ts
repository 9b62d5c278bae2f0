/**
 * `tz-virtio fuzz`: drives the secure-side virtqueue devices (split and packed) with a hostile driver and prints
 * what was found.
 *
 *   tz-virtio fuzz [--iterations N] [--seed S] [--target split,packed] [--steps K] [--workers W] [--json]
 *   tz-virtio fuzz --seed S --target T --replay I          replay one iteration (under the watchdog too)
 *   tz-virtio fuzz --concurrent [SECONDS] [--seed S]        a scribbler thread rewrites the ring while the device reads
 *
 * Everything runs in worker threads under a watchdog (a device call that never returns is reported as a hang with
 * its replay command, and the command still ends). Exit code 0 when there were no crashes, hangs or oracle
 * violations, 1 otherwise.
 */
import { Option, type Command } from 'commander';
import { CliError } from '../errors.js';
import { intArg, intOption } from '../options.js';
import { FUZZ_TARGETS } from '../../fuzz/run.js';
import { formatReport, isClean, type FuzzReport } from '../../fuzz/report.js';
import { MIN_HANG_TIMEOUT_MS, runWatchedFuzz } from '../../fuzz/watchdog.js';
import { setActivity } from '../signals.js';

interface FuzzOptions {
  iterations: number;
  seed: number;
  target?: string;
  steps: number;
  workers: number;
  replay?: number;
  concurrent?: string | boolean;
  hangTimeoutMs: number;
  /** The old spelling of --hang-timeout-ms (hidden). */
  hangTimeout?: number;
  json?: boolean;
}

const HANG_RULE = { min: MIN_HANG_TIMEOUT_MS, max: 3_600_000 } as const;

export function register(program: Command): void {
  program
    .command('fuzz')
    .description('fuzz the secure-side virtqueue devices (split, packed) with a hostile non-secure driver')
    .option('--iterations <n>', 'fuzz cases (each a fresh queue driven for --steps steps)', intOption('--iterations', { min: 1, max: 1e9 }), 2000)
    .option('--seed <s>', 'seed (decimal or 0x hex); every case is reproducible from it', intOption('--seed', { min: 0, max: 0xffff_ffff }), 1)
    .option('--target <list>', `comma-separated targets (${Object.keys(FUZZ_TARGETS).filter((t) => !t.startsWith('selftest')).join(', ')})`)
    .option('--steps <k>', 'hostile-driver and device steps per case', intOption('--steps', { min: 1, max: 1e6 }), 200)
    .option('--workers <w>', 'worker threads', intOption('--workers', { min: 1, max: 64 }), 1)
    .option('--replay <i>', 'run only case i and print its findings', intOption('--replay', { min: 0 }))
    .option('--concurrent [seconds]', 'rewrite the ring from another thread while the device reads it, for this long per target (default 5)')
    .option('--hang-timeout-ms <ms>', 'a worker whose device calls stall this long is reported as hung', intOption('--hang-timeout-ms', HANG_RULE), 10000)
    .addOption(new Option('--hang-timeout <ms>').hideHelp().argParser(intOption('--hang-timeout', HANG_RULE)))
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExamples:\n  npx tz-virtio fuzz --iterations 500 --target split,packed\n  npx tz-virtio fuzz --seed 5 --target rpmsg --replay 17     replay one printed case')
    .action(async (o: FuzzOptions) => {
      const seed = o.seed >>> 0;
      const hangTimeoutMs = o.hangTimeout ?? o.hangTimeoutMs;
      const targets = o.target === undefined ? undefined : o.target.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
      for (const t of targets ?? []) {
        if (FUZZ_TARGETS[t] === undefined) throw new CliError(`fuzz: --target: unknown target '${t}' (known: ${Object.keys(FUZZ_TARGETS).join(', ')})`);
      }
      if (o.concurrent !== undefined && o.replay !== undefined) throw new CliError('fuzz: --concurrent and --replay exclude each other');
      if (o.concurrent !== undefined && targets !== undefined && !targets.some((t) => t === 'split' || t === 'packed')) {
        throw new CliError('fuzz: --concurrent runs the split and packed targets only');
      }
      const concurrentMs = o.concurrent === undefined ? undefined : 1000 * (typeof o.concurrent === 'string' ? intArg('--concurrent', o.concurrent, { min: 1, max: 86_400 }) : 5);
      const tty = process.stderr.isTTY && o.json !== true && o.replay === undefined;
      setActivity(o.replay !== undefined ? `replaying fuzz case ${o.replay}` : 'fuzzing');
      const report: FuzzReport = await runWatchedFuzz({
        seed,
        iterations: o.replay !== undefined ? 1 : o.iterations,
        ...(o.replay !== undefined ? { from: o.replay } : {}),
        targets,
        steps: o.steps,
        workers: o.replay !== undefined ? 1 : o.workers,
        hangTimeoutMs,
        concurrentMs,
        onProgress: tty ? (r) => process.stderr.write(`\r  ${r.iterations} cases, ${r.states} states ...`) : undefined,
      });
      if (tty) process.stderr.write('\n');
      process.stdout.write(o.json === true ? JSON.stringify(report, null, 2) + '\n' : formatReport(report) + '\n');
      process.exitCode = isClean(report) ? 0 : 1;
    });
}
