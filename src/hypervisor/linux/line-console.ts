/**
 * A virtio-console device (VIRTIO 1.2 §5.3, one port, no MULTIPORT) that carries a line protocol: every line the
 * driver sends on transmitq (queue 1) goes to a handler, and the handler's answer goes back on receiveq (queue 0).
 * Linux sees it as /dev/hvc0. The secure world runs the handler; the non-secure driver's buffers are read and
 * written only through the validated chains of the virtqueue (never trusted: lengths bounded, lines bounded).
 *
 * Every kick is one secure slice of the monitor (on one core Linux is stopped meanwhile).
 */
import { DescriptorChain } from '../../virtio/chain.js';
import type { DeviceActivation, VirtioDevice } from '../../virtio/device.js';
import { bit, features, VirtioFeature } from '../../virtio/features.js';
import { LineSplitter } from './line-splitter.js';
import type { LinuxMonitor } from './one-core-monitor.js';

/** Longest line accepted (bytes, newline excluded); a longer one is dropped and counted. */
export const MAX_LINE = 16 * 1024;
const QUEUE_SIZE = 256;

export interface LineConsoleStats {
  bytesIn: number;
  bytesOut: number;
  linesIn: number;
  linesOut: number;
  /** Lines over MAX_LINE, dropped. */
  overlong: number;
  /** Answers dropped because the driver had not posted receive buffers for them within the backlog bound. */
  backlogDropped: number;
  /** Ring rule violations by the driver (the queue then stops until the device is reset). */
  ringErrors: number;
  activations: number;
}

/** Largest number of answer bytes kept waiting for receive buffers. */
const MAX_BACKLOG = 1 << 20;

export class LineConsoleDevice implements VirtioDevice {
  readonly deviceType = 3;
  readonly deviceFeatures = features(VirtioFeature.VERSION_1, VirtioFeature.EVENT_IDX, VirtioFeature.INDIRECT_DESC) | bit(VirtioFeature.RING_PACKED);
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  /** cols u16, rows u16, max_nr_ports u32, emerg_wr u32 (§5.3.4). */
  readonly configSize = 12;
  readonly stats: LineConsoleStats = { bytesIn: 0, bytesOut: 0, linesIn: 0, linesOut: 0, overlong: 0, backlogDropped: 0, ringErrors: 0, activations: 0 };
  /** The memory the driver shares (the non-secure world's RAM), while the device is active. */
  memory: DeviceActivation['memory'] | undefined;
  private a: DeviceActivation | undefined;
  private readonly lines = new LineSplitter(MAX_LINE);
  private readonly takeLine = (text: string): void => {
    this.stats.linesIn++;
    const answer = this.onLine(text);
    if (answer !== undefined) this.queue(Buffer.from(`${answer}\n`, 'utf8'));
  };
  private out: Uint8Array[] = [];
  private outBytes = 0;
  private outOff = 0;
  private readonly chain = new DescriptorChain(QUEUE_SIZE);
  private readonly buf = new Uint8Array(64 * 1024);

  constructor(
    private readonly onLine: (line: string) => string | undefined,
    private readonly monitor: LinuxMonitor,
    /** Called once the driver set up the queues (DRIVER_OK). */
    private readonly onActivate: () => void = () => undefined,
  ) {}

  readConfig(offset: number, dest: Uint8Array): void {
    dest.fill(0);
    void offset;
  }

  writeConfig(): void {
    // emerg_wr is not offered (no EMERG_WRITE feature): writes are ignored
  }

  activate(a: DeviceActivation): void {
    this.a = a;
    this.memory = a.memory;
    this.stats.activations++;
    this.onActivate();
  }

  queueNotify(): void {
    this.monitor.run('kick', () => this.poll());
  }

  /** Answers an asynchronous event (a line the secure side wants to send unprompted). */
  send(text: string): void {
    this.monitor.run('send', () => {
      this.queue(Buffer.from(text.endsWith('\n') ? text : `${text}\n`, 'utf8'));
      this.poll();
    });
  }

  poll(): number {
    const a = this.a;
    if (a === undefined) return 0;
    let n = 0;
    try {
      n += this.drainTx(a);
      n += this.fillRx(a);
    } catch {
      // a ring rule broken by the driver: the queue is broken and stays so until the driver resets the device
      this.stats.ringErrors++;
    }
    return n;
  }

  reset(): void {
    this.a = undefined;
    this.memory = undefined;
    this.lines.reset();
    this.out = [];
    this.outBytes = 0;
    this.outOff = 0;
  }

  private drainTx(a: DeviceActivation): number {
    const tx = a.queues[1];
    if (tx === undefined) return 0;
    let n = 0;
    // bounded: pop() returns each available chain once, and at most the ring size before the driver adds more
    for (let i = 0; i < 4 * QUEUE_SIZE && tx.vq.pop(this.chain); i++) {
      const len = Math.min(this.chain.readableBytes, this.buf.length);
      const got = this.chain.readInto(a.memory, this.buf.subarray(0, len));
      this.stats.bytesIn += got;
      this.lines.push(this.buf.subarray(0, got), this.takeLine);
      this.stats.overlong = this.lines.overlong;
      tx.vq.pushUsed(this.chain.head, 0);
      n++;
    }
    if (n > 0 && tx.vq.publishUsed()) tx.notify();
    return n;
  }

  private queue(bytes: Uint8Array): void {
    if (this.outBytes + bytes.length > MAX_BACKLOG) {
      this.stats.backlogDropped++;
      return;
    }
    this.out.push(bytes);
    this.outBytes += bytes.length;
    this.stats.linesOut++;
  }

  private fillRx(a: DeviceActivation): number {
    const rx = a.queues[0];
    if (rx === undefined || this.out.length === 0) return 0;
    let n = 0;
    while (this.out.length > 0 && rx.vq.pop(this.chain)) {
      // gather as many queued answers as fit into this buffer, then copy them in one pass
      const room = Math.min(this.chain.writableBytes, this.buf.length);
      let filled = 0;
      while (this.out.length > 0 && filled < room) {
        const head = this.out[0]!;
        const take = Math.min(head.length - this.outOff, room - filled);
        this.buf.set(head.subarray(this.outOff, this.outOff + take), filled);
        filled += take;
        this.outOff += take;
        if (this.outOff === head.length) {
          this.out.shift();
          this.outBytes -= head.length;
          this.outOff = 0;
        }
      }
      const written = this.chain.writeFrom(a.memory, this.buf.subarray(0, filled));
      this.stats.bytesOut += written;
      rx.vq.pushUsed(this.chain.head, written);
      n++;
    }
    if (n > 0 && rx.vq.publishUsed()) rx.notify();
    return n;
  }
}
