/**
 * The default non-secure partition: a client of the secure "tz-signer" service.
 *
 * It finds the service by RPMsg name service, fetches the public key, then streams args.messages requests (default
 * 2000) with sequence numbers, at most args.window (default 16) outstanding, sent in corked bursts. Every 8th request
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

export default async function main(ctx: GuestContext): Promise<void> {
  const total = Number(ctx.args['messages'] ?? 2000);
  const window = Math.max(1, Number(ctx.args['window'] ?? 16));
  const msgBytes = Math.max(1, Math.min(Number(ctx.args['payloadBytes'] ?? 64), ctx.rpmsg.maxPayload - 8 - SIG_BYTES));
  const keyAddress = Number(ctx.args['keyAddress'] ?? 0x3c00_1000);
  const stallUs = Number(ctx.args['stallTimeoutUs'] ?? 5_000_000);

  await ctx.rpmsg.ready();
  const service = await ctx.rpmsg.findService(SERVICE_NAME);
  ctx.log(`found ${SERVICE_NAME} at address ${service}`);

  const pending = new Map<number, Pending>();
  const rtt = new Samples();
  const signatures = new Map<number, Uint8Array>(); // a few recent ones, for VERIFY requests
  let publicKey: KeyObject | undefined;
  let received = 0;
  let corrupted = 0;
  let bytes = 0;

  const ep = ctx.rpmsg.createEndpoint((data) => {
    const now = ctx.now();
    bytes += data.length;
    const f = decode(data);
    const p = f ? pending.get(f.seq) : undefined;
    if (f === undefined || p === undefined || f.op !== p.op) {
      corrupted++;
      return;
    }
    pending.delete(f.seq);
    received++;
    rtt.add(now - p.sentUs);
    let ok = f.status === Status.OK;
    if (ok && f.op === Op.PUBKEY) {
      ok = f.data.length === PUBKEY_BYTES;
      if (ok) {
        const der = new Uint8Array(SPKI_ED25519_PREFIX.length + PUBKEY_BYTES);
        der.set(SPKI_ED25519_PREFIX);
        der.set(f.data, SPKI_ED25519_PREFIX.length);
        publicKey = createPublicKey({ key: Buffer.from(der.buffer), format: 'der', type: 'spki' });
      }
    } else if (ok && f.op === Op.SIGN) {
      ok = f.data.length === SIG_BYTES && publicKey !== undefined && verify(null, messageFor(f.seq, msgBytes), publicKey, f.data);
      if (ok && signatures.size < 64) signatures.set(f.seq, f.data);
    } else if (ok && f.op === Op.VERIFY) {
      ok = f.data.length === 1 && (f.data[0] === 1) === p.expect;
    }
    if (!ok) corrupted++;
  });

  let nextSeq = 0;
  let sent = 0;
  const send = (op: number, seq: number, data: Uint8Array, expect?: boolean): boolean => {
    const frame = encode(op, 0, seq, data);
    if (!ep.send(service, frame)) return false;
    pending.set(seq, { op, sentUs: ctx.now(), ...(expect !== undefined ? { expect } : {}) });
    bytes += frame.length;
    sent++;
    return true;
  };
  const request = (seq: number): boolean => {
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

  // the public key first (seq 0)
  while (!send(Op.PUBKEY, nextSeq, new Uint8Array(0))) await ctx.idle();
  nextSeq++;
  const t0 = ctx.now();
  while (publicKey === undefined && ctx.now() - t0 < stallUs) await ctx.waitForInterrupt(stallUs);
  if (publicKey === undefined) throw new Error('no public key from the service');

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
  const s = ctx.stats;
  s.set('messages.sent', sent);
  s.set('messages.received', received);
  s.set('messages.lost', sent - received);
  s.set('messages.corrupted', corrupted);
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
