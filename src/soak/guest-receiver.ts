/**
 * Soak receiver (the secure partition, RPMsg remote): the "tz-soak" service. Checks every data frame (sequence
 * number and CRC: lost, duplicated, corrupted) and acknowledges cumulatively every args.ackEvery frames, and
 * whenever it goes idle with something unacknowledged.
 *
 * args.pauseAtMessage / args.pauseMs: after that many messages it stops reading for pauseMs (it does not idle, so
 * nothing is received or acknowledged: the sender must wait or time out), then resumes.
 */
import { getHeapStatistics } from 'node:v8';
import type { GuestContext } from '../guest/api.js';
import { FRAME_HEADER, KIND_ACK, KIND_DATA, StreamChecker, encodeFrame } from './frame.js';

export default async function main(ctx: GuestContext): Promise<void> {
  const ackEvery = Math.max(1, Number(ctx.args['ackEvery'] ?? 16));
  const pauseAt = Number(ctx.args['pauseAtMessage'] ?? -1);
  const pauseMs = Number(ctx.args['pauseMs'] ?? 0);
  const s = ctx.stats;
  const heap0 = getHeapStatistics().used_heap_size;
  let heapMax = heap0;
  const data = new StreamChecker();
  const ackFrame = new Uint8Array(FRAME_HEADER + 4);
  let ackSeq = 0;
  let ackedSent = 0;
  let peer = -1;
  let paused = false;
  let ep: ReturnType<typeof ctx.rpmsg.createEndpoint> | undefined;

  const flushAck = (): void => {
    if (ep === undefined || peer < 0 || ackedSent === data.delivered) return;
    const n = data.delivered;
    const len = encodeFrame(ackFrame, ackSeq, KIND_ACK, 4, (b) => new DataView(b.buffer, b.byteOffset, 4).setUint32(0, n, true));
    if (ep.send(peer, ackFrame.subarray(0, len))) {
      ackSeq++;
      ackedSent = n;
    }
  };

  await ctx.rpmsg.ready();
  ep = ctx.rpmsg.createEndpoint(
    (raw, src) => {
      peer = src;
      data.accept(raw, KIND_DATA);
      if (data.delivered - ackedSent >= ackEvery) flushAck();
      if (pauseAt >= 0 && data.delivered === pauseAt) paused = true;
    },
    { name: 'tz-soak' },
  );
  let rounds = 0;
  // The machine ends the secure partition by making its next ctx call throw STOPPED: report on the way out.
  try {
    while (!ctx.stopping) {
      if (paused) {
        paused = false;
        ctx.log(`receiver stops reading for ${pauseMs} ms after ${data.delivered} messages`);
        const t = ctx.now();
        // Not idling: no interrupt is taken, nothing is received or acknowledged.
        while (ctx.now() - t < pauseMs * 1000) await new Promise((r) => setTimeout(r, 5));
        ctx.log('receiver resumes');
      }
      await ctx.idle();
      flushAck();
      if ((++rounds & 1023) === 0) heapMax = Math.max(heapMax, getHeapStatistics().used_heap_size);
    }
  } finally {
    heapMax = Math.max(heapMax, getHeapStatistics().used_heap_size);
    s.set('soak.delivered', data.delivered);
    s.set('soak.lost', data.lost);
    s.set('soak.duplicated', data.duplicated);
    s.set('soak.corrupted', data.corrupted);
    s.set('soak.bytes', data.bytes);
    s.set('soak.heapStart', heap0);
    s.set('soak.heapEnd', getHeapStatistics().used_heap_size);
    s.set('soak.heapMax', heapMax);
  }
}
