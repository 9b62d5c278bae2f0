/**
 * The default secure partition: a signing service and a 1 kHz sensor task.
 *
 * - An Ed25519 private key is generated inside the secure partition: its 32-byte seed is drawn straight into secure
 *   RAM (at args.keyAddress, default 0x3C00_1000) and the signing KeyObject is built from those bytes, in this
 *   worker's heap. Neither is ever copied into the IPC region: the non-secure partition can only ask for signatures.
 * - The service "tz-signer" is announced by RPMsg name service and answers SIGN, VERIFY and PUBKEY requests
 *   (examples/signer-protocol.ts) with node:crypto, as an exactly-once stream per client: the next expected
 *   sequence number of each client and a per-sequence delivery tally are kept in secure RAM, so a non-secure
 *   client that crashed and was rebooted resumes where the service stopped (RESUME) and nothing is delivered twice.
 * - A real-time task (period args.sensorPeriodUs, default 1000 µs, priority 1) samples a simulated sensor into a
 *   ring in secure RAM; the runtime measures its release jitter and deadline misses.
 */
import { createPrivateKey, createPublicKey, randomFillSync, sign, verify, type KeyObject } from 'node:crypto';
import type { GuestContext, GuestEndpoint } from '../src/guest/api.js';
import { HEADER, MAX_CLIENTS, Op, PUBKEY_BYTES, SERVICE_NAME, SIG_BYTES, Status, decode, encode } from './signer-protocol.js';

const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SENSOR_RING_SLOTS = 1024;

export default async function main(ctx: GuestContext): Promise<void> {
  const secureRam = ctx.map.windows.find((w) => w.secure)!;
  const keyAddress = Number(ctx.args['keyAddress'] ?? secureRam.base + 0x1000);
  const sensorRing = keyAddress + 0x1000;

  // 1. the key: seed drawn into secure RAM, KeyObject built from it
  const seed = ctx.memory.view(keyAddress, 32);
  randomFillSync(seed);
  const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + 32);
  der.set(PKCS8_ED25519_PREFIX);
  der.set(seed, PKCS8_ED25519_PREFIX.length);
  const privateKey: KeyObject = createPrivateKey({ key: Buffer.from(der.buffer), format: 'der', type: 'pkcs8' });
  der.fill(0);
  const publicKey = createPublicKey(privateKey);
  const rawPub = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  if (rawPub.length !== PUBKEY_BYTES) throw new Error('unexpected public key size');
  ctx.stats.set('keyAddress', `0x${keyAddress.toString(16)}`);

  // 2. the sensor task
  let sample = 0;
  ctx.rt!.task({
    name: 'sensor',
    periodUs: Number(ctx.args['sensorPeriodUs'] ?? 1000),
    priority: 1,
    run: ({ index }) => {
      const value = Math.round(1000 * Math.sin(index / 50));
      ctx.memory.write32(sensorRing + 4 * (sample++ % SENSOR_RING_SLOTS), value);
      ctx.stats.set('sensorSamples', sample);
    },
  });

  // 3. the service, with an exactly-once stream per client (signer-protocol.ts): `next` per client and a delivery
  //    tally (one byte per sequence number: how many times it was delivered) live in secure RAM, so they survive a
  //    reboot of the non-secure partition and the non-secure world can neither read nor forge them
  const streamTable = keyAddress + 0x2000;
  const tallyBase = keyAddress + 0x3000;
  const tallyCap = Math.max(0, Math.min(0x40000, secureRam.base + secureRam.size - tallyBase));
  const tableBytes = ctx.memory.view(streamTable, 4 * MAX_CLIENTS);
  const table = new DataView(tableBytes.buffer, tableBytes.byteOffset, tableBytes.byteLength);
  const tally = ctx.memory.view(tallyBase, tallyCap);
  let deliveredOnce = 0;
  let deliveredTwice = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let resumes = 0;
  const backlog: Array<[number, Uint8Array]> = [];
  let signed = 0;
  let verified = 0;
  let bad = 0;
  // A send on a link that is down (the non-secure side broke the ring rules, or it is being reset) throws a typed
  // RPMsg error: the answer is void then (onReset below clears the rest), not a failure of the service.
  const send = (ep: GuestEndpoint, dst: number, frame: Uint8Array): boolean | 'down' => {
    try {
      return ep.send(dst, frame);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'RPMSG_ERR_NEEDS_RESET' || code === 'RPMSG_ERR_NOT_READY') return 'down';
      throw e;
    }
  };
  const reply = (ep: GuestEndpoint, dst: number, frame: Uint8Array) => {
    if (backlog.length > 0) backlog.push([dst, frame]);
    else if (send(ep, dst, frame) === false) backlog.push([dst, frame]);
  };
  const u32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return b;
  };
  // the endpoint callback only queues (a copy of) the request; the executive runs the service one request per
  // background step, only in the slack before the next sensor release (src/guest/background.ts)
  const inbox: Array<[Uint8Array, number]> = [];
  const handle = (data: Uint8Array, src: number, self: GuestEndpoint) => {
    const req = decode(data);
    const wellFormed = req !== undefined && (req.op === Op.SIGN || req.op === Op.PUBKEY || req.op === Op.RESUME || (req.op === Op.VERIFY && req.data.length >= SIG_BYTES));
    if (req === undefined || !wellFormed) {
      bad++;
      reply(self, src, encode(req?.op ?? 0, Status.BAD_REQUEST, req?.seq ?? 0, new Uint8Array(0)));
      return;
    }
    const client = req.status; // requests carry the client id where responses carry the status
    const next = table.getUint32(4 * client, true);
    if (req.op === Op.RESUME) {
      resumes++;
      const data = new Uint8Array(4 + PUBKEY_BYTES);
      data.set(u32(next));
      data.set(rawPub, 4);
      reply(self, src, encode(Op.RESUME, Status.OK, req.seq, data));
      return;
    }
    if (req.seq < next) {
      duplicates++;
      reply(self, src, encode(req.op, Status.DUPLICATE, req.seq, new Uint8Array(0)));
      return;
    }
    if (req.seq > next) {
      outOfOrder++;
      reply(self, src, encode(req.op, Status.OUT_OF_ORDER, req.seq, u32(next)));
      return;
    }
    // delivered: the stream advances before the answer leaves (an answer lost in a crash is covered by RESUME)
    table.setUint32(4 * client, next + 1, true);
    if (req.seq < tallyCap) {
      const c = tally[req.seq]!;
      tally[req.seq] = Math.min(255, c + 1);
      if (c === 0) deliveredOnce++;
      else if (c === 1) {
        deliveredOnce--;
        deliveredTwice++;
      }
    }
    switch (req.op) {
      case Op.SIGN:
        signed++;
        reply(self, src, encode(Op.SIGN, Status.OK, req.seq, sign(null, req.data, privateKey)));
        return;
      case Op.VERIFY: {
        const msg = req.data.subarray(0, req.data.length - SIG_BYTES);
        const sig = req.data.subarray(req.data.length - SIG_BYTES);
        verified++;
        const ok = verify(null, msg, publicKey, sig);
        reply(self, src, encode(Op.VERIFY, Status.OK, req.seq, Uint8Array.of(ok ? 1 : 0)));
        return;
      }
      default:
        reply(self, src, encode(Op.PUBKEY, Status.OK, req.seq, rawPub));
    }
  };
  // a reset of the link (the non-secure partition rebooted): its requests and our answers to it are void
  let linkResets = 0;
  ctx.rpmsg.onReset(() => {
    linkResets++;
    inbox.length = 0;
    backlog.length = 0;
    ctx.stats.set('linkResets', linkResets);
    ctx.stats.set('sensorSamplesAtReset', sample);
  });
  const maxInbox = Number(ctx.args['maxInbox'] ?? 4096);
  let inboxDropped = 0;
  const ep = ctx.rpmsg.createEndpoint(
    (data, src) => {
      if (inbox.length >= maxInbox) inboxDropped++;
      else inbox.push([data.slice(), src]);
    },
    { name: SERVICE_NAME },
  );
  void HEADER;
  ctx.log(`tz-signer at address ${ep.addr}, key seed at 0x${keyAddress.toString(16)} (secure RAM)`);

  const publish = () => {
    ctx.stats.set('signed', signed);
    ctx.stats.set('verified', verified);
    ctx.stats.set('badRequests', bad);
    ctx.stats.set('inboxDropped', inboxDropped);
    ctx.stats.set('delivery.once', deliveredOnce);
    ctx.stats.set('delivery.twice', deliveredTwice);
    ctx.stats.set('delivery.duplicatesRefused', duplicates);
    ctx.stats.set('delivery.outOfOrder', outOfOrder);
    ctx.stats.set('delivery.resumes', resumes);
  };
  // 4. serve: one step = flush the replies waiting for a buffer, then answer one request
  ctx.rt!.background({
    name: 'tz-signer',
    costUs: Number(ctx.args['serviceCostUs'] ?? 60),
    step: () => {
      while (backlog.length > 0) {
        const [dst, frame] = backlog[0]!;
        const sent = send(ep, dst, frame);
        if (sent === 'down') {
          backlog.length = 0;
          break;
        }
        if (!sent) return false; // no buffer: wait for an event
        backlog.shift();
      }
      const next = inbox.shift();
      if (next === undefined) return false;
      handle(next[0], next[1], ep);
      publish();
      return true;
    },
  });
  publish();
}
