/**
 * `tz-virtio soak`: a long stream of checked messages through the whole machine (hypervisor model, both partitions),
 * non-secure sender -> secure receiver over RPMsg, in one or both core modes.
 *
 *   tz-virtio soak --messages N [--cores 1|2|both] [--window W] [--seed S] [--max-body B] [--json]
 *   tz-virtio soak --messages N --pause-at K --pause-ms T [--stall-timeout-ms T2]     backpressure: the receiver stops reading
 *
 *   tz-virtio soak --reboot [--crashes K] --messages N     kill the non-secure partition mid-stream K times and reboot it
 *
 * Every option is checked against its rule before anything starts. Prints lost / duplicated / corrupted (all must be
 * 0) and memory at start and end. Exit code 0 when every run is OK.
 */
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { choiceOption, intOption } from '../options.js';
import { setActivity } from '../signals.js';
import { formatSoak, runSoak, type SoakResult } from '../../soak/run.js';
import { formatReboot, runReboot } from '../../soak/reboot.js';
import { FRAME_HEADER } from '../../soak/frame.js';
import { DEFAULT_BUFFER_SIZE, RPMSG_HEADER_SIZE } from '../../rpmsg/constants.js';

/** The largest body a default RPMsg buffer holds: 512 - 16 (RPMsg header) - 12 (frame header) = 484 bytes. */
export const SOAK_MAX_BODY = DEFAULT_BUFFER_SIZE - RPMSG_HEADER_SIZE - FRAME_HEADER;

interface SoakCliOptions {
  messages: number;
  cores: '1' | '2' | 'both';
  window: number;
  seed: number;
  minBody: number;
  maxBody?: number;
  ackEvery: number;
  pauseAt?: number;
  pauseMs: number;
  stallTimeoutMs: number;
  json?: boolean;
  reboot?: boolean;
  crashes: number;
}

/** Options that apply to the machine soak only (not to --reboot), as [attribute, flag]. */
const MACHINE_ONLY: [keyof SoakCliOptions, string][] = [
  ['cores', '--cores'],
  ['minBody', '--min-body'],
  ['maxBody', '--max-body'],
  ['ackEvery', '--ack-every'],
  ['pauseAt', '--pause-at'],
  ['pauseMs', '--pause-ms'],
  ['window', '--window'],
];

/** Checks the options together (each one alone was checked by its parser); throws CliError naming the rule. */
export function checkSoakOptions(o: SoakCliOptions, given: (key: string) => boolean): void {
  if (o.reboot === true) {
    for (const [k, flag] of MACHINE_ONLY) if (given(k)) throw new CliError(`soak: ${flag} does not apply to --reboot (it runs the two RPMsg roles on their own workers)`);
    if (o.crashes >= o.messages) throw new CliError(`soak: --crashes ${o.crashes} must be below --messages ${o.messages} (each crash needs a message acknowledged before it)`);
    return;
  }
  if (given('crashes')) throw new CliError('soak: --crashes needs --reboot');
  const maxBody = o.maxBody ?? SOAK_MAX_BODY;
  if (o.minBody > maxBody) throw new CliError(`soak: --min-body ${o.minBody} must not exceed --max-body ${maxBody}`);
  if (o.pauseAt === undefined && given('pauseMs')) throw new CliError('soak: --pause-ms needs --pause-at');
  if (o.pauseAt !== undefined && o.pauseAt > o.messages) throw new CliError(`soak: --pause-at ${o.pauseAt} must not exceed --messages ${o.messages} (the receiver would never pause)`);
}

export function register(program: Command): void {
  program
    .command('soak')
    .description('stream checked messages (sequence number + CRC-32, random sizes) non-secure -> secure and count lost/duplicated/corrupted')
    .option('--messages <n>', 'messages to send', intOption('--messages', { min: 1, max: 1e9 }), 100000)
    .option('--cores <c>', '1, 2 or both', choiceOption('--cores', ['1', '2', 'both'] as const), 'both' as const)
    .option('--window <w>', 'unacknowledged messages in flight', intOption('--window', { min: 1, max: 1 << 16 }), 64)
    .option('--seed <s>', 'seed for sizes and contents', intOption('--seed', { min: 0, max: 0xffff_ffff }), 1)
    .option('--min-body <bytes>', 'smallest body (bytes after the 12-byte frame header)', intOption('--min-body', { min: 0, max: SOAK_MAX_BODY }), 0)
    .option('--max-body <bytes>', `largest body (default: what a buffer holds, ${SOAK_MAX_BODY})`, intOption('--max-body', { min: 0, max: SOAK_MAX_BODY }))
    .option('--ack-every <k>', 'receiver acknowledges every k messages', intOption('--ack-every', { min: 1, max: 1 << 16 }), 16)
    .option('--pause-at <k>', 'backpressure: the receiver stops reading after k messages ...', intOption('--pause-at', { min: 1, max: 1e9 }))
    .option('--pause-ms <ms>', '... for this long', intOption('--pause-ms', { min: 0, max: 3_600_000 }), 500)
    .option('--stall-timeout-ms <ms>', 'the sender gives up after this long without an acknowledgement', intOption('--stall-timeout-ms', { min: 1, max: 3_600_000 }), 10000)
    .option('--reboot', 'crash the non-secure partition mid-stream and reboot it (two workers running the RPMsg roles)')
    .option('--crashes <k>', 'with --reboot: how many crashes', intOption('--crashes', { min: 1, max: 1000 }), 1)
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  npx tz-virtio soak --messages 20000 --cores both\n  npx tz-virtio soak --messages 3000 --cores 1 --pause-at 1000 --pause-ms 3000 --stall-timeout-ms 500\n  npx tz-virtio soak --reboot --crashes 5 --messages 20000',
    )
    .action(async (o: SoakCliOptions, cmd: Command) => {
      checkSoakOptions(o, (k) => cmd.getOptionValueSource(k) === 'cli');
      const messages = o.messages;
      if (o.reboot === true) {
        setActivity(`running the crash-and-reboot soak (${o.crashes} crash${o.crashes === 1 ? '' : 'es'}, ${messages} messages)`);
        const progress = o.json !== true;
        const r = await runReboot({
          messages,
          crashes: o.crashes,
          seed: o.seed,
          stallTimeoutMs: Math.max(15_000, o.stallTimeoutMs),
          ...(progress
            ? { onProgress: (p) => void process.stderr.write(`  boot ${p.boot}: ${p.event === 'resumed' ? `resumed at ${p.acked}` : `crash ${p.boot + 1}/${p.crashes} with ${p.acked} acknowledged`}\n`) }
            : {}),
        });
        process.stdout.write(o.json === true ? JSON.stringify(r, null, 2) + '\n' : formatReboot(r) + '\n');
        process.exitCode = r.ok ? 0 : 1;
        return;
      }
      const modes: (1 | 2)[] = o.cores === 'both' ? [1, 2] : o.cores === '1' ? [1] : [2];
      const results: SoakResult[] = [];
      for (const cores of modes) {
        setActivity(`soaking ${messages} messages on ${cores} core${cores === 1 ? '' : 's'}`);
        const r = await runSoak({
          messages,
          cores,
          window: o.window,
          seed: o.seed,
          minBody: o.minBody,
          ...(o.maxBody !== undefined ? { maxBody: o.maxBody } : {}),
          ackEvery: o.ackEvery,
          ...(o.pauseAt !== undefined ? { pauseAtMessage: o.pauseAt, pauseMs: o.pauseMs } : {}),
          stallTimeoutMs: o.stallTimeoutMs,
        });
        results.push(r);
        if (o.json !== true) process.stdout.write(formatSoak(r) + '\n');
      }
      if (o.json === true) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      process.exitCode = results.every((r) => r.ok) ? 0 : 1;
    });
}
