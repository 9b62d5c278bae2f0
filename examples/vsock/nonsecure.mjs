// Non-secure partition of the "vsock" scenario: connects to the secure signer (vsock port 5000 of CID 2), asks for
// its public key, then streams ctx.args.messages SIGN requests with up to ctx.args.window outstanding and verifies
// every signature with node:crypto. Backpressure: write() returning false waits for 'drain' (the credit window).
import { createPublicKey, verify } from 'node:crypto';
import { Op, PORT, frame, frames, messageFor } from './protocol.mjs';

export default async function main(ctx) {
  const total = ctx.args.messages ?? 500;
  const window = ctx.args.window ?? 16;
  await ctx.vsock.ready();
  const sock = ctx.vsock.connect(PORT);
  let connected = false, pub, received = 0, corrupted = 0, next = 0, bytes = 0;
  const rtts = [];
  const sentAt = new Map();
  sock.on('connect', () => (connected = true));
  sock.on('error', (e) => ctx.log(`vsock error: ${e.message}`));
  sock.on('data', frames((status, seq, data) => {
    bytes += data.length;
    if (seq === 0xffffffff) {
      pub = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), data]), format: 'der', type: 'spki' });
      return;
    }
    const ok = status === 0 && seq === received && verify(null, messageFor(seq), pub, data);
    if (!ok) corrupted++;
    const t = sentAt.get(seq);
    if (t !== undefined) rtts.push(ctx.now() - t);
    sentAt.delete(seq);
    received++;
  }));
  while (!connected) await ctx.waitForInterrupt(100000);
  sock.write(frame(Op.PUBKEY, 0xffffffff, Buffer.alloc(0)));
  while (pub === undefined) await ctx.waitForInterrupt(100000);
  const t0 = ctx.now();
  while (received < total) {
    while (next < total && next - received < window) {
      sentAt.set(next, ctx.now());
      const more = sock.write(frame(Op.SIGN, next, messageFor(next)));
      next++;
      if (!more) break;
    }
    await ctx.waitForInterrupt(100000);
  }
  const seconds = (ctx.now() - t0) / 1e6;
  sock.end();
  rtts.sort((a, b) => a - b);
  ctx.stats.set('messages.sent', total);
  ctx.stats.set('messages.received', received);
  ctx.stats.set('messages.corrupted', corrupted);
  ctx.stats.set('rtt.p50', Math.round(rtts[Math.floor(rtts.length / 2)] ?? 0));
  ctx.stats.set('rtt.p99', Math.round(rtts[Math.floor(rtts.length * 0.99)] ?? 0));
  ctx.stats.set('throughputMBps', Math.round((bytes / 1e6 / Math.max(seconds, 1e-9)) * 100) / 100);
}
