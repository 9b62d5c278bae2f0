/**
 * Soak sender (the non-secure partition, RPMsg host): streams args.messages data frames of random sizes to the
 * secure "tz-soak" service, at most args.window unacknowledged, and reads the receiver's cumulative acks.
 *
 * Backpressure: when no TX buffer is free, or the window is full, it waits for an interrupt; if nothing moves for
 * args.stallTimeoutUs it stops with a timeout (soak.timeout = 1) instead of spinning or queueing without bound.
 * The stall is judged when an acknowledgement arrives too, not only while waiting: on one core a receiver that stops
 * reading keeps the core (the secure world runs until idle), so the sender runs again only once acknowledgements
 * flow; an acknowledgement that arrives more than stallTimeoutUs after the previous one is a timeout all the same.
 * Nothing is buffered beyond the window, so memory stays bounded whatever the receiver does.
 */
import { getHeapStatistics } from 'node:v8';
import type { GuestContext } from '../guest/api.js';
import { FRAME_HEADER, KIND_ACK, KIND_DATA, StreamChecker, encodeFrame, fillBody } from './frame.js';

export const SOAK_SERVICE = 'tz-soak';

export default async function main(ctx: GuestContext): Promise<void> {
  const total = Number(ctx.args['messages'] ?? 10_000);
  const window = Math.max(1, Number(ctx.args['window'] ?? 64));
  const seed = Number(ctx.args['seed'] ?? 1) >>> 0;
  const stallUs = Number(ctx.args['stallTimeoutUs'] ?? 10_000_000);
  const maxBody = Math.max(0, Math.min(Number(ctx.args['maxBody'] ?? 1 << 16), ctx.rpmsg.maxPayload - FRAME_HEADER));
  const minBody = Math.max(0, Math.min(Number(ctx.args['minBody'] ?? 0), maxBody));
  const s = ctx.stats;
  const heap0 = getHeapStatistics().used_heap_size;
  let heapMax = heap0;

  await ctx.rpmsg.ready();
  const service = await ctx.rpmsg.findService(SOAK_SERVICE);
  const acks = new StreamChecker();
  let acked = 0;
  let ackRegressions = 0;
  let lastProgress = ctx.now();
  let lastAcked = 0;
  let lateAckUs = 0;
  const ep = ctx.rpmsg.createEndpoint((data) => {
    const f = acks.accept(data, KIND_ACK);
    if (f === undefined || f.body.length !== 4) return;
    const n = new DataView(f.body.buffer, f.body.byteOffset, 4).getUint32(0, true);
    if (n < acked) ackRegressions++;
    else acked = n;
    if (acked !== lastAcked) {
      const now = ctx.now();
      // the deadline passed before this acknowledgement came (the sender was not running to see it pass)
      if (sent > lastAcked && now - lastProgress > stallUs) lateAckUs = Math.max(lateAckUs, now - lastProgress);
      lastAcked = acked;
      lastProgress = now;
    }
  });

  const frame = new Uint8Array(FRAME_HEADER + maxBody);
  // A small PRNG for sizes (independent of the body filler).
  let r = seed * 2654435761 || 1;
  const nextSize = () => {
    r ^= r << 13;
    r ^= r >>> 17;
    r ^= r << 5;
    return minBody + ((r >>> 0) % (maxBody - minBody + 1));
  };

  let sent = 0;
  let waits = 0;
  let timeout = false;
  let bodyLen = nextSize();
  const tStart = ctx.now();
  lastProgress = tStart;
  while (acked < total) {
    if (sent < total && sent - acked < window) {
      ctx.rpmsg.cork();
      try {
        while (sent < total && sent - acked < window) {
          const n = encodeFrame(frame, sent, KIND_DATA, bodyLen, (b) => fillBody(b, seed, sent));
          if (!ep.send(service, frame.subarray(0, n))) break;
          sent++;
          bodyLen = nextSize();
        }
      } finally {
        ctx.rpmsg.uncork();
      }
    }
    if (acked >= total || lateAckUs > 0) {
      if (lateAckUs > 0) {
        timeout = true;
        ctx.log(`backpressure: an acknowledgement came ${(lateAckUs / 1000).toFixed(0)} ms after the previous one (limit ${stallUs / 1000} ms): giving up (timeout)`);
      }
      break;
    }
    waits++;
    await ctx.waitForInterrupt(100_000);
    if (lateAckUs === 0 && ctx.now() - lastProgress > stallUs && sent > acked) {
      timeout = true;
      ctx.log(`backpressure: no acknowledgement for ${stallUs / 1000} ms with ${sent - acked} outstanding: giving up (timeout)`);
      break;
    }
    if ((waits & 1023) === 0) heapMax = Math.max(heapMax, getHeapStatistics().used_heap_size);
  }
  if (!timeout && lateAckUs > 0) {
    timeout = true;
    ctx.log(`backpressure: an acknowledgement came ${(lateAckUs / 1000).toFixed(0)} ms after the previous one (limit ${stallUs / 1000} ms): timeout`);
  }
  const elapsedUs = ctx.now() - tStart;
  heapMax = Math.max(heapMax, getHeapStatistics().used_heap_size);
  s.set('soak.sent', sent);
  s.set('soak.acked', acked);
  s.set('soak.ackCorrupted', acks.corrupted);
  s.set('soak.ackRegressions', ackRegressions);
  s.set('soak.waits', waits);
  s.set('soak.timeout', timeout ? 1 : 0);
  s.set('soak.elapsedUs', elapsedUs);
  s.set('soak.heapStart', heap0);
  s.set('soak.heapEnd', getHeapStatistics().used_heap_size);
  s.set('soak.heapMax', heapMax);
}
