/**
 * `ctx.rng`: virtio-entropy as a guest sees it. On the driver side (non-secure) read(n) asks the secure device for
 * n random bytes and resolves with them; on the device side the API only reports (the device answers by itself).
 */
import type { BindingEnv } from '../virtio/device.js';
import type { EntropyDevice } from './device.js';
import { ENTROPY_SLOT, type EntropyDriver } from './driver.js';
import { EntropyError, EntropyErrorCode } from './errors.js';

export interface EntropyApi {
  readonly role: 'driver' | 'device';
  /** Resolves with `n` (1..65536) random bytes from the device (driver side only). */
  read(n: number): Promise<Uint8Array>;
}

export function entropyDriverApi(driver: EntropyDriver, env: BindingEnv): EntropyApi {
  const readSlot = async (n: number): Promise<Uint8Array> => {
    while (!driver.live) await env.wait(10_000);
    let result: Uint8Array | Error | undefined;
    while (!driver.request(n, (b) => (result = b))) await env.wait(10_000);
    while (result === undefined) await env.wait(10_000);
    if (result instanceof Error) throw new EntropyError(EntropyErrorCode.DEVICE_RESET, result.message);
    return result;
  };
  return {
    role: 'driver',
    read: async (n) => {
      if (!Number.isInteger(n) || n < 1 || n > 65536) throw new EntropyError(EntropyErrorCode.BAD_ARGUMENT, `rng.read(${String(n)}): 1..65536 bytes`);
      const out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        // the device may fill less than asked (§5.4.6.1): take what came and ask again
        const got = await readSlot(Math.min(ENTROPY_SLOT, n - at));
        if (got.length === 0) throw new EntropyError(EntropyErrorCode.DEVICE_RESET, 'rng.read: the device returned a buffer with no bytes written');
        out.set(got.subarray(0, n - at), at);
        at += got.length;
      }
      return out;
    },
  };
}

export function entropyDeviceApi(_device: EntropyDevice): EntropyApi {
  return {
    role: 'device',
    read: () => Promise.reject(new EntropyError(EntropyErrorCode.NOT_DRIVER, 'rng.read() is the driver side; this partition is the device')),
  };
}
