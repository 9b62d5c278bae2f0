/**
 * Fuzz target: the RPMsg remote (the secure side's VirtIO device of the RPMsg vdev) against a hostile host.
 *
 * The host is the project's own RpmsgHost (so rings, table and buffers start well-formed); the fuzzer then sends
 * sequence-numbered messages to a secure echo endpoint and, between polls, breaks things the non-secure side can
 * reach: message headers (len beyond the buffer, unknown destinations, junk name-service messages), buffer
 * descriptors (too short, writable, outside the buffer window, chained), ring indices, the resource table and the
 * vdev status byte.
 *
 * Oracles: remote.poll() and the echo endpoint's sends never throw; no write outside the region (canaries) or
 * inside it outside the used rings, the buffer pool and the vdev status/gfeatures; every message delivered lies in
 * the region and fits its buffer; while only RPMsg-level damage was done ("clean" at the VirtIO level) every sent
 * message arrives exactly once, in order, byte-exact, and each damaged message is dropped and counted (malformed or
 * unknown destination) without a reset; a VirtIO-level violation makes the remote set DEVICE_NEEDS_RESET, and after
 * the host resets and starts again the service answers again.
 */
import { RpmsgHost, RpmsgRemote, layoutFromResourceTable, planRpmsgRegion, writeResourceTable, type Endpoint, type RpmsgLayout } from '../rpmsg/index.js';
import { DeviceStatus, splitLegacyLayout } from '../virtio/index.js';
import { FuzzArena, type Range } from './arena.js';
import type { Prng } from './prng.js';
import { bump } from './report.js';
import { finding, guarded, neverThrows, type FuzzContext, type FuzzTarget } from './target.js';
import { isRpmsgError } from '../rpmsg/index.js';
import { isVirtioError } from '../virtio/index.js';

export const RPMSG_MUTATIONS = [
  'header-len',
  'unknown-dst',
  'ns-junk',
  'short-buffer',
  'buffer-outside-window',
  'writable-tx-buffer',
  'rx-buffer-readable',
  'chained-buffer',
  'avail-idx-jump',
  'desc-field',
  'table-vring',
  'table-features',
  'status-bits',
  'random-word',
] as const;

const ECHO_ADDR = 9;

interface Sent {
  seq: number;
  data: Uint8Array;
}

class RpmsgCase {
  readonly layout: RpmsgLayout;
  readonly arena: FuzzArena;
  readonly host: RpmsgHost;
  readonly remote: RpmsgRemote;
  readonly allowed: Range[];
  hostEp: Endpoint;
  readonly echoEp: Endpoint;
  seq = 0;
  expected: Sent[] = [];
  /** Drops the remote must count for messages damaged at the RPMsg level (clean rings). */
  expectMalformed = 0;
  expectUnknown = 0;
  clean = true;
  echoesSent = 0;
  echoesGot = 0;
  readonly r0: ReturnType<typeof splitLegacyLayout>;
  readonly r1: ReturnType<typeof splitLegacyLayout>;

  constructor(
    readonly rng: Prng,
    readonly ctx: FuzzContext,
  ) {
    // RPMsg vring addresses are u32 (fw_rsc_vdev_vring.da): the region stays below 4 GiB.
    const base = rng.pick([0x1000_0000, 0x3bf0_0000]);
    const numBuffers = rng.pick([4, 8, 16, 32]);
    const bufferSize = rng.pick([64, 128, 512]);
    const features = rng.pick([0, 1, (1 << 29) >>> 0, (1 | (1 << 29)) >>> 0]);
    const plan = planRpmsgRegion({ base, numBuffers, bufferSize, features, align: rng.pick([16, 4096]) });
    this.layout = plan;
    this.arena = new FuzzArena(base, Math.ceil(plan.size / 8) * 8, 1024);
    writeResourceTable(this.arena.memory, plan);
    this.host = new RpmsgHost(this.arena.memory, plan, { transport: { notify: () => undefined } });
    // Host buffers must lie in the buffer pool (the remote's default window is the pool named by the table, with the
    // table and both vrings cut out; given explicitly here so the oracle below uses the same bounds).
    this.remote = new RpmsgRemote(this.arena.memory, plan.rscTable, {
      transport: { notify: () => undefined },
      bufferWindow: { base: plan.buffers.base, size: plan.buffers.count * plan.buffers.size },
    });
    this.r0 = splitLegacyLayout(plan.vring0.da, plan.vring0.num, plan.vring0.align);
    this.r1 = splitLegacyLayout(plan.vring1.da, plan.vring1.num, plan.vring1.align);
    const b = plan.buffers;
    this.allowed = [
      { start: this.r0.used, end: this.r0.used + 6 + 8 * plan.vring0.num },
      { start: this.r1.used, end: this.r1.used + 6 + 8 * plan.vring1.num },
      { start: b.base, end: b.base + b.count * b.size },
      { start: plan.statusAddr, end: plan.statusAddr + 1 },
    ];
    this.echoEp = this.remote.createEndpoint({
      addr: ECHO_ADDR,
      onMessage: (m, ep) => {
        const d = m.data;
        const a = this.arena;
        if (d.buffer !== a.buffer || d.byteOffset < a.guard || d.byteOffset + d.length > a.guard + a.size) {
          finding(ctx, 'violation', `a delivered payload view lies outside the shared region`);
        }
        if (m.len > plan.buffers.size - 16) finding(ctx, 'violation', `a delivered message of ${m.len} bytes exceeds its ${plan.buffers.size}-byte buffer`);
        const copy = m.copy();
        ctx.report.chains++;
        if (this.clean) {
          const e = this.expected.shift();
          if (e === undefined) finding(ctx, 'violation', `clean ring: message delivered that was never sent`);
          else if (!sameBytes(e.data, copy)) finding(ctx, 'violation', `clean ring: message ${e.seq} arrived altered`);
        }
        // Echo: the remote's TX path over the host's (possibly hostile) RX buffers; must never throw.
        if (ep.trySendTo(m.src, copy)) this.echoesSent++;
      },
    });
    this.hostEp = this.newHostEndpoint();
  }

  private newHostEndpoint(): Endpoint {
    return this.host.createEndpoint({ dst: ECHO_ADDR, onMessage: () => void this.echoesGot++ });
  }

  get mem() {
    return this.arena.memory;
  }

  start(): void {
    this.host.start();
    this.remotePoll();
  }

  /** The last buffer the host made available on vring1, read back from the ring. */
  private lastTx(): { desc: number; buf: number } | undefined {
    const L = this.layout.vring1;
    const idx = this.mem.read16(this.r1.avail + 2);
    const head = this.mem.read16(this.r1.avail + 4 + 2 * ((idx - 1) & (L.num - 1)));
    if (head >= L.num) return undefined;
    const desc = this.r1.desc + 16 * head;
    return { desc, buf: this.mem.read64(desc) };
  }

  send(): Sent | undefined {
    const n = this.rng.range(8, Math.max(8, this.host.maxPayload));
    const data = new Uint8Array(n);
    const seq = this.seq++;
    new DataView(data.buffer).setUint32(0, seq, true);
    for (let i = 4; i < n; i++) data[i] = (seq * 13 + i) & 0xff;
    let ok = false;
    try {
      ok = this.hostEp.trySend(data);
    } catch {
      // The host is the non-secure side: its own errors are its business.
      return undefined;
    }
    if (!ok) return undefined;
    const s = { seq, data };
    this.expected.push(s);
    return s;
  }

  remotePoll(): void {
    this.ctx.report.pops++;
    const wasNeedsReset = this.remote.needsReset;
    // poll() must never throw, not even a typed error: hostile input ends in a drop or in DEVICE_NEEDS_RESET.
    const r = guarded(this.ctx, this.arena, 'remote.poll', this.allowedNow(), () => this.remote.poll(), true, neverThrows);
    if (!r.ok) return;
    // Entering needs-reset, the remote must say so in the vdev status (the host may overwrite it later: its memory).
    if (!wasNeedsReset && this.remote.needsReset) {
      const code = (this.remote.lastError as { code?: unknown } | undefined)?.code;
      bump(this.ctx.report.errorsByCode, typeof code === 'string' ? code : 'unknown');
    }
    if (!wasNeedsReset && this.remote.needsReset && (this.mem.read8(this.layout.statusAddr) & DeviceStatus.DEVICE_NEEDS_RESET) === 0) {
      finding(this.ctx, 'violation', 'the remote entered needs-reset without setting DEVICE_NEEDS_RESET in the vdev status');
    }
    const st = this.remote.stats;
    if (this.clean && this.remote.ready) {
      if (st.droppedMalformed !== this.expectMalformed) finding(this.ctx, 'violation', `clean ring: ${st.droppedMalformed} malformed drops counted, ${this.expectMalformed} expected`);
      if (st.droppedUnknownDst !== this.expectUnknown) finding(this.ctx, 'violation', `clean ring: ${st.droppedUnknownDst} unknown-destination drops counted, ${this.expectUnknown} expected`);
      if (this.expected.length > 0) finding(this.ctx, 'violation', `clean ring: ${this.expected.length} sent messages not delivered`);
    }
    if (this.clean && !this.remote.ready) finding(this.ctx, 'violation', `clean ring: the remote left ready (${String(this.remote.lastError)})`);
  }

  hostPoll(): void {
    try {
      this.host.poll();
    } catch {
      // non-secure side
    }
    // The non-secure OS resets the device when either side asked for it, or (a timeout) when the remote stopped
    // answering because the host's own state was damaged (status byte cleared, table broken).
    if (this.host.needsReset || this.remote.needsReset || (!this.remote.ready && this.rng.chance(0.3))) this.resetAll();
  }

  /** DEVICE_NEEDS_RESET seen: the host resets and starts again; the service must answer a fresh message. */
  resetAll(): void {
    this.ctx.report.resets++;
    this.clean = false;
    // The non-secure OS re-initialises its side: a fresh table, then reset + start. A remote that was still
    // ready never saw the status go through 0 (the reset is synchronous here); it finds the stale rings, asks for a
    // reset again, and the second reset finds it waiting. At most two rounds.
    for (let round = 0; round < 2; round++) {
      try {
        writeResourceTable(this.mem, this.layout);
        this.host.reset();
        // The host lets the remote see the reset (status 0) before starting again, as the machine's reset
        // handshake does. (A remote that misses it now detects the new rings from used.idx: docs/robustness.md.)
        this.remotePoll();
        this.host.start();
      } catch {
        return;
      }
      this.remotePoll();
      if (this.remote.ready) break;
    }
    if (!this.remote.ready) {
      finding(this.ctx, 'violation', `after the host's reset the remote did not attach again (${String(this.remote.lastError)})`);
      return;
    }
    this.clean = true;
    this.expected = [];
    this.expectMalformed = this.remote.stats.droppedMalformed;
    this.expectUnknown = this.remote.stats.droppedUnknownDst;
    if (this.send() !== undefined) this.remotePoll();
  }

  private wreck(kind: string): void {
    this.clean = false;
    bump(this.ctx.report.mutations, kind);
  }

  mutate(): void {
    const rng = this.rng;
    const m = this.mem;
    const kind = rng.pick(RPMSG_MUTATIONS);
    const bsize = this.layout.buffers.size;
    switch (kind) {
      case 'header-len':
      case 'unknown-dst':
      case 'ns-junk': {
        // RPMsg-level damage to a message just sent: dropped and counted, no reset.
        const s = this.send();
        const t = this.lastTx();
        if (s === undefined || t === undefined) return;
        this.expected.pop();
        if (kind === 'header-len') {
          m.write16(t.buf + 12, rng.chance(0.3) ? bsize - 15 : rng.range(bsize - 15, 0xffff));
          this.expectMalformed++;
        } else if (kind === 'unknown-dst') {
          m.write32(t.buf + 4, rng.pick([0, 1, 52, 1023, 0xffff_ffff, rng.range(1024, 0xffff_fffe)]));
          this.expectUnknown++;
        } else {
          m.write32(t.buf + 4, 53);
          const len = rng.pick([0, 1, 39, 40, 41, Math.min(bsize - 16, 40 + rng.int(20))]);
          m.write16(t.buf + 12, len);
          const nsOn = (this.host.negotiatedFeatures & 1) !== 0;
          if (len > s.data.length) this.expectMalformed++;
          else if (!nsOn) this.expectUnknown++;
          else if (len === 40) {
            // A well-sized but junk announcement: whether it decodes depends on the bytes, so it is not counted.
            for (let i = 0; i < 32; i++) m.write8(t.buf + 16 + i, rng.chance(0.5) ? 0x41 : rng.int(256));
            m.write32(t.buf + 16 + 36, rng.chance(0.5) ? 7 : rng.u32());
            this.clean = false;
          } else this.expectMalformed++;
        }
        bump(this.ctx.report.mutations, kind);
        return;
      }
      case 'short-buffer': {
        const s = this.send();
        const t = this.lastTx();
        if (s === undefined || t === undefined) return;
        this.expected.pop();
        m.write32(t.desc + 8, rng.int(16));
        this.expectMalformed++;
        bump(this.ctx.report.mutations, kind);
        return;
      }
      case 'buffer-outside-window': {
        const t = this.send() === undefined ? undefined : this.lastTx();
        if (t === undefined) return this.randomWord();
        this.expected.pop();
        const a = this.arena;
        // Outside the device's memory: the VirtIO walk refuses the chain (typed error, DEVICE_NEEDS_RESET).
        m.write64(t.desc, rng.pick([a.base - 64, a.end - 8, a.end, 0x3c00_0000, 0]));
        break;
      }
      case 'writable-tx-buffer': {
        const t = this.send() === undefined ? undefined : this.lastTx();
        if (t === undefined) return this.randomWord();
        this.expected.pop();
        m.write16(t.desc + 12, m.read16(t.desc + 12) | 2);
        this.expectMalformed++;
        bump(this.ctx.report.mutations, kind);
        return;
      }
      case 'rx-buffer-readable': {
        // A host RX buffer (vring0) the remote would write into: made readable or pointed outside.
        const i = rng.int(this.layout.vring0.num);
        const d = this.r0.desc + 16 * i;
        if (rng.chance(0.5)) m.write16(d + 12, 0);
        else m.write64(d, rng.pick([this.arena.base - 64, 0x3c00_0000, this.arena.end]));
        break;
      }
      case 'chained-buffer': {
        const i = rng.int(this.layout.vring1.num);
        const d = this.r1.desc + 16 * i;
        m.write16(d + 12, m.read16(d + 12) | 1);
        m.write16(d + 14, rng.chance(0.5) ? i : rng.u16());
        break;
      }
      case 'avail-idx-jump': {
        const r = rng.chance(0.5) ? this.r1 : this.r0;
        m.atomicStore16(r.avail + 2, (m.read16(r.avail + 2) + rng.range(this.layout.vring1.num + 1, 0xffff)) & 0xffff);
        break;
      }
      case 'desc-field': {
        const r = rng.chance(0.5) ? this.r1 : this.r0;
        const d = r.desc + 16 * rng.int(this.layout.vring0.num) + 4 * rng.int(4);
        m.write32(d, rng.edgyU32());
        break;
      }
      case 'table-vring': {
        // The table is re-read at the next attach: vring address, alignment, size.
        const vring = this.layout.vdev + 28 + 20 * rng.int(2);
        m.write32(vring + 4 * rng.int(3), rng.edgyU32());
        m.write8(this.layout.statusAddr, 0);
        break;
      }
      case 'table-features':
        m.write32(this.layout.vdev + 16, rng.edgyU32());
        m.write8(this.layout.statusAddr, 0);
        break;
      case 'status-bits':
        m.write8(this.layout.statusAddr, rng.pick([0, DeviceStatus.FAILED, DeviceStatus.DEVICE_NEEDS_RESET, 0xff, rng.int(256)]));
        break;
      case 'random-word':
        return this.randomWord();
    }
    this.wreck(kind);
  }

  private randomWord(): void {
    this.mem.write32(this.arena.base + 4 * this.rng.int(this.arena.size / 4), this.rng.edgyU32());
    this.wreck('random-word');
  }

  /**
   * Where the remote may write: the used rings (of the layout it attached with, and of the table as it stands now:
   * the host may move the vrings and restart), the buffer pool, the vdev status byte.
   */
  private allowedNow(): Range[] {
    const out = [...this.allowed];
    const add = (L: RpmsgLayout | undefined) => {
      if (L === undefined) return;
      for (const v of [L.vring0, L.vring1]) {
        try {
          const l = splitLegacyLayout(v.da, v.num, v.align);
          out.push({ start: l.used, end: l.used + 6 + 8 * v.num });
        } catch {
          // a table the remote will refuse: no ring there
        }
      }
    };
    add(this.remote.layout);
    try {
      add(layoutFromResourceTable(this.mem, this.layout.rscTable));
    } catch {
      // a damaged table: the remote refuses to attach with it
    }
    return out;
  }

  /** Adds the remote's drop counters to the report (dropped and counted, no reset). */
  finish(): void {
    const st = this.remote.stats;
    if (st.droppedMalformed > 0) bump(this.ctx.report.errorsByCode, 'RPMSG_DROPPED_MALFORMED', st.droppedMalformed);
    if (st.droppedUnknownDst > 0) bump(this.ctx.report.errorsByCode, 'RPMSG_DROPPED_UNKNOWN_DST', st.droppedUnknownDst);
  }

  /** The secure side sends on its own (not an echo): exercises acquiring host RX buffers. */
  remoteSend(): void {
    const ep = this.echoEp;
    const r = guarded(this.ctx, this.arena, 'remote send', this.allowedNow(), () => ep.trySendTo(this.hostEp.addr, new Uint8Array(this.rng.range(1, 16))), false, typedError);
    // A typed error is the API's answer (NOT_READY, NEEDS_RESET, or PAYLOAD_TOO_LARGE when the host posted tiny RX
    // buffers); anything else was already recorded as a crash by guarded().
    void r;
  }
}

function typedError(e: unknown): e is { code: string } & Error {
  return isRpmsgError(e) || isVirtioError(e);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const rpmsgTarget: FuzzTarget = {
  name: 'rpmsg',
  run(rng: Prng, ctx: FuzzContext, steps: number): void {
    const c = new RpmsgCase(rng, ctx);
    c.start();
    const mutateP = rng.pick([0.03, 0.1, 0.25]);
    for (let s = 0; s < steps; s++) {
      ctx.step = s;
      const x = rng.u32() / 0x1_0000_0000;
      if (x < mutateP) c.mutate();
      else if (x < 0.45) c.send();
      else if (x < 0.75) c.remotePoll();
      else if (x < 0.92) c.hostPoll();
      else c.remoteSend();
    }
    c.finish();
  },
};
