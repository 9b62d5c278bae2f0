/**
 * `tz-virtio soak`: a long stream of checked messages through the whole machine (hypervisor model, both partitions),
 * non-secure sender -> secure receiver over RPMsg, in one or both core modes.
 *
 *   tz-virtio soak --messages N [--cores 1|2|both] [--window W] [--seed S] [--max-body B] [--json]
 *   tz-virtio soak --messages N --pause-at K --pause-ms T [--stall-timeout-ms T2]     backpressure: the receiver stops reading
 *
 *   tz-virtio soak --reboot [--crashes K] --messages N     kill the non-secure partition mid-stream K times and reboot it
 *
 * Prints lost / duplicated / corrupted (all must be 0) and memory at start and end. Exit code 0 when every run is OK.
 */
import type { Command } from 'commander';
import { CliError, parseNumberArg } from '../errors.js';
import { formatSoak, runSoak, type SoakResult } from '../../soak/run.js';
import { formatReboot, runReboot } from '../../soak/reboot.js';

interface SoakCliOptions {
  messages: string;
  cores: string;
  window: string;
  seed: string;
  minBody: string;
  maxBody?: string;
  ackEvery: string;
  pauseAt?: string;
  pauseMs: string;
  stallTimeoutMs: string;
  json?: boolean;
  reboot?: boolean;
  crashes: string;
}

export function register(program: Command): void {
  program
    .command('soak')
    .description('stream checked messages (sequence number + CRC-32, random sizes) non-secure -> secure and count lost/duplicated/corrupted')
    .option('--messages <n>', 'messages to send', '100000')
    .option('--cores <c>', '1, 2 or both', 'both')
    .option('--window <w>', 'unacknowledged messages in flight', '64')
    .option('--seed <s>', 'seed for sizes and contents', '1')
    .option('--min-body <b>', 'smallest body (bytes after the 12-byte frame header)', '0')
    .option('--max-body <b>', 'largest body (default: what a buffer holds)')
    .option('--ack-every <k>', 'receiver acknowledges every k messages', '16')
    .option('--pause-at <k>', 'backpressure: the receiver stops reading after k messages ...')
    .option('--pause-ms <t>', '... for t ms', '500')
    .option('--stall-timeout-ms <t>', 'the sender gives up after t ms without an acknowledgement', '10000')
    .option('--reboot', 'crash the non-secure partition mid-stream and reboot it (two workers running the RPMsg roles)')
    .option('--crashes <k>', 'with --reboot: how many crashes', '1')
    .option('--json', 'print the results as JSON')
    .action(async (o: SoakCliOptions) => {
      const messages = parseNumberArg('--messages', o.messages);
      if (messages < 1) throw new CliError('soak: --messages must be at least 1');
      if (o.reboot === true) {
        const crashes = parseNumberArg('--crashes', o.crashes);
        if (crashes < 1 || crashes > 1000) throw new CliError('soak: --crashes must be in 1..1000');
        const r = await runReboot({ messages, crashes, seed: parseNumberArg('--seed', o.seed) });
        process.stdout.write(o.json === true ? JSON.stringify(r, null, 2) + '\n' : formatReboot(r) + '\n');
        process.exitCode = r.ok ? 0 : 1;
        return;
      }
      const modes: (1 | 2)[] = o.cores === 'both' ? [1, 2] : o.cores === '1' ? [1] : o.cores === '2' ? [2] : [];
      if (modes.length === 0) throw new CliError(`soak: --cores must be 1, 2 or both, not '${o.cores}'`);
      const results: SoakResult[] = [];
      for (const cores of modes) {
        const r = await runSoak({
          messages,
          cores,
          window: parseNumberArg('--window', o.window),
          seed: parseNumberArg('--seed', o.seed),
          minBody: parseNumberArg('--min-body', o.minBody),
          ...(o.maxBody !== undefined ? { maxBody: parseNumberArg('--max-body', o.maxBody) } : {}),
          ackEvery: parseNumberArg('--ack-every', o.ackEvery),
          ...(o.pauseAt !== undefined ? { pauseAtMessage: parseNumberArg('--pause-at', o.pauseAt), pauseMs: parseNumberArg('--pause-ms', o.pauseMs) } : {}),
          stallTimeoutMs: parseNumberArg('--stall-timeout-ms', o.stallTimeoutMs),
        });
        results.push(r);
        if (o.json !== true) process.stdout.write(formatSoak(r) + '\n');
      }
      if (o.json === true) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      process.exitCode = results.every((r) => r.ok) ? 0 : 1;
    });
}
