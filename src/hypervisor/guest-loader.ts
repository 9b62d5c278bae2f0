/**
 * Loading a partition's guest module, and saying precisely why it failed: the file name always, and for a syntax
 * error the line and column. (Node 20's SyntaxError from a dynamic import() carries neither: the location is only
 * printed by the CLI's own decoration, so on that failure path alone the file is checked with `node --check`, whose
 * first lines are `FILE:LINE`, the source line and a caret under the column.)
 *
 * A guest that throws from its main gets the first stack frame inside its own file appended ("at FILE:LINE:COL").
 */
import { CodedError } from '../errors/coded-error.js';
import { HypervisorErrorCode } from './errors.js';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { GuestMain } from '../guest/api.js';

/** A module that could not become a guest main (not a file, does not parse, throws while loading, exports no main). */
/** The message names the file (and line/column of a syntax error) as a person reads it: no code prefix. */
export class GuestLoadError extends CodedError<typeof HypervisorErrorCode.GUEST_LOAD> {
  constructor(message: string) {
    super('GuestLoadError', HypervisorErrorCode.GUEST_LOAD, message, {}, false);
  }
}

const CHECK_TIMEOUT_MS = 5000;

function pathOf(module: string): string {
  return module.startsWith('file:') ? fileURLToPath(module) : module;
}

/** Where `node --check` puts a syntax error in `file`: "line L, column C", or undefined when it finds none. */
export function syntaxErrorLocation(file: string): string | undefined {
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS });
  if (r.status === 0 || typeof r.stderr !== 'string') return undefined;
  return parseCheckOutput(r.stderr, file);
}

/** Parses `node --check` output: "FILE:LINE", the source line, then a line with a caret under the column. */
export function parseCheckOutput(stderr: string, file: string): string | undefined {
  const lines = stderr.split('\n');
  const i = lines.findIndex((l) => l.startsWith(`${file}:`) || l.startsWith(`${pathToFileURL(file).href}:`));
  if (i < 0) return undefined;
  const m = /:(\d+)$/.exec(lines[i]!);
  if (m === null) return undefined;
  const caret = lines[i + 2] ?? '';
  const col = caret.indexOf('^');
  return col >= 0 ? `line ${m[1]}, column ${col + 1}` : `line ${m[1]}`;
}

/** Imports the guest module and returns its main (default export, else a `main` export). Throws GuestLoadError. */
export async function loadGuestMain(module: string): Promise<GuestMain> {
  const file = pathOf(module);
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new GuestLoadError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isFile()) throw new GuestLoadError(`${file}: not a regular file (${st.isDirectory() ? 'a directory' : 'a special file'}): give the guest module's .js/.mjs file`);
  let mod: { default?: unknown; main?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as typeof mod;
  } catch (e) {
    if (e instanceof SyntaxError) {
      const at = syntaxErrorLocation(file);
      throw new GuestLoadError(`${file}${at !== undefined ? ` (${at})` : ''}: SyntaxError: ${e.message}${at === undefined ? ' (in a module it imports)' : ''}`);
    }
    const err = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new GuestLoadError(`${file}: failed to load: ${err}${frameIn(e, file)}`);
  }
  const main = typeof mod.default === 'function' ? mod.default : mod.main;
  if (typeof main !== 'function') {
    throw new GuestLoadError(`${file} exports no main function (write: export default async function main(ctx) { … })`);
  }
  return main as GuestMain;
}

/** " at FILE:LINE:COL" for the first stack frame of `e` inside `file`, or "". */
export function frameIn(e: unknown, file: string): string {
  if (!(e instanceof Error) || typeof e.stack !== 'string') return '';
  const url = pathToFileURL(file).href;
  for (const line of e.stack.split('\n').slice(1)) {
    const k = line.indexOf(url);
    if (k < 0) continue;
    const m = /^:(\d+):(\d+)/.exec(line.slice(k + url.length));
    if (m !== null) return ` (at ${file}:${m[1]}:${m[2]})`;
  }
  return '';
}
