/**
 * Fuzz target: the virtio-console device (the secure side) against a hostile driver.
 *
 * The driver is the project's ConsoleDriver (so rings and control traffic start well-formed) wired to the device over
 * a guarded arena; between pumps the fuzzer also acts as a hostile driver through the same queues and memory: junk
 * control messages (events a driver never sends, unknown ports, values other than 0/1, short messages), data for
 * closed or undeclared ports, buffers in the wrong direction, descriptors longer than the memory or pointing outside
 * it, avail index jumps and random words in the rings.
 *
 * Oracles: no device call throws (not even a typed error: hostile input ends in a counted drop or DEVICE_NEEDS_RESET);
 * the device writes nothing outside the used rings (split) / descriptor ring and device event area (packed) and the
 * driver's buffer pool; while only console-level damage was done ("clean" rings) every byte the driver sent reaches
 * the device port once and in order, and each junk control message is counted as a typed error; after
 * DEVICE_NEEDS_RESET the device is reset, brought up again by a fresh driver, and must carry data again.
 */
import { ConsoleDevice, ConsoleDriver, ControlEvent, encodeControlBytes, transmitQueue, receiveQueue } from '../console/index.js';
import {
  PackedVirtqueueDevice,
  PackedVirtqueueDriver,
  SplitVirtqueueDevice,
  SplitVirtqueueDriver,
  VirtioFeature,
  bit,
  packedRingSizes,
  splitLegacyLayout,
  type DeviceQueue,
  type DriverQueue,
} from '../virtio/index.js';
import { FuzzArena, type Range } from './arena.js';
import type { Prng } from './prng.js';
import { bump } from './report.js';
import { finding, guarded, neverThrows, type FuzzContext, type FuzzTarget } from './target.js';

export const CONSOLE_MUTATIONS = ['ctl-junk-event', 'ctl-unknown-port', 'ctl-bad-value', 'ctl-short', 'data-closed-port', 'tx-writable', 'rx-readable', 'desc-len', 'desc-addr', 'avail-idx-jump', 'random-word'] as const;
/** Mutations after which the rings are no longer well-formed (the device may stop a queue and ask for a reset). */
const RING_DAMAGE = new Set<string>(['desc-len', 'desc-addr', 'avail-idx-jump', 'random-word']);

const BASE = 0x2000_0000;
const PORTS = ['log', 'rpc'];

interface Plan {
  readonly n: number;
  readonly split?: { desc: number; avail: number; used: number };
  readonly packed?: { desc: number; driverEvent: number; deviceEvent: number };
}

class ConsoleCase {
  readonly arena: FuzzArena;
  readonly device: ConsoleDevice;
  driver!: ConsoleDriver;
  dq: DriverQueue[] = [];
  readonly plans: Plan[];
  readonly packed: boolean;
  readonly features: bigint;
  readonly allowed: Range[];
  readonly pool: { base: number; size: number };
  readonly bufferSize: number;
  readonly scratch: number;
  clean = true;
  needsReset = false;
  /** Bytes the driver sent per port and what the device received, while clean. */
  sent: number[][] = [[], [], []];
  got: number[][] = [[], [], []];
  expectErrors = 0;
  private seq = 0;

  constructor(
    readonly rng: Prng,
    readonly ctx: FuzzContext,
  ) {
    this.packed = rng.chance(0.5);
    const qsize = rng.pick([2, 4, 8]);
    this.bufferSize = rng.pick([64, 128, 256]);
    this.device = new ConsoleDevice({ ports: PORTS, maxPorts: 4, queueSize: 16 });
    const ring = bit(VirtioFeature.VERSION_1) | (rng.chance(0.5) ? bit(VirtioFeature.EVENT_IDX) : 0n) | (this.packed ? bit(VirtioFeature.RING_PACKED) : 0n);
    this.features = (this.device.deviceFeatures & ~(bit(VirtioFeature.EVENT_IDX) | bit(VirtioFeature.RING_PACKED) | bit(VirtioFeature.INDIRECT_DESC))) | ring;
    const probe = this.newDriver(qsize);
    probe.negotiate(this.features);
    const sizes = probe.queueSizes(this.device.queueMaxSizes);
    let at = BASE;
    this.allowed = [];
    this.plans = sizes.map((n) => {
      const start = at;
      if (this.packed) {
        const s = packedRingSizes(n);
        const p = { desc: start, driverEvent: start + s.descBytes, deviceEvent: start + s.descBytes + 4 };
        this.allowed.push({ start, end: start + s.descBytes }, { start: p.deviceEvent, end: p.deviceEvent + 4 });
        at = Math.ceil((start + s.descBytes + 8) / 16) * 16;
        return { n, packed: p };
      }
      const l = splitLegacyLayout(start, n, 16);
      this.allowed.push({ start: l.used, end: l.used + 6 + 8 * n });
      at = Math.ceil((start + l.totalBytes) / 16) * 16;
      return { n, split: { desc: l.desc, avail: l.avail, used: l.used } };
    });
    this.pool = { base: at, size: probe.poolBytes };
    // after the pool: one buffer the hostile side uses for its own raw messages (a driver buffer too)
    this.scratch = at + probe.poolBytes;
    this.allowed.push({ start: at, end: this.scratch + this.bufferSize });
    this.arena = new FuzzArena(BASE, Math.ceil((this.scratch + this.bufferSize - BASE) / 8) * 8, 1024);
  }

  private newDriver(qsize: number): ConsoleDriver {
    return new ConsoleDriver({ maxPorts: 4, queueSize: qsize, bufferSize: this.bufferSize ?? 64 });
  }

  get mem() {
    return this.arena.memory;
  }

  /** Brings both sides up over fresh rings (driver first, as a transport does at DRIVER_OK). */
  start(): void {
    this.arena.zero();
    const memory = this.mem;
    const opts = { features: this.features };
    this.driver = this.newDriver(this.plans[0]!.n);
    this.driver.negotiate(this.features);
    this.dq = this.plans.map((p, index) => {
      const vq = p.packed ? new PackedVirtqueueDriver<number>(memory, p.n, p.packed, opts) : new SplitVirtqueueDriver<number>(memory, p.n, p.split!, opts);
      return { index, vq, kick: () => vq.kick() };
    });
    const cq: DeviceQueue[] = this.plans.map((p, index) => ({
      index,
      vq: p.packed ? new PackedVirtqueueDevice(memory, p.n, p.packed, opts) : new SplitVirtqueueDevice(memory, p.n, p.split!, opts),
      notify: () => undefined,
    }));
    const device = this.device;
    this.driver.activate({ features: this.features, queues: this.dq, memory, pool: this.pool, readConfig: (o, d) => device.readConfig(o, d), writeConfig: (o, d) => device.writeConfig(o, d) });
    this.call('device.activate', () =>
      device.activate({
        features: this.features,
        queues: cq,
        memory,
        configChanged: () => undefined,
        needsReset: () => {
          this.needsReset = true;
        },
      }),
    );
    for (let id = 0; id < 3; id++) {
      this.device.onData(id, (d) => {
        if (this.clean) for (const b of d) this.got[id]!.push(b);
        this.ctx.report.chains++;
        return true;
      });
    }
    for (let r = 0; r < 6; r++) this.pump();
    for (const p of this.driver.knownPorts()) {
      this.driver.onData(p.id, () => true);
      this.driver.openPort(p.id);
    }
    this.pump();
    this.pump();
  }

  /** A device call under the oracles: must not throw at all, may write only where allowed. */
  call<T>(what: string, op: () => T): T | undefined {
    this.ctx.report.pops++;
    const r = guarded(this.ctx, this.arena, what, this.allowed, op, true, neverThrows);
    return r.ok ? r.value : undefined;
  }

  pump(): void {
    this.call('device.poll', () => this.device.poll());
    try {
      this.driver.interrupt();
    } catch {
      // the non-secure side's own trouble
    }
  }

  driverSend(): void {
    const id = this.rng.int(3);
    if (!this.driver.isOpen(id)) return;
    const data = new Uint8Array(this.rng.range(1, 3 * this.bufferSize));
    for (let i = 0; i < data.length; i++) data[i] = (this.seq * 7 + i) & 0xff;
    this.seq++;
    let n = 0;
    try {
      n = this.driver.send(id, data);
    } catch {
      return;
    }
    for (let i = 0; i < n; i++) this.sent[id]!.push(data[i]!);
  }

  deviceSend(): void {
    const id = this.rng.int(3);
    this.call('device.send', () => this.device.send(id, new Uint8Array(this.rng.range(1, 300))));
  }

  /**
   * Sends raw bytes as one buffer on queue `qi` from the scratch buffer after the pool, with a token the driver does
   * not own (it ignores the buffer when it comes back).
   */
  private raw(qi: number, bytes: Uint8Array, writable = false): number | undefined {
    const q = this.dq[qi];
    if (q === undefined || q.vq.numFree === 0) return undefined;
    const slot = -1;
    const addr = this.scratch;
    this.mem.write(addr, bytes.subarray(0, this.bufferSize));
    try {
      const id = q.vq.addBuffer(addr, Math.max(1, Math.min(bytes.length, this.bufferSize)), writable, slot);
      q.kick();
      return id;
    } catch {
      return undefined;
    }
  }

  mutate(): void {
    const rng = this.rng;
    const kind = rng.pick(CONSOLE_MUTATIONS);
    bump(this.ctx.report.mutations, kind);
    const ctl = (id: number, event: number, value: number) => this.raw(3, encodeControlBytes({ id, event, value }));
    switch (kind) {
      case 'ctl-junk-event':
        ctl(rng.int(3), rng.pick([ControlEvent.PORT_ADD, ControlEvent.PORT_REMOVE, ControlEvent.CONSOLE_PORT, ControlEvent.RESIZE, ControlEvent.PORT_NAME, 8, rng.u16()]), 1);
        break;
      case 'ctl-unknown-port':
        ctl(rng.pick([3, 4, 1000, 0xffff_ffff, rng.u32()]), rng.pick([ControlEvent.PORT_READY, ControlEvent.PORT_OPEN]), 1);
        break;
      case 'ctl-bad-value':
        ctl(rng.int(3), rng.pick([ControlEvent.PORT_READY, ControlEvent.PORT_OPEN, ControlEvent.DEVICE_READY]), rng.range(2, 0xffff));
        break;
      case 'ctl-short':
        this.raw(3, new Uint8Array(rng.int(8)).fill(1));
        break;
      case 'data-closed-port':
        this.raw(transmitQueue(3), new Uint8Array(rng.range(1, 64)));
        break;
      case 'tx-writable':
        this.raw(transmitQueue(rng.int(3)), new Uint8Array(16), true);
        break;
      case 'rx-readable':
        this.raw(receiveQueue(rng.int(3)), new Uint8Array(16));
        this.clean = false; // the device may skip it or not, depending on the data it has
        break;
      default:
        this.damageRings(kind);
    }
    if (RING_DAMAGE.has(kind)) this.clean = false;
  }

  private damageRings(kind: string): void {
    const rng = this.rng;
    const p = this.plans[rng.int(this.plans.length)]!;
    const desc = (p.split?.desc ?? p.packed!.desc) + 16 * rng.int(p.n);
    const a = this.arena;
    switch (kind) {
      case 'desc-len':
        this.mem.write32(desc + 8, rng.pick([0x7fff_ffff, this.bufferSize + 1 + rng.int(64), 0xffff_ffff, a.size]));
        break;
      case 'desc-addr':
        this.mem.write32(desc, rng.pick([a.base - 64, a.end - 8, a.end, 0x3c00_0000, 0]) >>> 0);
        break;
      case 'avail-idx-jump':
        if (p.split) this.mem.atomicStore16(p.split.avail + 2, (this.mem.read16(p.split.avail + 2) + rng.range(p.n + 1, 0xffff)) & 0xffff);
        else this.mem.write16(desc + 14, rng.u16());
        break;
      default:
        this.mem.write32(a.base + 4 * rng.int(a.size / 4), rng.edgyU32());
    }
  }

  /** While clean: everything sent arrived once, in order, and the device counted every junk message. */
  check(): void {
    if (!this.clean) return;
    for (let id = 0; id < 3; id++) {
      const s = this.sent[id]!;
      const g = this.got[id]!;
      if (g.length > s.length) {
        finding(this.ctx, 'violation', `clean rings: port ${id} received ${g.length} bytes, only ${s.length} sent`);
        return;
      }
      for (let i = 0; i < g.length; i++) {
        if (g[i] !== s[i]) {
          finding(this.ctx, 'violation', `clean rings: port ${id} byte ${i} altered or out of order`);
          return;
        }
      }
    }
    if (this.needsReset) finding(this.ctx, 'violation', 'clean rings: the device asked for a reset');
  }

  resetAll(): void {
    this.ctx.report.resets++;
    this.call('device.reset', () => this.device.reset());
    this.needsReset = false;
    this.clean = true;
    this.sent = [[], [], []];
    this.got = [[], [], []];
    this.start();
    if (!this.driver.isOpen(1)) finding(this.ctx, 'violation', 'after a reset and a fresh bring-up, port 1 is not open');
  }

  finish(): void {
    for (const [code, n] of Object.entries(this.device.stats.errors)) bump(this.ctx.report.errorsByCode, code, n);
  }
}

export const consoleTarget: FuzzTarget = {
  name: 'console',
  run(rng: Prng, ctx: FuzzContext, steps: number): void {
    const c = new ConsoleCase(rng, ctx);
    c.start();
    const mutateP = rng.pick([0.05, 0.15, 0.3]);
    for (let s = 0; s < steps; s++) {
      ctx.step = s;
      const x = rng.u32() / 0x1_0000_0000;
      if (x < mutateP) c.mutate();
      else if (x < 0.5) c.driverSend();
      else if (x < 0.6) c.deviceSend();
      else c.pump();
      c.check();
      if (c.needsReset || (!c.clean && rng.chance(0.05))) c.resetAll();
    }
    c.finish();
  },
};
