/**
 * Concurrent fuzzing: the device pops on this thread while a scribbler worker rewrites the ring from another core
 * (VIRTIO's threat: the non-secure side writes the shared rings at any moment, including mid-read).
 *
 * The device loop is the same for split and packed: pop; on a chain, check every segment lies in the shared
 * region, return it with pushUsed (random written length) and publish now and then; on a typed error, count it,
 * reset the queue and tell the scribbler (epoch word) to restart its indices. Oracles: only VirtioError escapes;
 * the canaries around the region stay intact; for split rings (the scribbler never writes the used ring) each
 * published used entry is exactly the (id, len) pushed; no id is returned while still held.
 */
import { Worker } from 'node:worker_threads';
import {
  DescriptorChain,
  PackedVirtqueueDevice,
  SplitVirtqueueDevice,
  VirtioFeature,
  bit,
  isVirtioError,
  splitRingSizes,
  type VirtqueueDevice,
} from '../virtio/index.js';
import { FuzzArena } from './arena.js';
import { Prng } from './prng.js';
import { addFinding, bump, emptyReport, type FuzzReport } from './report.js';
import { CTRL_EPOCH, CTRL_STOP, CTRL_WORDS, CTRL_WRITES, type ScribbleLayout } from './scribbler.js';
import { fuzzWorkerUrl } from './worker-url.js';

export interface ConcurrentFuzzOptions {
  readonly seed: number;
  readonly target: 'split' | 'packed';
  /** How long to run (default 2000 ms). */
  readonly durationMs?: number;
  /** Stop once this many device calls were made (default: no limit). */
  readonly maxStates?: number;
  /** Queue size (default: picked from the seed). */
  readonly size?: number;
  /** Heartbeat after every batch of device calls. */
  readonly tick?: () => void;
}

const REGION_SIZE = 0x4000;
const IND_OFF = 0x1000;
const BUF_OFF = 0x2000;

export async function runConcurrentFuzz(opts: ConcurrentFuzzOptions): Promise<FuzzReport & { scribbles: number }> {
  const rng = new Prng(opts.seed, 0x7fff_0000);
  const name = `concurrent-${opts.target}`;
  const report = emptyReport(opts.seed, [name]);
  const size = opts.size ?? rng.pick(opts.target === 'split' ? [4, 16, 64, 128] : [5, 16, 64, 200]);
  const base = rng.pick([0x1000_0000, 0x1_0000_0000 - BUF_OFF]);
  const arena = new FuzzArena(base, REGION_SIZE);
  let features = bit(VirtioFeature.INDIRECT_DESC);
  if (rng.chance(0.5)) features |= bit(VirtioFeature.EVENT_IDX);
  let device: VirtqueueDevice;
  let layout: ScribbleLayout;
  let usedAt = 0;
  if (opts.target === 'split') {
    const { descBytes, availBytes } = splitRingSizes(size);
    const avail = base + descBytes;
    usedAt = Math.ceil((avail + availBytes) / 4) * 4;
    device = new SplitVirtqueueDevice(arena.memory, size, { desc: base, avail, used: usedAt }, { features });
    layout = { kind: 'split', size, base, regionSize: REGION_SIZE, descOff: 0, driverOff: descBytes, usedOff: usedAt - base, indOff: IND_OFF, indBytes: 0x1000, bufOff: BUF_OFF, bufBytes: 0x2000 };
  } else {
    features |= bit(VirtioFeature.RING_PACKED);
    const drv = base + 16 * size;
    device = new PackedVirtqueueDevice(arena.memory, size, { desc: base, driverEvent: drv, deviceEvent: drv + 4 }, { features });
    layout = { kind: 'packed', size, base, regionSize: REGION_SIZE, descOff: 0, driverOff: 16 * size, indOff: IND_OFF, indBytes: 0x1000, bufOff: BUF_OFF, bufBytes: 0x2000 };
  }
  const ctrlBuf = new SharedArrayBuffer(4 * CTRL_WORDS);
  const ctrl = new Int32Array(ctrlBuf);
  const worker = new Worker(fuzzWorkerUrl('scribbler-worker.js'), {
    workerData: { buffer: arena.buffer, byteOffset: arena.guard, layout, ctrl: ctrlBuf, seed: opts.seed, stream: 1 },
  });
  const exited = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });

  const chain = new DescriptorChain(size);
  const held = new Map<number, number>();
  const pushed: { id: number; len: number }[] = [];
  const crash = (what: string, e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    addFinding(report, { kind: 'crash', target: name, iteration: 0, step: report.states, message: `${what} threw ${err.name}: ${err.message}`, repro: `tz-virtio fuzz --concurrent --target ${opts.target} --seed ${opts.seed}` });
  };
  const violation = (message: string) =>
    addFinding(report, { kind: 'violation', target: name, iteration: 0, step: report.states, message, repro: `tz-virtio fuzz --concurrent --target ${opts.target} --seed ${opts.seed}` });

  const publish = () => {
    const old = device instanceof SplitVirtqueueDevice ? device.usedIdx : 0;
    report.states++;
    try {
      device.publishUsed();
    } catch (e) {
      crash('publishUsed', e);
    }
    if (device instanceof SplitVirtqueueDevice) {
      const m = arena.memory;
      for (let k = 0; k < pushed.length; k++) {
        const slot = usedAt + 4 + 8 * ((old + k) & (size - 1));
        if (m.read32(slot) !== pushed[k]!.id || m.read32(slot + 4) !== pushed[k]!.len) violation(`used entry ${k} is not the pushed (${pushed[k]!.id}, ${pushed[k]!.len})`);
      }
    }
    pushed.length = 0;
  };

  const t0 = performance.now();
  const deadline = t0 + (opts.durationMs ?? 2000);
  const maxStates = opts.maxStates ?? Number.POSITIVE_INFINITY;
  while (performance.now() < deadline && report.states < maxStates) {
    for (let k = 0; k < 512; k++) {
      report.states++;
      report.pops++;
      let got = false;
      try {
        got = device.pop(chain);
      } catch (e) {
        if (!isVirtioError(e)) crash('pop', e);
        else {
          bump(report.errorsByCode, e.code);
          if (device.broken !== e) violation(`pop threw ${e.code} but broken is ${device.broken?.code ?? 'unset'}`);
        }
        // DEVICE_NEEDS_RESET: the driver resets the queue and starts over.
        device.reset();
        if (device instanceof SplitVirtqueueDevice) {
          // The driver's re-initialisation of the ring: both indices back to 0 (the scribbler follows via the epoch).
          arena.memory.atomicStore16(usedAt + 2, 0);
          arena.memory.atomicStore16(layout.base + layout.driverOff + 2, 0);
        }
        held.clear();
        pushed.length = 0;
        report.resets++;
        Atomics.add(ctrl, CTRL_EPOCH, 1);
        continue;
      }
      if (!got) continue;
      report.chains++;
      for (let i = 0; i < chain.count; i++) {
        const a = chain.addr[i]!;
        if (!(a >= arena.base && a + chain.len[i]! <= arena.end)) violation(`segment ${a}+${chain.len[i]} outside the shared region`);
      }
      if (held.has(chain.head)) violation(`id ${chain.head} returned while still held`);
      held.set(chain.head, chain.writableBytes);
      // Return what we hold now and then (not always at once, so several chains are in flight).
      if (held.size > 1 + rng.int(4) || rng.chance(0.3)) {
        for (const [id, w] of held) {
          const len = rng.int(w + 1);
          report.states++;
          try {
            device.pushUsed(id, len);
            pushed.push({ id, len });
          } catch (e) {
            if (isVirtioError(e)) violation(`pushUsed(${id}) of a held chain refused: ${e.code}`);
            else crash('pushUsed', e);
          }
        }
        held.clear();
        publish();
      }
    }
    const g = arena.checkGuards();
    if (g >= 0) {
      violation(`a write outside the shared region (guard offset ${g})`);
      arena.fillGuards();
    }
    opts.tick?.();
    // Let the event loop breathe so worker messages (errors) are not starved.
    if (rng.chance(0.02)) await new Promise((r) => setImmediate(r));
  }
  Atomics.store(ctrl, CTRL_STOP, 1);
  await exited;
  report.iterations = 1;
  report.elapsedMs = performance.now() - t0;
  return { ...report, scribbles: Atomics.load(ctrl, CTRL_WRITES) };
}
