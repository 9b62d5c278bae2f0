/**
 * `tz-virtio vhost-user --device vsock|console --socket PATH`: serves one device of the secure side to a vhost-user
 * front-end (Linux UML's virtio_uml, QEMU's vhost-user-*-device) until SIGINT/SIGTERM (or --max-sessions front-end
 * sessions), then prints a one-line JSON summary and removes its socket. Default services (vhost-user-services.ts):
 * vsock echo on port 1234, a console that echoes each line (port 0, /dev/hvc0 in Linux).
 */
import { writeSync } from 'node:fs';
import type { Command } from 'commander';
import { bit, VirtioFeature } from '../../virtio/features.js';
import { VhostUserServer } from '../../vhost-user/index.js';
import { CliError } from '../errors.js';
import { choiceArg, intOption } from '../options.js';
import { HybridVsock } from '../hybrid-vsock.js';
import { consoleLineEchoService, DEFAULT_ECHO_PORT, vsockEchoService, type VhostUserService } from '../vhost-user-services.js';

interface Opts {
  device: string;
  socket: string;
  guestCid?: number;
  ring?: string;
  inband?: boolean;
  udsPath?: string;
  maxSessions?: number;
  trace?: boolean;
  json?: boolean;
}

async function serve(o: Opts): Promise<void> {
  const kind = choiceArg('--device', o.device, ['vsock', 'console'] as const);
  const ring = choiceArg('--ring', o.ring ?? 'packed', ['split', 'packed'] as const);
  if (kind !== 'vsock' && o.guestCid !== undefined) throw new CliError('--guest-cid applies to --device vsock only');
  if (kind !== 'vsock' && o.udsPath !== undefined) throw new CliError('--uds-path applies to --device vsock only');
  let service: VhostUserService;
  let hybrid: HybridVsock | undefined;
  if (kind === 'vsock') {
    const v = vsockEchoService({ guestCid: o.guestCid ?? 3, port: DEFAULT_ECHO_PORT });
    service = v;
    if (o.udsPath !== undefined) hybrid = new HybridVsock(v.device, o.udsPath);
  } else {
    service = consoleLineEchoService();
  }
  const server = new VhostUserServer(o.socket, service.device, {
    withheldFeatures: ring === 'split' ? bit(VirtioFeature.RING_PACKED) : 0n,
    inband: o.inband === true,
    ...(o.trace === true ? { trace: (l: string) => process.stderr.write(`vhost-user: ${l}\n`) } : {}),
  });
  try {
    server.listen();
    hybrid?.listen();
  } catch (e) {
    server.close();
    hybrid?.close();
    throw new CliError((e as Error).message, 1);
  }
  const b = server.backend;
  b.onError((e) => {
    if (o.json !== true) process.stderr.write(`vhost-user: ${e.message}\n`);
  });
  if (o.json !== true) {
    const what = kind === 'vsock' ? `vsock (guest CID ${o.guestCid ?? 3}, echo on port ${DEFAULT_ECHO_PORT}${o.udsPath !== undefined ? `, hybrid vsock on ${o.udsPath}` : ''})` : 'a console (line echo)';
    process.stderr.write(`vhost-user: serving ${what} on ${o.socket}; Ctrl-C to stop\n`);
  }
  const summary = () => ({
    device: kind,
    socket: o.socket,
    ring,
    connections: b.stats.connections,
    messages: b.stats.messages,
    activations: b.stats.activations,
    kicks: b.stats.kicks,
    calls: b.stats.calls,
    sessions: service.stats.sessions,
    bytesFromGuest: service.stats.bytesFromGuest,
    bytesToGuest: service.stats.bytesToGuest,
    serviceErrors: service.stats.errors,
    ...(hybrid !== undefined ? { hybrid: hybrid.stats } : {}),
    errors: b.stats.errors,
    lastErrors: b.recentErrors.slice(-3).map((e) => e.code),
  });
  const stop = () => {
    server.close();
    hybrid?.close();
    service.close();
  };
  // A signal ends the server normally: the summary is written synchronously and the process exits 0 before the
  // CLI's generic "interrupted" handler (registered earlier) would run.
  const onSignal = () => {
    stop();
    writeSync(1, JSON.stringify(summary()) + '\n');
    process.exit(0);
  };
  process.prependOnceListener('SIGINT', onSignal);
  process.prependOnceListener('SIGTERM', onSignal);
  await new Promise<void>((resolve) => {
    let ended = 0;
    b.onDisconnect(() => {
      if (o.maxSessions !== undefined && ++ended >= o.maxSessions) resolve();
    });
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  stop();
  process.stdout.write(JSON.stringify(summary()) + '\n');
}

export function register(program: Command): void {
  program
    .command('vhost-user')
    .description('serve a VirtIO device to a vhost-user front-end (Linux UML virtio_uml, QEMU) over a UNIX socket')
    .requiredOption('--device <type>', 'vsock (echo on port 1234) or console (line echo on port 0)')
    .requiredOption('--socket <path>', 'UNIX socket path to listen on (removed on exit)')
    .option('--guest-cid <n>', 'vsock: the guest CID in config space (default 3)', intOption('--guest-cid', { min: 3, max: 0xfffffffe }))
    .option('--ring <layout>', 'offer split or packed (default packed: the front-end picks)')
    .option('--inband', 'offer in-band notifications (kicks and calls as messages)')
    .option('--uds-path <path>', 'vsock: hybrid vsock (Firecracker / vhost-device-vsock): CONNECT <port> on PATH reaches a guest listener, guest connections to port N reach PATH_N')
    .option('--max-sessions <n>', 'exit after this many front-end sessions ended (default: until SIGINT/SIGTERM)', intOption('--max-sessions', { min: 1 }))
    .option('--trace', 'print every vhost-user request and reply on stderr')
    .option('--json', 'print only the JSON summary')
    .addHelpText('after', '\nExample:\n  tz-virtio vhost-user --device vsock --socket /tmp/vsock.sock &\n  linux.uml ... virtio_uml.device=/tmp/vsock.sock:19')
    .action((o: Opts) => serve(o));
}
