/**
 * The `run --config FILE` schema: every key the file may hold, each with its rule. Unknown keys are refused (a typo
 * must not be silently ignored) and every error names the key as written in the file ("rt.wakeLeadUs"), never the
 * command-line flag it would also set. `platform` is passed to the hypervisor, which checks its layout itself.
 */
import { CliError, CliErrorCode } from './errors.js';
import { ruleText, type IntRule } from './options.js';
import { WAIT_POLICIES } from '../sync/policy.js';

type Rule =
  | { readonly int: IntRule }
  | { readonly oneOf: readonly (string | number | boolean)[] }
  | { readonly bool: true }
  | { readonly string: true }
  | { readonly object: Readonly<Record<string, Rule>> }
  | { readonly anyObject: true }
  | { readonly objectOrFalse: Readonly<Record<string, Rule>> }
  | { readonly oneOfOrObject: readonly string[]; readonly object: Readonly<Record<string, Rule>> }
  /** An array of objects each with a string `type` (the device's other options are the device type's business). */
  | { readonly typedList: true };

const US = { int: { min: 0, max: 1_000_000 } } as const;
const MS = { int: { min: 1, max: 86_400_000 } } as const;
const partition = { object: { module: { string: true }, args: { anyObject: true } } } as const;

export const RUN_CONFIG_SCHEMA: Readonly<Record<string, Rule>> = {
  cores: { oneOf: [1, 2] },
  isolation: { oneOf: ['worker', 'process'] },
  platform: { anyObject: true },
  rpmsg: {
    objectOrFalse: {
      numBuffers: { int: { min: 2, max: 65_536 } },
      bufferSize: { int: { min: 32, max: 65_536 } },
      host: { oneOf: ['secure', 'nonsecure'] },
      features: { int: { min: 0, max: 0xffff_ffff } },
    },
  },
  devices: { typedList: true },
  transport: { oneOf: ['rsc-table', 'mmio'] },
  preemptTimeoutUs: { int: { min: 0, max: 10_000_000 } },
  rt: {
    object: {
      wakeLeadUs: US,
      maxWakeLeadUs: US,
      adaptiveWakeLead: { bool: true },
      idle: { oneOf: ['sleep', 'spin'] },
      guardUs: US,
      maxStepsPerPass: { int: { min: 1, max: 1_000_000 } },
      maxEstimateUs: US,
      niceness: { int: { min: -20, max: 19 } },
    },
  },
  notifyRateLimit: { object: { perSec: { int: { min: 1, max: 1e9 } }, burst: { int: { min: 1, max: 1e9 } } } },
  maxReboots: { int: { min: 0, max: 1000 } },
  crash: { object: { atMessage: { int: { min: 1, max: 1e9 } }, mode: { oneOf: ['terminate', 'exit', 'throw'] }, boot: { int: { min: 0, max: 1000 } } } },
  peerResetTimeoutMs: MS,
  afterNsExitMs: { int: { min: 0, max: 86_400_000 } },
  timeoutMs: MS,
  waitPolicy: { oneOfOrObject: WAIT_POLICIES, object: { secure: { oneOf: WAIT_POLICIES }, nonsecure: { oneOf: WAIT_POLICIES } } },
  secure: partition,
  nonsecure: partition,
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(file: string, key: string, message: string): CliError {
  return new CliError(`run: --config ${file}: ${key} ${message}`, 2, CliErrorCode.CONFIG);
}

function checkObject(file: string, prefix: string, value: Record<string, unknown>, schema: Readonly<Record<string, Rule>>): void {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix + k;
    const rule = schema[k];
    if (rule === undefined) throw bad(file, key, `is not a known key (known${prefix ? ` in ${prefix.slice(0, -1)}` : ''}: ${Object.keys(schema).join(', ')})`);
    checkValue(file, key, v, rule);
  }
}

function checkValue(file: string, key: string, v: unknown, rule: Rule): void {
  if ('int' in rule) {
    const r = rule.int;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || (r.min !== undefined && v < r.min) || (r.max !== undefined && v > r.max)) throw bad(file, key, `must be ${ruleText(r)}, not ${JSON.stringify(v)}`);
  } else if ('oneOf' in rule) {
    if (!rule.oneOf.includes(v as string)) throw bad(file, key, `must be one of ${rule.oneOf.map((x) => JSON.stringify(x)).join(', ')}, not ${JSON.stringify(v)}`);
  } else if ('bool' in rule) {
    if (typeof v !== 'boolean') throw bad(file, key, `must be true or false, not ${JSON.stringify(v)}`);
  } else if ('string' in rule) {
    if (typeof v !== 'string' || v.length === 0) throw bad(file, key, `must be a non-empty string, not ${JSON.stringify(v)}`);
  } else if ('anyObject' in rule) {
    if (!isPlainObject(v)) throw bad(file, key, `must be an object, not ${JSON.stringify(v)}`);
  } else if ('oneOfOrObject' in rule) {
    if (typeof v === 'string') {
      if (!rule.oneOfOrObject.includes(v)) throw bad(file, key, `must be one of ${rule.oneOfOrObject.map((x) => JSON.stringify(x)).join(', ')} or an object, not ${JSON.stringify(v)}`);
    } else if (isPlainObject(v)) checkObject(file, `${key}.`, v, rule.object);
    else throw bad(file, key, `must be one of ${rule.oneOfOrObject.map((x) => JSON.stringify(x)).join(', ')} or an object, not ${JSON.stringify(v)}`);
  } else if ('typedList' in rule) {
    if (!Array.isArray(v) || v.length > 32) throw bad(file, key, `must be an array of at most 32 {"type": …} objects, not ${JSON.stringify(v)}`);
    v.forEach((d, i) => {
      if (!isPlainObject(d) || typeof d['type'] !== 'string') throw bad(file, `${key}[${i}]`, `must be an object with a string "type", not ${JSON.stringify(d)}`);
    });
  } else if ('object' in rule) {
    if (!isPlainObject(v)) throw bad(file, key, `must be an object, not ${JSON.stringify(v)}`);
    checkObject(file, `${key}.`, v, rule.object);
  } else {
    if (v === false) return;
    if (!isPlainObject(v)) throw bad(file, key, `must be an object or false, not ${JSON.stringify(v)}`);
    checkObject(file, `${key}.`, v, rule.objectOrFalse);
  }
}

/** Checks a parsed config file against RUN_CONFIG_SCHEMA; throws CliError(CONFIG) naming the first bad key. */
export function checkRunConfig(file: string, cfg: unknown): void {
  if (!isPlainObject(cfg)) throw new CliError(`run: --config ${file}: must be a JSON object`, 2, CliErrorCode.CONFIG);
  checkObject(file, '', cfg, RUN_CONFIG_SCHEMA);
}
