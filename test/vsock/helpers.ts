/** Driver and device wired over the loopback transport, and a way to let them (and Node's stream ticks) run. */
import { LoopbackTransport } from '../../src/transport/loopback.js';
import { VirtioFeature, bit } from '../../src/virtio/index.js';
import { VsockDevice, VsockDriver, VsockOp, type VsockDeviceOptions, type VsockDriverOptions, type VsockHeader } from '../../src/vsock/index.js';

export interface Pair {
  readonly lb: LoopbackTransport;
  readonly device: VsockDevice;
  readonly driver: VsockDriver;
}

export function makePair(opts: { packed?: boolean; device?: VsockDeviceOptions; driver?: VsockDriverOptions } = {}): Pair {
  const device = new VsockDevice(opts.device);
  const driver = new VsockDriver({ packed: opts.packed ?? false, ...opts.driver });
  const lb = new LoopbackTransport(driver, device);
  if ((opts.packed ?? false) !== ((lb.features & bit(VirtioFeature.RING_PACKED)) !== 0n)) throw new Error('ring layout not as asked');
  return { lb, device, driver };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * Pumps the transport and lets Node's stream machinery (nextTick / microtask / immediate) run, until nothing moved
 * for a few rounds or `until()` holds. Bounded: throws after `maxRounds`.
 */
export async function run(p: Pair, until?: () => boolean, maxRounds = 20_000): Promise<void> {
  let quiet = 0;
  for (let r = 0; r < maxRounds; r++) {
    const moved = p.lb.pump();
    await tick();
    if (until?.()) return;
    if (moved === 0 && p.lb.pump() === 0) {
      if (++quiet >= 3 && until === undefined) return;
    } else quiet = 0;
  }
  throw new Error(`vsock pair did not ${until ? 'reach the condition' : 'settle'} in ${maxRounds} rounds`);
}

/** Deterministic bytes: byte i of stream `seed`. */
export function pattern(seed: number, offset: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 131 + (offset + i) * 7 + ((offset + i) >>> 8)) & 0xff;
  return b;
}

/**
 * A header from the guest (CID 3, port 5000) to the host (CID 2, port 1000): a STREAM REQUEST with a 64 KiB window
 * unless `o` says otherwise.
 */
export const guestHeader = (o: Partial<VsockHeader> = {}): VsockHeader => ({
  srcCid: 3,
  dstCid: 2,
  srcPort: 5000,
  dstPort: 1000,
  len: 0,
  type: 1,
  op: VsockOp.REQUEST,
  flags: 0,
  bufAlloc: 65536,
  fwdCnt: 0,
  ...o,
});
