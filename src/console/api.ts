/**
 * `ctx.console`: virtio-console (§5.3) as a guest sees it. `port(name?)` returns a named port (port 0, the console,
 * without a name) as a stream.Duplex; on the driver side (non-secure) a port exists once the device announced it
 * (PORT_ADD, PORT_NAME), so `await ctx.console.waitPort(name)` first, or catch NO_SUCH_PORT. The secure partition is
 * the device: its ports are the ones the machine config declares (`{"type": "console", "ports": ["log"]}`).
 */
import type { BindingEnv } from '../virtio/device.js';
import type { ConsoleDevice } from './device.js';
import type { ConsoleDriver } from './driver.js';
import type { ConsolePort } from './port.js';

export interface ConsoleApi {
  readonly role: 'driver' | 'device';
  /** The port as a stream.Duplex (no name: the console port). */
  port(name?: string): ConsolePort;
  /** Resolves once the port is known (driver side: announced by the device; device side: at once). */
  waitPort(name?: string): Promise<ConsolePort>;
}

export function consoleDriverApi(driver: ConsoleDriver, env: BindingEnv): ConsoleApi {
  const known = (name?: string) => driver.knownPorts().some((p) => (name === undefined ? p.console : p.name === name));
  return {
    role: 'driver',
    port: (name) => driver.port(name),
    waitPort: async (name) => {
      while (!known(name)) await env.wait(10_000);
      return driver.port(name);
    },
  };
}

export function consoleDeviceApi(device: ConsoleDevice): ConsoleApi {
  return {
    role: 'device',
    port: (name) => device.port(name),
    waitPort: (name) => Promise.resolve(device.port(name)),
  };
}
