// Secure partition of the "vsock" scenario: an Ed25519 signing service on vsock port 5000 (the secure side is the
// vsock host, CID 2). The private key is generated here and never leaves this partition; clients get signatures and
// the public key. A 1 kHz sensor task runs beside it.
import { generateKeyPairSync, sign } from 'node:crypto';
import { Op, PORT, frame, frames } from './protocol.mjs';

export default async function main(ctx) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  let signed = 0, bad = 0, connections = 0;
  ctx.vsock.createServer((sock) => {
    connections++;
    const onChunk = frames((op, seq, data) => {
      if (op === Op.SIGN) {
        signed++;
        sock.write(frame(0, seq, sign(null, data, privateKey)));
      } else if (op === Op.PUBKEY) sock.write(frame(0, seq, pub));
      else {
        bad++;
        sock.write(frame(1, seq, Buffer.alloc(0)));
      }
      ctx.stats.set('signed', signed);
    });
    sock.on('data', (chunk) => {
      try {
        onChunk(chunk);
      } catch (e) {
        bad++;
        sock.destroy(e);
      }
    });
    sock.on('error', () => undefined);
    sock.on('end', () => sock.end());
    ctx.stats.set('connections', connections);
  }).listen(PORT);
  ctx.rt.task({ name: 'sensor', periodUs: 1000, run: () => void ctx.stats.add('ticks') });
  ctx.stats.set('badRequests', bad);
}
