/**
 * `tz-virtio fuzz`: drives the secure-side virtqueue devices (split and packed) with a hostile driver and prints
 * what was found.
 *
 *   tz-virtio fuzz [--iterations N] [--seed S] [--target split,packed] [--steps K] [--workers W] [--json]
 *   tz-virtio fuzz --seed S --target T --replay I          replay one iteration in-process (for debugging)
 *   tz-virtio fuzz --concurrent [SECONDS] [--seed S]        a scribbler thread rewrites the ring while the device reads
 *
 * Runs in worker threads under a watchdog (a device call that never returns is reported as a hang with its
 * replay command). Exit code 0 when there were no crashes, hangs or oracle violations, 1 otherwise.
 */
import type { Command } from 'commander';
import { CliError, parseNumberArg } from '../errors.js';
import { FUZZ_TARGETS, runFuzz } from '../../fuzz/run.js';
import { formatReport, isClean, type FuzzReport } from '../../fuzz/report.js';
import { runWatchedFuzz } from '../../fuzz/watchdog.js';

interface FuzzOptions {
  iterations: string;
  seed: string;
  target?: string;
  steps: string;
  workers: string;
  replay?: string;
  concurrent?: string | boolean;
  hangTimeout: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('fuzz')
    .description('fuzz the secure-side virtqueue devices (split, packed) with a hostile non-secure driver')
    .option('--iterations <n>', 'fuzz cases (each a fresh queue driven for --steps steps)', '2000')
    .option('--seed <s>', 'seed (decimal or 0x hex); every case is reproducible from it', '1')
    .option('--target <list>', `comma-separated targets (${Object.keys(FUZZ_TARGETS).filter((t) => !t.startsWith('selftest')).join(', ')})`)
    .option('--steps <k>', 'hostile-driver and device steps per case', '200')
    .option('--workers <w>', 'worker threads', '1')
    .option('--replay <i>', 'run only case i, in this process, and print its findings')
    .option('--concurrent [seconds]', 'rewrite the ring from another thread while the device reads it, for this long per target (default 5)')
    .option('--hang-timeout <ms>', 'a worker whose device calls stall this long is reported as hung', '10000')
    .option('--json', 'print the report as JSON')
    .action(async (o: FuzzOptions) => {
      const seed = parseNumberArg('--seed', o.seed) >>> 0;
      const iterations = parseNumberArg('--iterations', o.iterations);
      const steps = parseNumberArg('--steps', o.steps);
      const workers = parseNumberArg('--workers', o.workers);
      const hangTimeoutMs = parseNumberArg('--hang-timeout', o.hangTimeout);
      if (steps < 1) throw new CliError('fuzz: --steps must be at least 1');
      if (workers < 1 || workers > 64) throw new CliError('fuzz: --workers must be in 1..64');
      const targets = o.target === undefined ? undefined : o.target.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
      for (const t of targets ?? []) {
        if (FUZZ_TARGETS[t] === undefined) throw new CliError(`fuzz: unknown target '${t}' (known: ${Object.keys(FUZZ_TARGETS).join(', ')})`);
      }
      let report: FuzzReport;
      if (o.replay !== undefined) {
        report = runFuzz({ seed, iterations: 1, replay: parseNumberArg('--replay', o.replay), targets, steps });
      } else {
        if (o.concurrent !== undefined && targets !== undefined && !targets.some((t) => t === 'split' || t === 'packed')) {
          throw new CliError('fuzz: --concurrent runs the split and packed targets only');
        }
        const concurrentMs = o.concurrent === undefined ? undefined : 1000 * (typeof o.concurrent === 'string' ? parseNumberArg('--concurrent', o.concurrent) : 5);
        const tty = process.stderr.isTTY && o.json !== true;
        report = await runWatchedFuzz({
          seed,
          iterations,
          targets,
          steps,
          workers,
          hangTimeoutMs,
          concurrentMs,
          onProgress: tty ? (r) => process.stderr.write(`\r  ${r.iterations} cases, ${r.states} states ...`) : undefined,
        });
        if (tty) process.stderr.write('\n');
      }
      process.stdout.write(o.json === true ? JSON.stringify(report, null, 2) + '\n' : formatReport(report) + '\n');
      process.exitCode = isClean(report) ? 0 : 1;
    });
}
