/**
 * The secure Ed25519 signer's line protocol, served to the non-secure Linux on an AF_VSOCK stream (vsock-signer.ts) or
 * as lines on its console (/dev/hvc0, line-console.ts):
 *
 *   P                    ->  K <public key, 32 B hex>
 *   S <seq> <message hex> ->  G <seq> <signature, 64 B hex>      (message: 1..4096 bytes)
 *   anything else        ->  E <reason>
 *
 * The private key's seed is drawn into this service's secure RAM (a buffer no non-secure process maps or receives)
 * and the signing key is built from it, as examples/secure-signer.ts does in the worker machine. keyLeaked() looks for
 * the seed in the non-secure memory.
 */
import { createPrivateKey, createPublicKey, randomFillSync, sign, type KeyObject } from 'node:crypto';
import type { PhysicalMemory } from '../../virtio/memory.js';

const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const MAX_MESSAGE = 4096;
const HEX = /^[0-9a-f]*$/;

export class Signer {
  /** Secure RAM of the service (the seed lives at offset 0). */
  readonly secureRam = new SharedArrayBuffer(64 * 1024);
  readonly publicKeyHex: string;
  signed = 0;
  refused = 0;
  bytesSigned = 0;
  private readonly key: KeyObject;

  constructor() {
    const seed = new Uint8Array(this.secureRam, 0, 32);
    randomFillSync(seed);
    const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + 32);
    der.set(PKCS8_ED25519_PREFIX);
    der.set(seed, PKCS8_ED25519_PREFIX.length);
    this.key = createPrivateKey({ key: Buffer.from(der.buffer), format: 'der', type: 'pkcs8' });
    der.fill(0);
    const pub = Buffer.from(createPublicKey(this.key).export({ format: 'jwk' }).x as string, 'base64url');
    this.publicKeyHex = pub.toString('hex');
  }

  /** Answers one request line (called inside a secure slice). */
  handle(line: string): string {
    if (line === 'P') return `K ${this.publicKeyHex}`;
    if (line.startsWith('S ')) {
      const sp = line.indexOf(' ', 2);
      const seq = sp > 2 ? line.slice(2, sp) : '';
      const hex = sp > 2 ? line.slice(sp + 1) : '';
      if (!/^\d{1,10}$/.test(seq)) return this.refuse('bad sequence number');
      if (hex.length === 0 || hex.length % 2 !== 0 || hex.length > 2 * MAX_MESSAGE || !HEX.test(hex)) return this.refuse(`S ${seq}: message must be 1..${MAX_MESSAGE} bytes of lower-case hex`);
      const msg = Buffer.from(hex, 'hex');
      const sig = sign(null, msg, this.key);
      this.signed++;
      this.bytesSigned += msg.length;
      return `G ${seq} ${sig.toString('hex')}`;
    }
    return this.refuse('unknown request (P, or S <seq> <hex>)');
  }

  /** True when the 32-byte seed appears anywhere in `memory` (the non-secure world's RAM). */
  keyLeaked(memory: PhysicalMemory): boolean {
    const seed = Buffer.from(new Uint8Array(this.secureRam, 0, 32));
    return memory.regions.some((r) => Buffer.from(r.u8.buffer, r.u8.byteOffset, r.u8.byteLength).indexOf(seed) >= 0);
  }

  private refuse(reason: string): string {
    this.refused++;
    return `E ${reason}`;
  }
}
