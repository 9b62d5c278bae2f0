import { LoopbackTransport } from '../../src/transport/loopback.js';
import { ConsoleDevice, ConsoleDriver, type ConsoleDeviceOptions, type ConsoleDriverOptions } from '../../src/console/index.js';
import { VirtioFeature, bit } from '../../src/virtio/index.js';

export interface Wired {
  readonly device: ConsoleDevice;
  readonly driver: ConsoleDriver;
  readonly t: LoopbackTransport;
}

/** A console driver and device over the in-thread loopback transport; `packed` chooses the ring layout. */
export function wire(o: { device?: ConsoleDeviceOptions; driver?: ConsoleDriverOptions; packed?: boolean } = {}): Wired {
  const device = new ConsoleDevice(o.device);
  const driver = new ConsoleDriver(o.driver);
  const mask = o.packed ? device.deviceFeatures : device.deviceFeatures & ~bit(VirtioFeature.RING_PACKED);
  const t = new LoopbackTransport(driver, device, { transportFeatures: mask });
  return { device, driver, t };
}

/** Alternates settle() with turns of the event loop (streams call back on later ticks) until `done()`. */
export async function drive(t: LoopbackTransport, done: () => boolean, maxRounds = 5000): Promise<void> {
  for (let r = 0; r < maxRounds; r++) {
    t.settle();
    if (done()) return;
    await new Promise((res) => setImmediate(res));
  }
  throw new Error(`not done after ${maxRounds} rounds`);
}

export function collect(stream: NodeJS.ReadableStream): { bytes: () => Buffer; ended: () => boolean } {
  const chunks: Buffer[] = [];
  let ended = false;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    ended = true;
  });
  return { bytes: () => Buffer.concat(chunks), ended: () => ended };
}

/** True once the driver knows the port (by name; the console port without one). */
export function known(driver: ConsoleDriver, name?: string): boolean {
  return driver.knownPorts().some((p) => (name === undefined ? p.console : p.name === name));
}
