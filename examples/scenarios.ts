/**
 * The scenario registry of `tz-virtio run --scenario NAME`: which partitions run and what the run is judged on.
 *
 *   default  the secure Ed25519 signer with its 1 kHz sensor task, and the non-secure client streaming requests
 *   hostile  the same secure signer against a compromised non-secure partition (examples/hostile-nonsecure.ts) that
 *            attacks memory, SMC, interrupts and rings; each attack is listed with how it was stopped
 *   echo     the small user-partition example of docs/partitions.md (examples/echo)
 *
 *   devices  a channel with RPMsg and virtio-entropy: the echo client also asks the secure world for random bytes
 *   vsock    the Ed25519 signer on vsock port 5000; the non-secure client streams requests and verifies every answer
 *   console  the secure partition logs through a virtio-console port named "log"; the non-secure side reads and checks it
 *
 * Scenarios are application content: they live with the examples, not in the hypervisor. Module paths are resolved
 * against the installed package: compiled examples through compiledUrl (dist/examples), plain .mjs examples under
 * examples/.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MachineConfig, PartitionConfig } from '../src/hypervisor/machine.js';
import { HypervisorError, HypervisorErrorCode } from '../src/hypervisor/errors.js';
import { compiledUrl } from '../src/host/compiled.js';

export type ScenarioName = 'default' | 'hostile' | 'echo' | 'devices' | 'console' | 'vsock';

export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  readonly secure: PartitionConfig;
  readonly nonsecure: PartitionConfig;
  /** The key of the non-secure args that `--messages` sets (undefined: the option does not apply). */
  readonly messagesArg: string | undefined;
  /** Whether the run is judged on its attacks (every one must be stopped) rather than on a message stream. */
  readonly adversarial: boolean;
  /** The channel's devices, when not RPMsg alone. */
  readonly devices?: MachineConfig['devices'];
}

const COMPILED = compiledUrl(import.meta.url, './'); // dist/examples/
const SOURCE = new URL(import.meta.url.endsWith('.ts') ? './' : '../../examples/', import.meta.url); // examples/

/** A compiled example module (e.g. 'secure-signer.js'), as a path. */
export function exampleModule(file: string): string {
  return fileURLToPath(new URL(file, COMPILED));
}

type Spec = { description: string; secure: [URL, string]; nonsecure: [URL, string]; messagesArg: string | undefined; adversarial: boolean; devices?: MachineConfig['devices'] };
const SPECS: Record<ScenarioName, Spec> = {
  default: {
    description: 'secure Ed25519 signer + 1 kHz sensor task; non-secure client streaming sign/verify requests',
    secure: [COMPILED, 'secure-signer.js'],
    nonsecure: [COMPILED, 'nonsecure-client.js'],
    messagesArg: 'messages',
    adversarial: false,
  },
  hostile: {
    description: 'secure signer against a compromised non-secure partition (memory, SMC, interrupt-storm and ring attacks)',
    secure: [COMPILED, 'secure-signer.js'],
    nonsecure: [COMPILED, 'hostile-nonsecure.js'],
    messagesArg: undefined,
    adversarial: true,
  },
  echo: {
    description: 'the echo example of docs/partitions.md: an echo service and a 2 ms task; a client checking each answer',
    secure: [SOURCE, 'echo/secure.mjs'],
    nonsecure: [SOURCE, 'echo/nonsecure.mjs'],
    messagesArg: 'count',
    adversarial: false,
  },
  devices: {
    description: 'RPMsg and virtio-entropy on one channel: an echo service; a client checking each echo and drawing random bytes',
    secure: [SOURCE, 'devices/secure.mjs'],
    nonsecure: [SOURCE, 'devices/nonsecure.mjs'],
    messagesArg: 'count',
    adversarial: false,
    devices: [{ type: 'rpmsg' }, { type: 'rng' }],
  },
  console: {
    description: 'the secure partition logs through a virtio-console port "log" (a background step of its executive); the non-secure driver reads and checks every line',
    secure: [SOURCE, 'console/secure.mjs'],
    nonsecure: [SOURCE, 'console/nonsecure.mjs'],
    messagesArg: 'count',
    adversarial: false,
    devices: [{ type: 'rpmsg' }, { type: 'console', ports: ['log'] }],
  },
  vsock: {
    description: 'the secure Ed25519 signer on vsock port 5000 and a 1 kHz sensor task; the non-secure client streams sign requests over a vsock stream and verifies every signature',
    secure: [SOURCE, 'vsock/secure.mjs'],
    nonsecure: [SOURCE, 'vsock/nonsecure.mjs'],
    messagesArg: 'messages',
    adversarial: false,
    devices: [{ type: 'rpmsg' }, { type: 'vsock', guestCid: 3 }],
  },
};

export const SCENARIO_NAMES: readonly ScenarioName[] = Object.keys(SPECS) as ScenarioName[];

export function isScenarioName(name: string): name is ScenarioName {
  return Object.prototype.hasOwnProperty.call(SPECS, name);
}

/** The scenario's partitions, with module paths checked. Throws HypervisorError(BAD_CONFIG) for an unknown name or a missing module. */
export function scenario(name: string): Scenario {
  if (!isScenarioName(name)) {
    throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `no scenario "${name}" (known: ${SCENARIO_NAMES.join(', ')})`, { name });
  }
  const s = SPECS[name];
  const path = ([base, file]: [URL, string]): string => {
    const p = fileURLToPath(new URL(file, base));
    if (!existsSync(p)) throw new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `scenario ${name}: ${p} is missing (run \`npm run build\` first)`, { name, path: p });
    return p;
  };
  return {
    name,
    description: s.description,
    secure: { module: path(s.secure) },
    nonsecure: { module: path(s.nonsecure) },
    messagesArg: s.messagesArg,
    adversarial: s.adversarial,
    ...(s.devices ? { devices: s.devices } : {}),
  };
}
