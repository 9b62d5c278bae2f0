/**
 * `tz-virtio openamp remote|host`: interoperate with OpenAMP's Linux-process RPMsg demos (rpmsg-echo remote,
 * rpmsg-echo-ping host) over OpenAMP's generic Linux machine layout: /dev/shm/openamp.shm + /tmp/openamp.event.0.
 *
 * All options are checked before the shared file is mapped or the socket touched. The shared file is removed on
 * every way out when this command created it (a failed connect, an error, Ctrl-C), and by the host after a completed
 * pair (the remote ends once the host destroys the channel, so the host is its last user).
 */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CliError } from '../errors.js';
import { choiceOption, intOption } from '../options.js';
import { setActivity } from '../signals.js';
import { cleanupOnExit, unlinkSharedFile } from '../../host/shm.js';
import { DEFAULT_SPIN_US, OpenAmpSession } from '../../openamp/session.js';
import { runEchoRemote } from '../../openamp/echo.js';
import { DEFAULT_SESSION_WARMUP_MESSAGES, warmUpSession } from '../../openamp/session-warmup.js';
import { PING_HEADER, runPingHost } from '../../openamp/ping.js';
import { WAIT_POLICIES, type WaitPolicy } from '../../sync/policy.js';
import { OPENAMP_ECHO_SERVICE, OPENAMP_SHM_PATH, OPENAMP_SHM_SIZE, OPENAMP_SOCKET_PATH } from '../../openamp/layout.js';
import { DEFAULT_BUFFER_SIZE, RPMSG_HEADER_SIZE } from '../../rpmsg/constants.js';

/** Payloads the ping host can send: sizes 1 .. 512 - 16 (RPMsg header) - 16 (ping header) = 480. */
export const OPENAMP_MAX_COUNT = DEFAULT_BUFFER_SIZE - RPMSG_HEADER_SIZE - PING_HEADER;

interface Opts {
  shm: string;
  shmSize: number;
  socket: string;
  server?: boolean;
  client?: boolean;
  service: string;
  count?: number;
  timeoutMs: number;
  /** The old spelling of --timeout-ms (hidden). */
  timeout?: number;
  kicks?: 'native' | 'event-loop';
  spinUs: number;
  waitPolicy?: WaitPolicy;
  futex?: boolean;
  warmup?: number;
  stats?: boolean;
  quiet?: boolean;
}

const TIMEOUT_RULE = { min: 1, max: 3_600_000 } as const;

function common(cmd: Command): Command {
  return cmd
    .option('--shm <path>', 'shared file (OpenAMP: shm_open("openamp.shm"))', OPENAMP_SHM_PATH)
    .option('--shm-size <bytes>', 'shared file size (at least 0x50000)', intOption('--shm-size', { min: 0x50000, max: 1 << 30 }), OPENAMP_SHM_SIZE)
    .option('--socket <path>', 'kick socket (AF_UNIX stream, one byte per kick)', OPENAMP_SOCKET_PATH)
    .option('--server', 'be the socket server (and write the resource table)')
    .option('--client', 'be the socket client')
    .option('--service <name>', 'RPMsg service (endpoint) name', OPENAMP_ECHO_SERVICE)
    .option('--timeout-ms <ms>', 'wait for the peer this long', intOption('--timeout-ms', TIMEOUT_RULE), 15000)
    .addOption(new Option('--timeout <ms>').hideHelp().argParser(intOption('--timeout', TIMEOUT_RULE)))
    .option('--kicks <path>', 'kick path: native (blocking loop in the addon, default when built) or event-loop (node:net)', choiceOption('--kicks', ['native', 'event-loop'] as const))
    .option('--spin-us <us>', 'native kicks: poll the rings this long before sleeping', intOption('--spin-us', { min: 0, max: 1_000_000 }), DEFAULT_SPIN_US)
    .option('--wait-policy <p>', 'native kicks: peer-aware (default), spin-then-block, block or poll', choiceOption('--wait-policy', WAIT_POLICIES))
    .option('--no-futex', 'native kicks: never sleep on the futex doorbell shared with a tz-virtio peer (socket kicks only)')
    .option('--warmup <n>', 'messages of the JIT warm-up (this role on a private pair with a worker) before the endpoint is created (default 20000, 0 = none)', intOption('--warmup', { min: 0, max: 1_000_000 }))
    .option('--stats', 'add where the session loop slept (wait) to the JSON result')
    .option('-q, --quiet', 'no progress lines on stderr');
}

async function run(role: 'host' | 'remote', o: Opts): Promise<void> {
  if (o.server && o.client) throw new CliError(`openamp ${role}: --server and --client exclude each other`);
  if (o.service.length === 0 || Buffer.byteLength(o.service) > 31) throw new CliError(`openamp ${role}: --service '${o.service}' must be 1..31 bytes (an RPMsg name is 32 bytes with its NUL)`);
  const timeoutMs = o.timeout ?? o.timeoutMs;
  const log = o.quiet ? undefined : (l: string): void => void process.stderr.write(`tz-virtio openamp ${role}: ${l}\n`);
  // Ours to remove when we create it; unlinking leaves the peer's mapping (and ours) intact.
  const created = !existsSync(o.shm);
  const removeShm = (): void => {
    try {
      unlinkSharedFile(o.shm);
    } catch {
      // already gone, or the addon is missing (then nothing was created either)
    }
  };
  const dropCleanup = created ? cleanupOnExit(removeShm) : () => undefined;
  setActivity(`waiting for the OpenAMP peer on ${o.socket}`);
  let completed = false;
  let session: OpenAmpSession | undefined;
  // JIT warm-up of this role's exact code paths on a private pair, before the endpoint is created (the host: before
  // it connects, so that its session reads nothing before its endpoint exists; src/openamp/session-warmup.ts)
  const warmUp = async (): Promise<void> => {
    setActivity('warming up');
    const w = await warmUpSession(role, o.warmup ?? DEFAULT_SESSION_WARMUP_MESSAGES, {
      ...(o.kicks !== undefined ? { kicks: o.kicks } : {}),
      spinUs: o.spinUs,
      ...(o.waitPolicy !== undefined ? { waitPolicy: o.waitPolicy } : {}),
      ...(o.futex === false ? { futexLink: false } : {}),
      timeoutMs: Math.min(timeoutMs, 5000), // a warm-up that cannot run must not hold the real session back long
    });
    if (w.messages > 0 || w.error !== undefined) log?.(`warm-up: ${w.messages} messages in ${w.ms.toFixed(0)} ms${w.error !== undefined ? ` (stopped: ${w.error})` : ''}`);
  };
  try {
    if (role === 'host') await warmUp();
    setActivity(`waiting for the OpenAMP peer on ${o.socket}`);
    session = await OpenAmpSession.open({
      role,
      shmPath: o.shm,
      shmSize: o.shmSize,
      socketPath: o.socket,
      ...(o.server ? { socketRole: 'server' as const } : o.client ? { socketRole: 'client' as const } : {}),
      timeoutMs,
      ...(o.kicks !== undefined ? { kicks: o.kicks } : {}),
      spinUs: o.spinUs,
      ...(o.waitPolicy !== undefined ? { waitPolicy: o.waitPolicy } : {}),
      ...(o.futex === false ? { futexLink: false } : {}),
    });
    if (role === 'remote') await warmUp();
    setActivity(role === 'remote' ? 'echoing for the OpenAMP host' : 'pinging the OpenAMP remote');
    if (role === 'remote') {
      const r = await runEchoRemote(session, { service: o.service, warmup: 0, ...(log ? { log } : {}) });
      process.stdout.write(JSON.stringify(o.stats ? { ...r, wait: session.waitStats() } : r) + '\n');
    } else {
      const r = await runPingHost(session, { service: o.service, timeoutMs, warmup: 0, ...(o.count !== undefined ? { count: o.count } : {}), ...(log ? { log } : {}) });
      process.stdout.write(JSON.stringify(o.stats ? { ...r, wait: session.waitStats() } : r) + '\n');
      if (r.errors > 0 || r.received !== r.sent) process.exitCode = 1;
      else completed = true;
    }
  } finally {
    await session?.close();
    if (created || (role === 'host' && completed)) removeShm();
    dropCleanup();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('openamp')
    .description("interoperate with OpenAMP's Linux-process RPMsg peers (shared file + UNIX-socket kicks)")
    .addHelpText('after', '\nExample:\n  npx tz-virtio openamp remote &  npx tz-virtio openamp host --count 16');
  common(cmd.command('remote').description('behave like OpenAMP rpmsg-echo: announce the service, echo every message, exit when the host destroys it'))
    .addHelpText('after', '\nExample:\n  npx tz-virtio openamp remote --timeout-ms 30000     then run OpenAMP\'s rpmsg-echo-ping (or `openamp host`)')
    .action((o: Opts) => run('remote', o));
  common(cmd.command('host').description('behave like OpenAMP rpmsg-echo-ping: ping payloads of growing size, check the echoes, destroy the channel'))
    .option('--count <n>', `number of payloads (default: all sizes up to the buffer, ${OPENAMP_MAX_COUNT})`, intOption('--count', { min: 1, max: OPENAMP_MAX_COUNT }))
    .addHelpText('after', '\nExample:\n  npx tz-virtio openamp host --count 16     with OpenAMP\'s rpmsg-echo (or `openamp remote`) running')
    .action((o: Opts) => run('host', o));
}
