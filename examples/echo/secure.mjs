// A user secure partition: an "echo" service announced by name service.
export default async function main(ctx) {
  ctx.rpmsg.createEndpoint((data, src, ep) => void ep.send(src, data), { name: 'echo' });
  ctx.rt.task({ name: 'tick', periodUs: 2000, run: () => void ctx.stats.add('ticks') });
}
