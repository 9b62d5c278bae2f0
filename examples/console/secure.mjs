// Secure partition of the "console" scenario: the device side of a virtio-console with a port named "log". A
// background step of the real-time executive writes numbered log lines to it whenever the port's buffer has room
// (it runs only in the slack before the next RT release, so logging never delays the 1 kHz task).
export default async function main(ctx) {
  const port = ctx.console.port('log');
  let seq = 0;
  const line = (i) => `secure log ${String(i).padStart(6, '0')} tick=${ctx.stats.get('ticks') ?? 0} check=${(i * 2654435761) >>> 0}\n`;
  ctx.rt.task({ name: 'sensor', periodUs: 1000, run: () => void ctx.stats.add('ticks') });
  ctx.rt.background({
    name: 'logger',
    costUs: 20,
    step: () => {
      if (port.writableLength > 8192) return false;
      port.write(line(seq++));
      ctx.stats.set('lines.written', seq);
      return true;
    },
  });
}
