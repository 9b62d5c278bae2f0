/**
 * Fuzz target: the vhost-user back-end (src/vhost-user) against a hostile front-end. Each case attaches a fresh
 * back-end serving the vsock device over a socketpair and plays a well-formed session (negotiation, a memory table of
 * a deleted /dev/shm file passed by fd, three rings) in which, at each step, a hostile message may replace the next
 * good one: truncated or oversized messages, unknown requests, bad flags or payload sizes, missing or extra fds,
 * memory tables whose regions overlap, wrap, are empty, misaligned or run past their file, vring addresses outside
 * every region, queue sizes that are not powers of two or above 32768, bad queue indices, enable values, config
 * ranges, kicks before setup, resets, or plain random bytes. The back-end is driven synchronously with pump().
 *
 * Oracles: pump() never throws; every error the back-end reports is a VhostUserError with a stable code, and none is
 * IO_FAILED without a cause (that is how an untyped exception would surface); after an error that cannot be survived
 * (framing, unsupported request, fds) the connection is closed; once the case ends no fd of ours is left open
 * (/proc/self/fd counts before and after); and the same back-end then serves a well-behaved front-end to an active
 * device with no error (it keeps serving the next front-end).
 */
import { closeSync, readdirSync } from 'node:fs';
import { createUnlinkedShmFile } from '../host/shm.js';
import { loadVhostNative, type VhostNative } from '../host/native-vhost.js';
import {
  encodeConfig,
  encodeMemTable,
  encodeMessage,
  encodeU64,
  encodeVringAddr,
  encodeVringState,
  FATAL_ERROR_CODES,
  isVhostUserError,
  MAX_PAYLOAD,
  ProtocolFeature,
  protocolBit,
  Req,
  VhostUserBackend,
  VhostUserErrorCode,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VRING_NOFD_MASK,
} from '../vhost-user/index.js';
import { VsockDevice } from '../vsock/device.js';
import type { Prng } from './prng.js';
import { bump } from './report.js';
import { finding, type FuzzContext, type FuzzTarget } from './target.js';

export const VHOST_USER_MUTATIONS = [
  'truncated',
  'oversized',
  'unknown-request',
  'bad-flags',
  'bad-payload-size',
  'missing-fd',
  'extra-fd',
  'region-overlap',
  'region-wrap',
  'region-past-file',
  'region-empty',
  'region-misaligned',
  'too-many-regions',
  'vring-outside',
  'bad-queue-size',
  'bad-queue-index',
  'bad-enable',
  'config-range',
  'kick-before-setup',
  'reset',
  'random-bytes',
] as const;
type Mutation = (typeof VHOST_USER_MUTATIONS)[number];

const KNOWN_CODES = new Set<string>(Object.values(VhostUserErrorCode));

const MEM = 256 * 1024;
const GPA = 0x1_0000;
const UADDR = 0x7f00_0000_0000;
const QN = 8;

interface Msg {
  bytes: Uint8Array;
  fds: number[];
}

/** A deleted file in /dev/shm: the guest memory a front-end passes by fd. */
const memFile = (): number => createUnlinkedShmFile(MEM, 'tz-fuzz-vu');

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

const ringAddr = (i: number) => ({ desc: GPA + i * 0x2000, avail: GPA + i * 0x2000 + 16 * QN, used: GPA + i * 0x2000 + 0x1000 });
const u = (g: number) => BigInt(g - GPA + UADDR);

/** The well-formed session, message by message (fds are created when a message is sent). */
function goodSession(native: VhostNative, memFd: number, inband: boolean): (() => Msg)[] {
  const m = (req: number, payload?: Uint8Array, fds: number[] = [], flags = 1): Msg => ({ bytes: encodeMessage(req, flags, payload), fds });
  const proto = protocolBit(ProtocolFeature.REPLY_ACK) | protocolBit(ProtocolFeature.BACKEND_REQ) | protocolBit(ProtocolFeature.CONFIG) | (inband ? protocolBit(ProtocolFeature.INBAND_NOTIFICATIONS) : 0n);
  const steps: (() => Msg)[] = [
    () => m(Req.SET_OWNER),
    () => m(Req.GET_FEATURES),
    () => m(Req.GET_PROTOCOL_FEATURES),
    () => m(Req.SET_PROTOCOL_FEATURES, encodeU64(proto), [], 9),
    () => m(Req.SET_FEATURES, encodeU64((1n << 32n) | (1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES))), [], 9),
    () => m(Req.SET_MEM_TABLE, encodeMemTable([{ guestAddr: BigInt(GPA), size: BigInt(MEM - GPA), userAddr: u(GPA), mmapOffset: BigInt(GPA) }], 8), [memFd], 9),
  ];
  for (let i = 0; i < 3; i++) {
    const a = ringAddr(i);
    steps.push(
      () => m(Req.SET_VRING_NUM, encodeVringState(i, QN), [], 9),
      () => m(Req.SET_VRING_BASE, encodeVringState(i, 0), [], 9),
      () => m(Req.SET_VRING_ADDR, encodeVringAddr({ index: i, desc: u(a.desc), avail: u(a.avail), used: u(a.used) }), [], 9),
      () => (inband ? m(Req.SET_VRING_CALL, encodeU64(BigInt(i | VRING_NOFD_MASK)), [], 9) : m(Req.SET_VRING_CALL, encodeU64(BigInt(i)), [native.eventFd()], 9)),
      () => (inband ? m(Req.SET_VRING_ENABLE, encodeVringState(i, 1), [], 9) : m(Req.SET_VRING_KICK, encodeU64(BigInt(i)), [native.eventFd()], 9)),
    );
    if (!inband) steps.push(() => m(Req.SET_VRING_ENABLE, encodeVringState(i, 1), [], 9));
  }
  steps.push(() => m(Req.GET_CONFIG, encodeConfig(0, new Uint8Array(8)), [], 1));
  return steps;
}

function hostile(rng: Prng, native: VhostNative, memFd: number, mutation: Mutation): Msg {
  const m = (req: number, payload?: Uint8Array, fds: number[] = [], flags = 1 | (rng.chance(0.5) ? 8 : 0)): Msg => ({ bytes: encodeMessage(req, flags, payload), fds });
  const region = (g: bigint, size: bigint, ua: bigint, off: bigint) => ({ guestAddr: g, size, userAddr: ua, mmapOffset: off });
  const idx = () => rng.pick([0, 1, 2]);
  switch (mutation) {
    case 'truncated': {
      const full = encodeMessage(rng.pick([Req.SET_FEATURES, Req.SET_VRING_ADDR, Req.SET_MEM_TABLE, Req.GET_CONFIG]), 1, new Uint8Array(rng.range(8, 200)));
      return { bytes: full.subarray(0, rng.range(1, full.length - 1)), fds: [] };
    }
    case 'oversized': {
      const b = encodeMessage(Req.SET_FEATURES, 1, new Uint8Array(8));
      new DataView(b.buffer).setUint32(8, rng.pick([MAX_PAYLOAD + 1, 0x10000, 0x7fff_ffff, 0xffff_ffff]), true);
      return { bytes: b, fds: [] };
    }
    case 'unknown-request':
      return m(rng.pick([0, 6, 7, 19, 20, 22, 23, 26, 33, 36, 37, 39, 41, 99, 0xffff_ffff]), new Uint8Array(rng.pick([0, 8])));
    case 'bad-flags':
      return { bytes: encodeMessage(Req.GET_FEATURES, rng.pick([0, 2, 3, 5, 0x11, 0x8000_0001])), fds: [] };
    case 'bad-payload-size':
      return m(rng.pick([Req.SET_FEATURES, Req.SET_VRING_NUM, Req.SET_VRING_ADDR, Req.GET_FEATURES, Req.SET_VRING_KICK, Req.SET_CONFIG]), new Uint8Array(rng.pick([1, 4, 7, 9, 39, 41, 300])));
    case 'missing-fd': {
      const which = rng.int(3);
      if (which === 0) return m(rng.pick([Req.SET_VRING_KICK, Req.SET_VRING_CALL, Req.SET_VRING_ERR]), encodeU64(BigInt(idx())));
      if (which === 1) return m(Req.SET_BACKEND_REQ_FD);
      return m(Req.SET_MEM_TABLE, encodeMemTable([region(BigInt(GPA), 4096n, u(GPA), 0n), region(0x10_0000n, 4096n, 0x10_0000n, 0n)]), [memFd]);
    }
    case 'extra-fd':
      if (rng.chance(0.5)) return m(rng.pick([Req.GET_FEATURES, Req.SET_OWNER, Req.SET_VRING_NUM]), rng.chance(0.5) ? undefined : encodeVringState(0, QN), [native.eventFd()]);
      return m(Req.SET_MEM_TABLE, encodeMemTable([region(BigInt(GPA), 4096n, u(GPA), 0n)]), [memFd, memFd]);
    case 'region-overlap':
      return m(Req.SET_MEM_TABLE, encodeMemTable([region(BigInt(GPA), 0x8000n, u(GPA), 0n), region(BigInt(GPA + rng.pick([0, 0x1000, 0x7ff8])), 0x4000n, rng.chance(0.5) ? 0x9000_0000n : u(GPA), 0n)]), [memFd, memFd]);
    case 'region-wrap':
      return m(Req.SET_MEM_TABLE, encodeMemTable([region(rng.pick([0xffff_ffff_ffff_f000n, 1n << 53n, BigInt(GPA)]), rng.pick([0x2000n, 0xffff_ffff_ffff_ffffn]), rng.pick([u(GPA), 0xffff_ffff_ffff_f000n]), rng.pick([0n, 0xffff_ffff_ffff_f000n]))]), [memFd]);
    case 'region-past-file':
      return m(Req.SET_MEM_TABLE, encodeMemTable([region(BigInt(GPA), BigInt(rng.pick([MEM, MEM + 4096, 0x4000_0000])), u(GPA), BigInt(rng.pick([0, 4096, MEM])))]), [memFd]);
    case 'region-empty':
      return m(Req.SET_MEM_TABLE, encodeMemTable([region(BigInt(GPA), 0n, u(GPA), 0n)]), [memFd]);
    case 'region-misaligned':
      return m(Req.SET_MEM_TABLE, encodeMemTable([region(BigInt(GPA + rng.pick([1, 3, 4])), 4096n, u(GPA), BigInt(rng.pick([0, 1, 6])))]), [memFd]);
    case 'too-many-regions': {
      const p = encodeMemTable([region(BigInt(GPA), 4096n, u(GPA), 0n)], 8);
      new DataView(p.buffer).setUint32(0, rng.pick([0, 9, 0xffff_ffff]), true);
      return m(Req.SET_MEM_TABLE, p, [memFd]);
    }
    case 'vring-outside': {
      const bad = rng.pick([0n, u(MEM - 8), u(MEM - 16 * QN + 16), 0xffff_ffff_ffff_fff0n, u(GPA) - 16n]);
      const a = ringAddr(idx());
      const which = rng.int(3);
      return m(Req.SET_VRING_ADDR, encodeVringAddr({ index: idx(), desc: which === 0 ? bad : u(a.desc), avail: which === 1 ? bad : u(a.avail), used: which === 2 ? bad : u(a.used) }));
    }
    case 'bad-queue-size':
      return m(Req.SET_VRING_NUM, encodeVringState(idx(), rng.pick([0, 3, 257, 1000, 32769, 65535, 0xffff_ffff])));
    case 'bad-queue-index':
      return m(rng.pick([Req.SET_VRING_NUM, Req.SET_VRING_BASE, Req.GET_VRING_BASE, Req.SET_VRING_ENABLE, Req.VRING_KICK]), encodeVringState(rng.pick([3, 255, 256, 0xffff_ffff]), 1));
    case 'bad-enable':
      return m(Req.SET_VRING_ENABLE, encodeVringState(idx(), rng.pick([2, 0xffff_ffff])));
    case 'config-range':
      return m(rng.pick([Req.GET_CONFIG, Req.SET_CONFIG]), encodeConfig(rng.pick([0, 4, 8, 255, 0xffff_fff0]), new Uint8Array(rng.pick([0, 1, 8, 9, 256]))));
    case 'kick-before-setup':
      return m(Req.VRING_KICK, encodeVringState(idx(), 0));
    case 'reset':
      return m(rng.pick([Req.RESET_OWNER, Req.RESET_DEVICE, Req.GET_VRING_BASE]), rng.chance(0.5) ? undefined : encodeVringState(idx(), 0));
    case 'random-bytes': {
      const b = new Uint8Array(rng.range(1, 64));
      for (let i = 0; i < b.length; i++) b[i] = rng.u32() & 0xff;
      return { bytes: b, fds: [] };
    }
  }
}

/** Reads and drops what the back-end sent (replies), closing any fd that came with it. */
function drain(native: VhostNative, fd: number, buf: Uint8Array): void {
  for (let i = 0; i < 64; i++) {
    const r = native.recvMsg(fd, buf, 8);
    for (let j = 2; j < r.length; j++) native.closeFd(r[j]!);
    if (r[0]! <= 0) return;
  }
}

function runCase(rng: Prng, ctx: FuzzContext, steps: number, native: VhostNative): void {
  const fdsBefore = openFds();
  const device = new VsockDevice({ guestCid: 3, schedule: () => {} });
  const inband = rng.chance(0.5);
  const backend = new VhostUserBackend(device, { native, inband });
  const errors: { code: string; cause: unknown; message: string }[] = [];
  backend.onError((e) => errors.push({ code: isVhostUserError(e) ? e.code : 'untyped', cause: e.details['cause'], message: e.message }));
  const memFd = memFile();
  const buf = new Uint8Array(4096);

  const session = (hostileRate: number, label: string): { active: boolean } => {
    const [fe, be] = native.socketPair();
    backend.attach(be);
    const good = goodSession(native, memFd, inband);
    let next = 0;
    let active = false;
    const bound = hostileRate === 0 ? good.length : steps;
    try {
      for (let s = 0; s < bound && backend.connected; s++) {
        ctx.step = s;
        let msg: Msg;
        if (next < good.length && !rng.chance(hostileRate)) {
          msg = good[next++]!();
        } else {
          const mutation = rng.pick(VHOST_USER_MUTATIONS);
          bump(ctx.report.mutations, mutation);
          msg = hostile(rng, native, memFd, mutation);
        }
        const before = errors.length;
        const own = msg.fds.filter((f) => f !== memFd);
        native.sendMsg(fe, msg.bytes, msg.fds);
        for (const f of own) native.closeFd(f); // the back-end got its own copies
        try {
          backend.pump();
        } catch (e) {
          finding(ctx, 'crash', `${label}: pump() threw ${(e as Error).name}: ${(e as Error).message}`);
          break;
        }
        ctx.tick();
        ctx.report.states++;
        drain(native, fe, buf);
        for (const e of errors.slice(before)) {
          bump(ctx.report.errorsByCode, e.code);
          if (!KNOWN_CODES.has(e.code)) finding(ctx, 'crash', `${label}: an error without a stable code escaped: ${e.message}`);
          else if (e.code === VhostUserErrorCode.IO_FAILED && e.cause === undefined) finding(ctx, 'crash', `${label}: an untyped exception surfaced as IO_FAILED: ${e.message}`);
          if (FATAL_ERROR_CODES.has(e.code) && backend.connected) finding(ctx, 'violation', `${label}: ${e.code} left the connection open`);
        }
        active = backend.deviceActive;
      }
    } finally {
      native.closeFd(fe);
      backend.pump(); // sees EOF (or nothing, when it already closed)
      backend.detach();
    }
    return { active };
  };

  try {
    session(rng.pick([0.05, 0.2, 0.5, 1]), 'hostile front-end');
    // the next front-end gets a clean device and a working session
    const errorsBefore = errors.length;
    const next = session(0, 'next front-end');
    if (errors.length > errorsBefore) finding(ctx, 'violation', `a well-behaved front-end after a hostile one got errors: ${errors.slice(errorsBefore).map((e) => e.message).join('; ')}`);
    else if (!next.active) finding(ctx, 'violation', 'a well-behaved front-end after a hostile one never got the device activated');
    if (device.active) finding(ctx, 'violation', 'the device is still active after its front-end disconnected');
  } finally {
    closeSync(memFd);
  }
  const fdsAfter = openFds();
  if (fdsBefore >= 0 && fdsAfter !== fdsBefore) finding(ctx, 'violation', `descriptors leaked: ${fdsBefore} open before the case, ${fdsAfter} after`);
}

export const vhostUserTarget: FuzzTarget = {
  name: 'vhost-user',
  run(rng, ctx, steps) {
    let native: VhostNative;
    try {
      native = loadVhostNative();
    } catch (e) {
      finding(ctx, 'crash', `the vhost-user target needs the native addon: ${(e as Error).message}`);
      return;
    }
    runCase(rng, ctx, Math.max(8, Math.min(steps, 120)), native);
  },
};
