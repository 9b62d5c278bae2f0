/**
 * `tz-virtio vhost-user --device console|vsock --socket PATH`: serves one device to a vhost-user front-end (Linux
 * UML's virtio_uml, QEMU's vhost-user-*-device) until SIGINT/SIGTERM, then prints a one-line JSON summary and
 * removes its socket. The console's default secure service echoes every line back (port 0, /dev/hvc0 in Linux).
 */
import type { Command } from 'commander';
import { DescriptorChain } from '../../virtio/chain.js';
import type { DeviceActivation, VirtioDevice } from '../../virtio/device.js';
import { bit, features, VirtioFeature } from '../../virtio/features.js';
import { VhostUserServer } from '../../vhost-user/index.js';
import { CliError } from '../errors.js';

interface Opts {
  device: string;
  socket: string;
  ring?: string;
  inband?: boolean;
  json?: boolean;
}

/** Console port 0 (no MULTIPORT): bytes from transmitq (1) are sent back on receiveq (0) line by line. */
class LineEchoConsole implements VirtioDevice {
  readonly deviceType = 3;
  readonly deviceFeatures = features(VirtioFeature.VERSION_1, VirtioFeature.EVENT_IDX, VirtioFeature.INDIRECT_DESC) | bit(VirtioFeature.RING_PACKED);
  readonly queueMaxSizes = [256, 256];
  readonly configSize = 12;
  bytesIn = 0;
  bytesOut = 0;
  lines = 0;
  private a: DeviceActivation | undefined;
  private line: number[] = [];
  private out: number[] = [];
  private readonly chain = new DescriptorChain(256);
  readConfig(_offset: number, dest: Uint8Array): void {
    dest.fill(0);
  }
  writeConfig(): void {}
  activate(a: DeviceActivation): void {
    this.a = a;
  }
  queueNotify(): void {
    this.poll();
  }
  poll(): number {
    const a = this.a;
    if (a === undefined) return 0;
    let n = 0;
    const tx = a.queues[1];
    if (tx !== undefined) {
      while (tx.vq.pop(this.chain)) {
        const buf = new Uint8Array(this.chain.readableBytes);
        this.chain.readInto(a.memory, buf);
        this.bytesIn += buf.length;
        for (const b of buf) {
          this.line.push(b);
          if (b === 10 || this.line.length >= 4096) {
            this.out.push(...this.line);
            this.line = [];
            this.lines++;
          }
        }
        tx.vq.pushUsed(this.chain.head, 0);
        n++;
      }
      if (tx.vq.publishUsed()) tx.notify();
    }
    const rx = a.queues[0];
    if (rx !== undefined && this.out.length > 0) {
      while (this.out.length > 0 && rx.vq.pop(this.chain)) {
        const w = this.chain.writeFrom(a.memory, Uint8Array.from(this.out.slice(0, this.chain.writableBytes)));
        this.out.splice(0, w);
        this.bytesOut += w;
        rx.vq.pushUsed(this.chain.head, w);
        n++;
      }
      if (rx.vq.publishUsed()) rx.notify();
    }
    return n;
  }
  reset(): void {
    this.a = undefined;
    this.line = [];
    this.out = [];
  }
}

async function serve(o: Opts): Promise<void> {
  if (o.device === 'vsock') throw new CliError('--device vsock needs the vsock device (src/vsock), which is not in this build yet; use --device console');
  if (o.device !== 'console') throw new CliError(`--device: '${o.device}' is not one of console, vsock`);
  const ring = o.ring ?? 'packed';
  if (ring !== 'split' && ring !== 'packed') throw new CliError(`--ring: '${ring}' is not split or packed`);
  const device = new LineEchoConsole();
  const server = new VhostUserServer(o.socket, device, { withheldFeatures: ring === 'split' ? bit(VirtioFeature.RING_PACKED) : 0n, inband: o.inband === true });
  try {
    server.listen();
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const b = server.backend;
  b.onError((e) => {
    if (o.json !== true) process.stderr.write(`vhost-user: ${e.message}\n`);
  });
  if (o.json !== true) process.stderr.write(`vhost-user: serving a console (line echo) on ${o.socket}; Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  server.close();
  const summary = {
    device: o.device,
    socket: o.socket,
    ring,
    connections: b.stats.connections,
    messages: b.stats.messages,
    activations: b.stats.activations,
    kicks: b.stats.kicks,
    calls: b.stats.calls,
    bytesFromFrontEnd: device.bytesIn,
    bytesToFrontEnd: device.bytesOut,
    lines: device.lines,
    errors: b.stats.errors,
    lastErrors: b.recentErrors.slice(-3).map((e) => e.code),
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
}

export function register(program: Command): void {
  program
    .command('vhost-user')
    .description('serve a VirtIO device to a vhost-user front-end (Linux UML virtio_uml, QEMU) over a UNIX socket')
    .requiredOption('--device <type>', 'console (line echo on port 0) or vsock')
    .requiredOption('--socket <path>', 'UNIX socket path to listen on (removed on exit)')
    .option('--ring <layout>', 'offer split or packed (default packed: the front-end picks)')
    .option('--inband', 'offer in-band notifications (kicks and calls as messages)')
    .option('--json', 'print only the JSON summary')
    .action((o: Opts) => serve(o));
}
