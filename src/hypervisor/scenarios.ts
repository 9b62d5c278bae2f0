/**
 * The scenario registry of `tz-virtio run --scenario NAME`: which partitions run and what the run is judged on.
 *
 *   default  the secure Ed25519 signer with its 1 kHz sensor task, and the non-secure client streaming requests
 *   hostile  the same secure signer against a compromised non-secure partition (examples/hostile-nonsecure.ts) that
 *            attacks memory, SMC, interrupts and rings; each attack is listed with how it was stopped
 *   echo     the small user-partition example of docs/partitions.md (examples/echo)
 *
 * Module paths are resolved against the installed package: compiled examples under dist/examples, the echo example
 * (plain .mjs) under examples/echo.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PartitionConfig } from './machine.js';
import { HypervisorError, HypervisorErrorCode } from './errors.js';

export type ScenarioName = 'default' | 'hostile' | 'echo';

export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  readonly secure: PartitionConfig;
  readonly nonsecure: PartitionConfig;
  /** The key of the non-secure args that `--messages` sets (undefined: the option does not apply). */
  readonly messagesArg: string | undefined;
  /** Whether the run is judged on its attacks (every one must be stopped) rather than on a message stream. */
  readonly adversarial: boolean;
}

const COMPILED = new URL('../../examples/', import.meta.url); // dist/examples/
const SOURCE = new URL('../../../examples/', import.meta.url); // examples/

const SPECS: Record<ScenarioName, { description: string; secure: [URL, string]; nonsecure: [URL, string]; messagesArg: string | undefined; adversarial: boolean }> = {
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
  };
}
