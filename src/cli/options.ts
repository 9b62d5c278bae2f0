/**
 * Option parsers for commander: each checks one rule at parse time (before any command does anything) and names the
 * rule when the value breaks it, e.g. `--messages: '-5' must be a positive integer`. Defaults are given as numbers,
 * so `--help` shows them unquoted.
 */
import { CliError, CliErrorCode } from './errors.js';

export interface IntRule {
  readonly min?: number;
  readonly max?: number;
  /** Accept 0x... hex as well as decimal (addresses, seeds, sizes). */
  readonly hex?: boolean;
}

/** The rule in words: "a positive integer", "an integer in 1..64", ... */
export function ruleText(rule: IntRule): string {
  const { min, max } = rule;
  const upTo = max !== undefined ? ` up to ${max}` : '';
  if (min === 1) return `a positive integer${upTo}`;
  if (min === 0) return `a non-negative integer${upTo}`;
  if (min !== undefined && max !== undefined) return `an integer in ${min}..${max}`;
  if (min !== undefined) return `an integer >= ${min}`;
  if (max !== undefined) return `an integer <= ${max}`;
  return 'an integer';
}

/** Parses `text` as an integer (decimal, or 0x hex when allowed) and checks it against `rule`. */
export function intArg(flag: string, text: string | number, rule: IntRule = {}): number {
  const t = typeof text === 'number' ? String(text) : text.trim();
  let v = Number.NaN;
  if (/^-?[0-9]+$/.test(t)) v = Number.parseInt(t, 10);
  else if (rule.hex !== false && /^0x[0-9a-f]+$/i.test(t)) v = Number.parseInt(t.slice(2), 16);
  const ok = Number.isSafeInteger(v) && (rule.min === undefined || v >= rule.min) && (rule.max === undefined || v <= rule.max);
  if (!ok) throw new CliError(`${flag}: '${String(text)}' must be ${ruleText(rule)}`, 2, CliErrorCode.BAD_VALUE);
  return v;
}

/** A commander argParser for an integer option. */
export function intOption(flag: string, rule: IntRule = {}): (value: string) => number {
  return (value: string) => intArg(flag, value, rule);
}

/** Checks that `value` is one of `choices`. */
export function choiceArg<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new CliError(`${flag}: '${value}' must be one of ${choices.join(', ')}`, 2, CliErrorCode.BAD_VALUE);
  return value as T;
}

/** A commander argParser for a choice option. */
export function choiceOption<T extends string>(flag: string, choices: readonly T[]): (value: string) => T {
  return (value: string) => choiceArg(flag, value, choices);
}

/** Checks a comma-separated list: every item one of `choices`, none twice, at least one. */
export function choiceListArg<T extends string>(flag: string, text: string, choices: readonly T[]): T[] {
  const items = text.split(',').map((s) => s.trim());
  for (const item of items) {
    if (!(choices as readonly string[]).includes(item)) throw new CliError(`${flag}: '${item}' must be one of ${choices.join(', ')} (a comma-separated list)`, 2, CliErrorCode.BAD_VALUE);
  }
  if (new Set(items).size !== items.length) throw new CliError(`${flag}: '${text}' names an item twice`, 2, CliErrorCode.BAD_VALUE);
  return items as T[];
}

/** A commander argParser for a comma-separated list of choices. */
export function choiceListOption<T extends string>(flag: string, choices: readonly T[]): (value: string) => T[] {
  return (value: string) => choiceListArg(flag, value, choices);
}

/** Parses a decimal number (fractions allowed) that must lie in (0, max]. */
export function positiveNumberArg(flag: string, text: string, max: number): number {
  const t = text.trim();
  const v = /^([0-9]+\.?[0-9]*|\.[0-9]+)(e-?[0-9]+)?$/i.test(t) ? Number(t) : Number.NaN;
  if (!(Number.isFinite(v) && v > 0 && v <= max)) throw new CliError(`${flag}: '${text}' must be a positive number up to ${max}`, 2, CliErrorCode.BAD_VALUE);
  return v;
}

/** A commander argParser for a positive number. */
export function positiveNumberOption(flag: string, max: number): (value: string) => number {
  return (value: string) => positiveNumberArg(flag, value, max);
}
