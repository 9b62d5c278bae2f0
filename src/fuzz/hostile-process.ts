/**
 * Fuzz target `hostile-process`: the secure RPMsg remote against a hostile non-secure *process*. The RPMsg region
 * lives in a file mapped MAP_SHARED (in /dev/shm); a second OS process (hostile-writer-process.ts) maps the same file
 * and rewrites the region at full speed (ring indices, descriptors, vdev status, resource table, RPMsg headers) while
 * this process drives the remote through attach, host resets, remote resets, re-attach and steady-state traffic with
 * its own RpmsgHost. The two are not coordinated: a write lands between any two reads of the remote, as on the board.
 *
 *   file: [ guard | RPMsg region (table, vring0, vring1, pool) | guard | control words ]
 *                   ^ both processes                                     ^ STOP / READY / DONE / WRITES
 *
 * Oracles: remote.poll() never throws at all; the remote is never seen half attached (only 'waiting', 'ready',
 * 'needs-reset' outside poll()); a send from the secure service throws nothing but a typed RpmsgError; no write
 * outside the region (the guards); and after the writer stops and the host resets over a sound table, the remote
 * attaches, announces its service and echoes a message.
 *
 * Every iteration starts its own writer process and ends it (STOP, then SIGKILL if it does not finish within 5 s; the
 * writer also ends by itself after a time limit or when this process is gone) and unlinks its file. A replay runs the
 * same configuration and the same writer stream, but the interleaving of two processes cannot be replayed exactly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapSharedFile, unlinkSharedFile } from '../host/shm.js';
import { nativeAvailable, REBUILD_HINT } from '../host/native.js';
import { RpmsgHost, RpmsgRemote, isRpmsgError, planRpmsgRegion, writeResourceTable, type Endpoint, type RpmsgLayout } from '../rpmsg/index.js';
import { FuzzArena } from './arena.js';
import { HW_CTRL_BYTES, HW_DONE, HW_READY, HW_STOP, HW_WRITES, writerParams, type HostileWriterParams } from './hostile-writer.js';
import type { Prng } from './prng.js';
import { bump } from './report.js';
import { finding, guarded, neverThrows, type FuzzContext, type FuzzTarget } from './target.js';
import { fuzzWorkerPath } from './worker-url.js';

const BASE = 0x1000_0000;
const GUARD = 4096;
const SERVICE = 'hostile-echo';
/** Remote-side operations per step of --steps (each poll is a few microseconds: give the writer time to land). */
const OPS_PER_STEP = 25;
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

function shmDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/** Waits (blocking, in slices so the watchdog sees progress) until ctrl[word] is non-zero; false on timeout. */
function waitWord(ctrl: Int32Array, word: number, timeoutMs: number, tick: () => void): boolean {
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(ctrl, word) === 0) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(ctrl, word, 0, Math.min(50, left));
    tick();
  }
  return true;
}

class HostileProcessCase {
  readonly plan: RpmsgLayout;
  readonly arena: FuzzArena;
  readonly host: RpmsgHost;
  readonly remote: RpmsgRemote;
  readonly svc: Endpoint;
  readonly ctrl: Int32Array;
  readonly pristine: Uint8Array;
  readonly region: { start: number; end: number }[];
  echoed: number[] = [];
  channel: Endpoint | undefined;
  /** Every channel the host opened: closed at each restart (as Linux removes a device's channels on reset). */
  private readonly channels: Endpoint[] = [];

  constructor(
    readonly rng: Prng,
    readonly ctx: FuzzContext,
    readonly path: string,
  ) {
    const plan = planRpmsgRegion({
      base: BASE,
      numBuffers: rng.pick([8, 16, 32]),
      bufferSize: rng.pick([64, 128, 512]),
      features: rng.pick([1, (1 | (1 << 29)) >>> 0, (1 | (1 << 29)) >>> 0]),
      align: rng.pick([16, 4096]),
    });
    this.plan = plan;
    const size = Math.ceil(plan.size / 8) * 8;
    const fileSize = 2 * GUARD + size + HW_CTRL_BYTES;
    const buffer = mapSharedFile(path, { size: fileSize, create: true, exclusive: true });
    this.arena = new FuzzArena(BASE, size, GUARD, buffer);
    this.arena.fillGuards();
    this.ctrl = new Int32Array(buffer, 2 * GUARD + size, HW_CTRL_BYTES / 4);
    writeResourceTable(this.arena.memory, plan);
    this.pristine = this.arena.memory.bytes(plan.rscTable, plan.rscTableSize).slice();
    this.region = [{ start: BASE, end: BASE + size }];
    this.host = new RpmsgHost(this.arena.memory, plan, {
      transport: { notify: () => undefined },
      onNameService: (ev, role) => {
        if (ev.type !== 'create' || ev.name !== SERVICE) return;
        this.channel = role.createEndpoint({ name: ev.name, dst: ev.addr, onMessage: (m) => void this.echoed.push(m.data[0] ?? -1) });
        this.channels.push(this.channel);
      },
    });
    this.remote = new RpmsgRemote(this.arena.memory, plan.rscTable, { transport: { notify: () => undefined } });
    this.svc = this.remote.createEndpoint({
      name: SERVICE,
      onMessage: (m, ep) => {
        // Echo through the remote's TX path over host buffers the writer may be rewriting: typed errors only.
        try {
          ep.trySendTo(m.src, m.copy());
        } catch (e) {
          if (!isRpmsgError(e)) throw e;
        }
      },
    });
  }

  params(seed: number, stream: number, maxMs: number): HostileWriterParams {
    const size = this.arena.size;
    return writerParams(this.plan, { fileSize: 2 * GUARD + size + HW_CTRL_BYTES, regionOff: GUARD, regionSize: size, ctrlOff: 2 * GUARD + size, seed, stream, maxMs });
  }

  /** The host (the non-secure OS, well-behaved part) re-lays the table and starts the device again. */
  hostRestart(): void {
    this.arena.memory.write(this.plan.rscTable, this.pristine);
    this.channel = undefined;
    try {
      this.host.reset();
      for (const ch of this.channels.splice(0)) ch.destroy();
      this.host.start();
    } catch {
      // the writer may have broken the host's view too: not under test
    }
  }

  remotePoll(what = 'remote.poll'): void {
    const wasNeedsReset = this.remote.needsReset;
    const r = guarded(this.ctx, this.arena, what, this.region, () => this.remote.poll(), false, neverThrows);
    if (!r.ok) return;
    const s = this.remote.state;
    if (s !== 'waiting' && s !== 'ready' && s !== 'needs-reset') finding(this.ctx, 'violation', `the remote left poll() half attached (state '${s}')`);
    if (!wasNeedsReset && this.remote.needsReset) {
      const code = (this.remote.lastError as { code?: unknown } | undefined)?.code;
      bump(this.ctx.report.errorsByCode, typeof code === 'string' ? code : 'untyped');
      if (typeof code !== 'string') finding(this.ctx, 'violation', `the remote entered needs-reset on an untyped error: ${String(this.remote.lastError)}`);
    }
  }

  hostTraffic(): void {
    try {
      this.host.poll();
      const ch = this.channel;
      if (ch !== undefined && !ch.destroyed) ch.trySend(new Uint8Array([this.rng.int(256), 1, 2, 3]));
    } catch {
      // non-secure side
    }
  }

  serviceSend(): void {
    // A send by the secure service outside poll(): acquireTx may find new rings and re-attach inside the send.
    guarded(this.ctx, this.arena, 'service.trySend', this.region, () => this.svc.trySendTo(this.rng.pick([1024, 1025, 0xffff_fffe]), new Uint8Array(8)), false, isRpmsgError);
  }

  /** Liveness once the writer is gone: a host restart over a sound table must bring the service back. */
  checkRecovers(): void {
    this.hostRestart();
    this.echoed = [];
    for (let i = 0; i < 8 && this.channel === undefined; i++) {
      this.remotePoll('remote.poll (recovery)');
      this.hostTraffic();
    }
    const ch = this.channel;
    if (this.remote.state !== 'ready' || ch === undefined) {
      finding(this.ctx, 'violation', `after the writer stopped and the host restarted, the service was not announced (remote '${this.remote.state}', ${String(this.remote.lastError)})`);
      return;
    }
    let sent = false;
    try {
      sent = ch.trySend(new Uint8Array([0xa7]));
    } catch {
      sent = false;
    }
    for (let i = 0; i < 6 && !this.echoed.includes(0xa7); i++) {
      this.remotePoll('remote.poll (recovery)');
      try {
        this.host.poll();
      } catch {
        // non-secure side
      }
    }
    if (!sent || !this.echoed.includes(0xa7)) finding(this.ctx, 'violation', `after recovery the service did not echo (sent ${sent}, remote '${this.remote.state}')`);
  }
}

export const hostileProcessTarget: FuzzTarget = {
  name: 'hostile-process',
  run(rng: Prng, ctx: FuzzContext, steps: number): void {
    if (!nativeAvailable()) throw new Error(`the hostile-process target maps a shared file and needs the native addon; ${REBUILD_HINT}`);
    const path = join(shmDir(), `tz-virtio-hostile-${process.pid}-${ctx.iteration}-${rng.u32().toString(16)}`);
    let child: ChildProcess | undefined;
    let c: HostileProcessCase | undefined;
    try {
      c = new HostileProcessCase(rng, ctx, path);
      const ops = Math.max(1, steps) * OPS_PER_STEP;
      // The writer's own time limit: generous for a loaded machine, still finite.
      const maxMs = 60_000 + ops;
      child = spawn(process.execPath, [fuzzWorkerPath('hostile-writer-process.js'), path, JSON.stringify(c.params(ctx.report.seed, 0x4057_0000 + ctx.iteration, maxMs))], { stdio: 'ignore' });
      child.on('error', () => undefined);
      if (!waitWord(c.ctrl, HW_READY, START_TIMEOUT_MS, ctx.tick)) {
        finding(ctx, 'crash', `the hostile writer process did not start within ${START_TIMEOUT_MS} ms`);
        return;
      }
      c.hostRestart();
      for (let i = 0; i < ops; i++) {
        ctx.step = i;
        const x = rng.int(100);
        if (x < 55) c.remotePoll();
        else if (x < 75) c.hostTraffic();
        else if (x < 85) c.serviceSend();
        else if (x < 93) c.hostRestart();
        else if (x < 97) {
          // A reset of the remote by its own side (re-attach from scratch at the next poll).
          c.remote.reset();
          c.remotePoll();
        } else {
          // Give the writer the core for a moment (on a loaded machine it may not have run at all yet).
          Atomics.wait(c.ctrl, HW_DONE, 0, 1);
          ctx.tick();
        }
      }
      ctx.report.resets += c.remote.hostResets;
      ctx.report.mutations['hostile-process-writes'] = (ctx.report.mutations['hostile-process-writes'] ?? 0) + (Atomics.load(c.ctrl, HW_WRITES) >>> 0);
      Atomics.store(c.ctrl, HW_STOP, 1);
      if (!waitWord(c.ctrl, HW_DONE, STOP_TIMEOUT_MS, ctx.tick)) child.kill('SIGKILL');
      c.checkRecovers();
    } finally {
      if (c !== undefined) Atomics.store(c.ctrl, HW_STOP, 1);
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        // Finished writers exit on their own right after DONE; anything else is stopped here.
        if (c === undefined || Atomics.load(c.ctrl, HW_DONE) === 0) child.kill('SIGKILL');
      }
      try {
        unlinkSharedFile(path);
      } catch {
        // nothing to remove
      }
    }
  },
};
