// A secure echo service that never drops a reply. ep.send() returns false when every TX buffer is in flight
// (256 per direction by default): the reply is queued, and the queue is flushed after each idle (the peer
// returns buffers as it reads). The queue is bounded by what the peer can have outstanding.
// Run: npx tz-virtio run --secure examples/backpressure/secure.mjs --nonsecure examples/backpressure/nonsecure.mjs
export default async function main(ctx) {
  const queue = []; // [dst, bytes] pairs still to send, oldest first
  const flush = (ep) => {
    while (queue.length > 0 && ep.send(queue[0][0], queue[0][1])) queue.shift();
  };
  const ep = ctx.rpmsg.createEndpoint(
    (data, src) => {
      // keep the order: once something waits, new replies wait behind it
      if (queue.length > 0 || !ep.send(src, data)) queue.push([src, data.slice()]);
    },
    { name: 'echo' },
  );
  let waited = 0;
  while (!ctx.stopping) {
    // With replies waiting, wake up at least every millisecond: the host re-posts its receive buffers without
    // necessarily notifying us (EVENT_IDX), so an interrupt alone may never come.
    if (queue.length > 0) await ctx.waitForInterrupt(1000);
    else await ctx.idle();
    if (queue.length > 0) {
      waited++;
      flush(ep);
    }
    ctx.stats.set('replies.queuedRounds', waited);
  }
}
