// A user non-secure partition: sends ctx.args.count messages to "echo" and checks each answer.
export default async function main(ctx) {
  await ctx.rpmsg.ready();
  const dst = await ctx.rpmsg.findService('echo');
  const count = ctx.args.count ?? 10;
  let received = 0, corrupted = 0;
  const ep = ctx.rpmsg.createEndpoint((data) => {
    received++;
    if (data[0] !== (received - 1) % 256) corrupted++;
  });
  for (let i = 0; i < count; i++) {
    while (!ep.send(dst, Uint8Array.of(i % 256, 1, 2, 3))) await ctx.idle();
    while (received <= i) await ctx.waitForInterrupt(100000);
  }
  ctx.stats.set('messages.sent', count);
  ctx.stats.set('messages.received', received);
  ctx.stats.set('messages.corrupted', corrupted);
}
