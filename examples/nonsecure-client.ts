/**
 * The default non-secure partition: a client of the secure "tz-signer" service.
 *
 * It finds the service by RPMsg name service, asks where its stream stands (RESUME: the next sequence number the
 * service expects from this client, args.clientId, and the public key), then streams the requests from there up to
 * args.messages (default 2000), at most args.window (default 16) outstanding, sent in corked bursts. Request 0 is
 * PUBKEY. After a reboot of this partition the same code resumes where the service stopped: every request is
 * delivered exactly once (see signer-protocol.ts); answers are journaled in ns-ram (class Journal). Every 8th request
 * is a VERIFY of an earlier signature (every other one tampered, which must be refused); the others are SIGN
 * requests whose signatures it verifies with node:crypto. Halfway through it tries, once, to read the secure key's
 * address (args.keyAddress): the platform must refuse it (a GuestAbort, a SecurityFault recorded by the hypervisor).
 *
 * Results go to ctx.stats: messages.{sent,received,lost,corrupted}, rtt percentiles, throughput, securityFaults.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { GuestContext } from '../src/guest/api.js';
import { isGuestError, GuestErrorCode } from '../src/guest/errors.js';
import { Samples } from '../src/guest/stats.js';
import { Op, PUBKEY_BYTES, SERVICE_NAME, SIG_BYTES, Status, decode, encode, messageFor } from './signer-protocol.js';

const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

interface Pending {
  readonly op: number;
  readonly sentUs: number;
  /** VERIFY: the expected answer. */
  readonly expect?: boolean;
}

/**
 * The acknowledgement journal: one byte per sequence number (how many times an answer was seen) in the partition's
 * private non-secure RAM ("ns-ram"), which a reboot of the partition keeps (as DRAM keeps its contents over a warm
 * reboot). It is how the test of the crash scenario sees what every boot had acknowledged. Without ns-ram it lives
 * in the worker's heap.
 */
class Journal {
  static readonly MAGIC = 0x314a5a54; // "TZJ1"
  private readonly bytes: Uint8Array;
  readonly capacity: number;
  ackedByResume = 0;

  constructor(ctx: GuestContext, total: number) {
    const w = ctx.map.windows.find((x) => x.name === 'ns-ram');
    if (w === undefined || w.size <= 0x100) {
      this.capacity = total;
      this.bytes = new Uint8Array(total);
      return;
    }
    const head = ctx.memory.view(w.base, 16);
    const hv = new DataView(head.buffer, head.byteOffset, 16);
    this.capacity = Math.min(total, w.size - 0x100);
    this.bytes = ctx.memory.view(w.base + 0x100, this.capacity);
    if (hv.getUint32(0, true) !== Journal.MAGIC || hv.getUint32(4, true) !== total) {
      this.bytes.fill(0);
      hv.setUint32(4, total, true);
      hv.setUint32(0, Journal.MAGIC, true);
    }
  }

  ack(seq: number): void {
    if (seq < this.capacity) this.bytes[seq] = Math.min(255, this.bytes[seq]! + 1);
  }

  /** RESUME said every request below `next` was delivered: a cumulative acknowledgement. */
  ackBelow(next: number): void {
    for (let s = 0; s < Math.min(next, this.capacity); s++) {
      if (this.bytes[s] === 0) {
        this.bytes[s] = 1;
        this.ackedByResume++;
      }
    }
  }

  /** Acknowledged sequence numbers below `n`, and those acknowledged more than once. */
  count(n: number): { acked: number; twice: number } {
    let acked = 0;
    let twice = 0;
    for (let s = 0; s < Math.min(n, this.capacity); s++) {
      const b = this.bytes[s]!;
      if (b > 0) acked++;
      if (b > 1) twice++;
    }
    return { acked, twice };
  }
}

export default async function main(ctx: GuestContext): Promise<void> {
  const total = Number(ctx.args['messages'] ?? 2000);
  const window = Math.max(1, Number(ctx.args['window'] ?? 16));
  const msgBytes = Math.max(1, Math.min(Number(ctx.args['payloadBytes'] ?? 64), ctx.rpmsg.maxPayload - 8 - SIG_BYTES));
  const keyAddress = Number(ctx.args['keyAddress'] ?? 0x3c00_1000);
  const stallUs = Number(ctx.args['stallTimeoutUs'] ?? 5_000_000);
  const clientId = Number(ctx.args['clientId'] ?? 1) & 0xff;

  await ctx.rpmsg.ready();
  const service = await ctx.rpmsg.findService(SERVICE_NAME);
  ctx.log(`boot ${ctx.boot}: found ${SERVICE_NAME} at address ${service}`);
  const journal = new Journal(ctx, total);

  const pending = new Map<number, Pending>();
  const rtt = new Samples();
  const signatures = new Map<number, Uint8Array>(); // a few recent ones, for VERIFY requests
  let publicKey: KeyObject | undefined;
  let resumeKey: Uint8Array | undefined;
  let resumeNext = -1;
  let received = 0;
  let corrupted = 0;
  let duplicates = 0;
  let bytes = 0;

  const ep = ctx.rpmsg.createEndpoint((data) => {
    const now = ctx.now();
    bytes += data.length;
    const f = decode(data);
    if (f !== undefined && f.op === Op.RESUME) {
      if (f.status === Status.OK && f.data.length === 4 + PUBKEY_BYTES && resumeNext < 0) {
        resumeNext = new DataView(f.data.buffer, f.data.byteOffset, 4).getUint32(0, true);
        resumeKey = f.data.slice(4);
      } else corrupted++;
      return;
    }
    const p = f ? pending.get(f.seq) : undefined;
    if (f === undefined || p === undefined || f.op !== p.op) {
      corrupted++;
      return;
    }
    pending.delete(f.seq);
    received++;
    rtt.add(now - p.sentUs);
    if (f.status === Status.DUPLICATE) {
      // delivered before (an earlier boot): acknowledged, not delivered again
      duplicates++;
      journal.ackBelow(f.seq + 1);
      return;
    }
    let ok = f.status === Status.OK;
    if (ok && f.op === Op.PUBKEY) {
      ok = f.data.length === PUBKEY_BYTES && resumeKey !== undefined && Buffer.compare(Buffer.from(f.data), Buffer.from(resumeKey)) === 0;
    } else if (ok && f.op === Op.SIGN) {
      ok = f.data.length === SIG_BYTES && publicKey !== undefined && verify(null, messageFor(f.seq, msgBytes), publicKey, f.data);
      if (ok && signatures.size < 64) signatures.set(f.seq, f.data);
    } else if (ok && f.op === Op.VERIFY) {
      ok = f.data.length === 1 && (f.data[0] === 1) === p.expect;
    }
    if (ok) journal.ack(f.seq);
    else corrupted++;
  });

  let sentThisBoot = 0;
  const send = (op: number, seq: number, data: Uint8Array, expect?: boolean): boolean => {
    const frame = encode(op, clientId, seq, data);
    if (!ep.send(service, frame)) return false;
    if (op !== Op.RESUME) pending.set(seq, { op, sentUs: ctx.now(), ...(expect !== undefined ? { expect } : {}) });
    bytes += frame.length;
    sentThisBoot++;
    return true;
  };
  const request = (seq: number): boolean => {
    if (seq === 0) return send(Op.PUBKEY, 0, new Uint8Array(0));
    if (seq % 8 === 7 && signatures.size > 0) {
      const [s0, sig] = signatures.entries().next().value as [number, Uint8Array];
      signatures.delete(s0);
      const tamper = seq % 16 === 15;
      const msg = messageFor(s0, msgBytes);
      if (tamper) msg[0] ^= 0xff;
      const data = new Uint8Array(msg.length + SIG_BYTES);
      data.set(msg);
      data.set(sig, msg.length);
      return send(Op.VERIFY, seq, data, !tamper);
    }
    return send(Op.SIGN, seq, messageFor(seq, msgBytes));
  };

  // RESUME first: where the service's stream for this client stands (0 on a fresh machine), and the public key
  while (!send(Op.RESUME, 0, new Uint8Array(0))) await ctx.idle();
  const t0 = ctx.now();
  while (resumeNext < 0 && ctx.now() - t0 < stallUs) await ctx.waitForInterrupt(stallUs);
  if (resumeNext < 0 || resumeKey === undefined) throw new Error('no RESUME answer from the service');
  const der = new Uint8Array(SPKI_ED25519_PREFIX.length + PUBKEY_BYTES);
  der.set(SPKI_ED25519_PREFIX);
  der.set(resumeKey, SPKI_ED25519_PREFIX.length);
  publicKey = createPublicKey({ key: Buffer.from(der.buffer), format: 'der', type: 'spki' });
  journal.ackBelow(resumeNext);
  let nextSeq = Math.min(resumeNext, total);
  const resumedFrom = nextSeq;
  if (ctx.boot > 0) ctx.log(`boot ${ctx.boot}: resuming the stream at ${resumedFrom} (${journal.ackedByResume} acknowledged by RESUME)`);

  let attempted = 0;
  let blocked = 0;
  let keyLeaked = false;
  const tStart = ctx.now();
  let lastProgress = tStart;
  let lastReceived = received;
  while (nextSeq < total || pending.size > 0) {
    if (nextSeq < total && pending.size < window) {
      ctx.rpmsg.cork();
      try {
        while (nextSeq < total && pending.size < window && request(nextSeq)) nextSeq++;
      } finally {
        ctx.rpmsg.uncork();
      }
    }
    if (attempted === 0 && nextSeq > total / 2) {
      // the deliberate attack: read the secure key's address
      attempted++;
      try {
        const leak = ctx.memory.read(keyAddress, 32);
        keyLeaked = leak.some((b) => b !== 0);
      } catch (e) {
        if (isGuestError(e, GuestErrorCode.SECURITY_FAULT)) blocked++;
        else throw e;
      }
    }
    await ctx.waitForInterrupt(100_000);
    const now = ctx.now();
    if (received !== lastReceived) {
      lastReceived = received;
      lastProgress = now;
    } else if (now - lastProgress > stallUs) {
      ctx.log(`no answer for ${stallUs / 1000} ms: giving up on ${pending.size} outstanding requests`);
      break;
    }
  }
  const elapsedUs = ctx.now() - tStart;
  const r = rtt.summary();
  const j = journal.count(nextSeq);
  const s = ctx.stats;
  // the stream over all boots: requests [0, nextSeq) were sent, the journal says which were acknowledged
  s.set('messages.sent', nextSeq);
  s.set('messages.received', j.acked);
  s.set('messages.lost', nextSeq - j.acked);
  s.set('messages.corrupted', corrupted);
  s.set('messages.acknowledgedTwice', j.twice);
  s.set('messages.duplicates', duplicates);
  s.set('boot', ctx.boot);
  s.set('resumedFrom', resumedFrom);
  s.set('ackedByResume', journal.ackedByResume);
  s.set('sentThisBoot', sentThisBoot);
  s.set('receivedThisBoot', received);
  s.set('bytes', bytes);
  s.set('elapsedUs', elapsedUs);
  s.set('throughputMBps', elapsedUs > 0 ? bytes / elapsedUs : 0);
  s.set('rtt.p50', r.p50);
  s.set('rtt.p99', r.p99);
  s.set('rtt.mean', r.mean);
  s.set('rtt.max', r.max);
  s.set('securityFaults.attempted', attempted);
  s.set('securityFaults.blocked', blocked);
  s.set('keyLeaked', keyLeaked);
  s.set('payloadBytes', msgBytes);
  s.set('window', window);
}
