// Secure partition of the "devices" scenario: the device side of every virtio device on the channel. RPMsg: an echo
// service announced by name service. virtio-entropy: nothing to write, the device answers the driver by itself.
export default async function main(ctx) {
  if (ctx.rpmsg.available) ctx.rpmsg.createEndpoint((data, src, ep) => void ep.send(src, data), { name: 'echo' });
  ctx.stats.set('rngRole', ctx.rng ? ctx.rng.role : 'none');
}
