// A secure echo service that never drops a reply. ep.send() returns false when every TX buffer is in flight
// (256 per direction by default): the reply is queued, and the queue is flushed after each idle. A refused send asks
// the host to notify us when it gives a buffer back (it re-posts its receive buffers as it reads our replies), and
// idle() returns then, so the service sleeps until it can send again instead of polling.
// Run: npx tz-virtio run --secure examples/backpressure/secure.mjs --nonsecure examples/backpressure/nonsecure.mjs
export default async function main(ctx) {
  const queue = []; // [dst, bytes] pairs still to send, oldest first
  let queued = 0;
  const flush = (ep) => {
    while (queue.length > 0 && ep.send(queue[0][0], queue[0][1])) queue.shift();
  };
  const ep = ctx.rpmsg.createEndpoint(
    (data, src) => {
      // keep the order: once something waits, new replies wait behind it
      if (queue.length > 0 || !ep.send(src, data)) {
        queue.push([src, data.slice()]);
        queued++;
      }
    },
    { name: 'echo' },
  );
  let rounds = 0;
  while (!ctx.stopping) {
    await ctx.idle();
    if (queue.length > 0) {
      rounds++;
      flush(ep);
    }
    ctx.stats.set('replies.queued', queued);
    ctx.stats.set('replies.queuedRounds', rounds);
  }
}
