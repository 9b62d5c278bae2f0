// A client that keeps args.count requests (default 512) in flight at once, more than the 256 TX buffers a
// direction has: it sends until ep.send() refuses, waits for an interrupt and goes on; then it counts the replies.
export default async function main(ctx) {
  const count = Number(ctx.args.count ?? 512);
  await ctx.rpmsg.ready();
  const dst = await ctx.rpmsg.findService('echo');
  let received = 0;
  let corrupted = 0;
  const ep = ctx.rpmsg.createEndpoint((data) => {
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.byteLength !== 8 || v.getUint32(4, true) !== (v.getUint32(0, true) ^ 0x5a5a5a5a)) corrupted++;
    received++;
  });
  const msg = new Uint8Array(8);
  const view = new DataView(msg.buffer);
  let sent = 0;
  const t0 = ctx.now();
  while (received < count && ctx.now() - t0 < 30_000_000) {
    while (sent < count) {
      view.setUint32(0, sent, true);
      view.setUint32(4, sent ^ 0x5a5a5a5a, true);
      if (!ep.send(dst, msg)) break;
      sent++;
    }
    await ctx.waitForInterrupt(100_000);
  }
  ctx.stats.set('messages.sent', sent);
  ctx.stats.set('messages.received', received);
  ctx.stats.set('messages.lost', sent - received);
  ctx.stats.set('messages.corrupted', corrupted);
}
