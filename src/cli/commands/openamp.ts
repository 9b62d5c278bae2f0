/**
 * `tz-virtio openamp remote|host`: interoperate with OpenAMP's Linux-process RPMsg demos (rpmsg-echo remote,
 * rpmsg-echo-ping host) over OpenAMP's generic Linux machine layout: /dev/shm/openamp.shm + /tmp/openamp.event.0.
 */
import type { Command } from 'commander';
import { CliError, parseNumberArg } from '../errors.js';
import { DEFAULT_SPIN_US, OpenAmpSession } from '../../openamp/session.js';
import { runEchoRemote } from '../../openamp/echo.js';
import { runPingHost } from '../../openamp/ping.js';
import type { WaitPolicy } from '../../sync/policy.js';
import { OPENAMP_ECHO_SERVICE, OPENAMP_SHM_PATH, OPENAMP_SHM_SIZE, OPENAMP_SOCKET_PATH } from '../../openamp/layout.js';

interface Opts {
  shm: string;
  shmSize: string;
  socket: string;
  server?: boolean;
  client?: boolean;
  service: string;
  count?: string;
  timeout: string;
  kicks?: string;
  spinUs?: string;
  waitPolicy?: string;
  futex?: boolean;
  warmup?: string;
  stats?: boolean;
  quiet?: boolean;
}

function common(cmd: Command): Command {
  return cmd
    .option('--shm <path>', 'shared file (OpenAMP: shm_open("openamp.shm"))', OPENAMP_SHM_PATH)
    .option('--shm-size <bytes>', 'shared file size', '0x' + OPENAMP_SHM_SIZE.toString(16))
    .option('--socket <path>', 'kick socket (AF_UNIX stream, one byte per kick)', OPENAMP_SOCKET_PATH)
    .option('--server', 'be the socket server (and write the resource table)')
    .option('--client', 'be the socket client')
    .option('--service <name>', 'RPMsg service (endpoint) name', OPENAMP_ECHO_SERVICE)
    .option('--timeout <ms>', 'wait for the peer this long', '15000')
    .option('--kicks <path>', 'kick path: native (blocking loop in the addon, default when built) or event-loop (node:net)')
    .option('--spin-us <us>', 'native kicks: poll the rings this long before sleeping', String(DEFAULT_SPIN_US))
    .option('--wait-policy <p>', 'native kicks: peer-aware (default), spin-then-block, block or poll')
    .option('--no-futex', 'native kicks: never sleep on the futex doorbell shared with a tz-virtio peer (socket kicks only)')
    .option('--warmup <n>', 'remote: messages of the JIT warm-up before the service is announced (0 = none)')
    .option('--stats', 'add where the session loop slept (wait) to the JSON result')
    .option('-q, --quiet', 'no progress lines on stderr');
}

async function run(role: 'host' | 'remote', o: Opts): Promise<void> {
  if (o.server && o.client) throw new CliError('openamp: --server and --client exclude each other');
  const timeoutMs = parseNumberArg('--timeout', o.timeout);
  if (o.kicks !== undefined && o.kicks !== 'native' && o.kicks !== 'event-loop') throw new CliError(`openamp: --kicks must be native or event-loop, not ${o.kicks}`);
  const log = o.quiet ? undefined : (l: string): void => void process.stderr.write(`tz-virtio openamp ${role}: ${l}\n`);
  const session = await OpenAmpSession.open({
    role,
    shmPath: o.shm,
    shmSize: parseNumberArg('--shm-size', o.shmSize),
    socketPath: o.socket,
    ...(o.server ? { socketRole: 'server' as const } : o.client ? { socketRole: 'client' as const } : {}),
    timeoutMs,
    ...(o.kicks !== undefined ? { kicks: o.kicks as 'native' | 'event-loop' } : {}),
    ...(o.spinUs !== undefined ? { spinUs: parseNumberArg('--spin-us', o.spinUs) } : {}),
    ...(o.waitPolicy !== undefined ? { waitPolicy: o.waitPolicy as WaitPolicy } : {}),
    ...(o.futex === false ? { futexLink: false } : {}),
  });
  if (role === 'remote') {
    const r = await runEchoRemote(session, { service: o.service, ...(log ? { log } : {}), ...(o.warmup !== undefined ? { warmup: parseNumberArg('--warmup', o.warmup) } : {}) });
    process.stdout.write(JSON.stringify(o.stats ? { ...r, wait: session.waitStats() } : r) + '\n');
  } else {
    const r = await runPingHost(session, {
      service: o.service,
      timeoutMs,
      ...(o.count !== undefined ? { count: parseNumberArg('--count', o.count) } : {}),
      ...(log ? { log } : {}),
    });
    process.stdout.write(JSON.stringify(o.stats ? { ...r, wait: session.waitStats() } : r) + '\n');
    if (r.errors > 0 || r.received !== r.sent) process.exitCode = 1;
  }
}

export function register(program: Command): void {
  const cmd = program.command('openamp').description("interoperate with OpenAMP's Linux-process RPMsg peers (shared file + UNIX-socket kicks)");
  common(cmd.command('remote').description('behave like OpenAMP rpmsg-echo: announce the service, echo every message, exit when the host destroys it'))
    .action((o: Opts) => run('remote', o));
  common(cmd.command('host').description('behave like OpenAMP rpmsg-echo-ping: ping payloads of growing size, check the echoes, destroy the channel'))
    .option('--count <n>', 'number of payloads (default: all sizes up to the buffer, 480)')
    .action((o: Opts) => run('host', o));
}
