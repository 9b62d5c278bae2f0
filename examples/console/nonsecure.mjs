// Non-secure partition of the "console" scenario: the driver side (as Linux's virtio_console). It opens the port the
// secure world named "log", reads ctx.args.count lines, checks each one's sequence number and check value, and
// prints them through its log (shown with --verbose: the host prints the secure world's console).
export default async function main(ctx) {
  const count = ctx.args.count ?? 500;
  const port = await ctx.console.waitPort('log');
  let buf = '', received = 0, corrupted = 0, lost = 0, expect = 0;
  port.setEncoding('utf8');
  port.on('data', (chunk) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0 && received < count; nl = buf.indexOf('\n')) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^secure log (\d{6}) tick=\d+ check=(\d+)$/.exec(text);
      if (m === null || Number(m[2]) !== ((Number(m[1]) * 2654435761) >>> 0)) corrupted++;
      else {
        const i = Number(m[1]);
        if (i > expect) lost += i - expect;
        expect = i + 1;
      }
      received++;
      if (received <= 5 || received % 100 === 0) ctx.log(`console[log] ${text}`);
    }
  });
  while (received < count) await ctx.waitForInterrupt(100000);
  ctx.stats.set('messages.sent', count);
  ctx.stats.set('messages.received', received);
  ctx.stats.set('messages.lost', lost);
  ctx.stats.set('messages.corrupted', corrupted);
}
