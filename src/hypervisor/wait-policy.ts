/**
 * The machine config's `waitPolicy`: how each core waits for its next event (src/sync policies), one policy for both
 * cores or one per core (`{ secure, nonsecure }`; core 0 = secure, core 1 = non-secure on two cores). Default
 * 'block' for both: sleep on the core's doorbell at once, as the cores always did. It applies with two cores only:
 * on one core the waiting world does not run at all on the board, so spinning there would only take host CPU from
 * the world that holds the core.
 */
import { isWaitPolicy, type WaitPolicy } from '../sync/policy.js';
import { HypervisorError, HypervisorErrorCode } from './errors.js';
import type { World } from '../guest/memory-map.js';

export type WaitPolicyConfig = WaitPolicy | { readonly secure?: WaitPolicy; readonly nonsecure?: WaitPolicy };

/** The cores' default: block (sleep on the doorbell as soon as nothing is pending). */
export const DEFAULT_CORE_WAIT_POLICY: WaitPolicy = 'block';

/** The policy of `world`'s core; a bad value is HypervisorError(BAD_CONFIG) naming the rule. */
export function coreWaitPolicy(cfg: unknown, world: World): WaitPolicy {
  if (cfg === undefined) return DEFAULT_CORE_WAIT_POLICY;
  if (typeof cfg === 'string') {
    if (!isWaitPolicy(cfg)) throw bad(`waitPolicy "${cfg}"`);
    return cfg;
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw bad(`waitPolicy of type ${Array.isArray(cfg) ? 'array' : typeof cfg}`);
  for (const k of Object.keys(cfg)) if (k !== 'secure' && k !== 'nonsecure') throw bad(`waitPolicy key "${k}" (keys: secure, nonsecure)`);
  const v = (cfg as Record<string, unknown>)[world];
  if (v === undefined) return DEFAULT_CORE_WAIT_POLICY;
  if (!isWaitPolicy(v)) throw bad(`waitPolicy.${world} "${String(v)}"`);
  return v;
}

function bad(what: string): HypervisorError {
  return new HypervisorError(HypervisorErrorCode.BAD_CONFIG, `${what}: a wait policy is block, spin-then-block, poll or peer-aware, or { secure, nonsecure } of those`);
}
