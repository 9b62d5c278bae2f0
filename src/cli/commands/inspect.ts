/**
 * `tz-virtio inspect IMAGE`: decodes a virtqueue (split or packed) or, with --rpmsg, an RPMsg resource table and its
 * vrings, from a memory image (a file whose first byte sits at physical address --base).
 *
 *   inspect IMAGE --layout split  --queue-size N --desc ADDR --avail ADDR --used ADDR [--base ADDR] [--json]
 *   inspect IMAGE --layout split  --queue-size N --desc ADDR --align A                 (legacy contiguous vring)
 *   inspect IMAGE --layout packed --queue-size N --desc ADDR --driver-event ADDR --device-event ADDR [--base] [--json]
 *   inspect IMAGE --rpmsg --rsc-table ADDR [--base ADDR] [--json]
 *
 * --piece FILE@ADDR (repeatable, ring layouts only) maps one more file at ADDR beside the image, so a sparse set of
 * excerpts of a large dump (the ring areas cut from a guest's RAM) forms one address space; --ram SIZE@BASE then
 * declares the guest's RAM, so chain buffers that lie in it but in no piece still count as inside memory.
 *
 * Every problem with the arguments or the image (truncated, address outside it) is one line on stderr and a non-zero
 * exit (CliError); problems inside the rings are part of the report.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, parseNumberArg } from '../errors.js';
import { isVirtioError } from '../../virtio/errors.js';
import { packedReport, renderPackedText, renderSplitText, splitReport, type ImagePiece } from '../../virtio/inspect/index.js';

export interface InspectOptions {
  layout?: string;
  queueSize?: string;
  desc?: string;
  avail?: string;
  used?: string;
  align?: string;
  driverEvent?: string;
  deviceEvent?: string;
  base?: string;
  json?: boolean;
  rpmsg?: boolean;
  rscTable?: string;
  piece?: string[];
  ram?: string;
  vsock?: string;
}

/** The signature the RPMsg layer provides in src/rpmsg/inspect.ts. */
type InspectRpmsgImage = (image: Uint8Array, opts: { rscTable: number; base: number; json: boolean }) => string;

function need(opts: InspectOptions, key: keyof InspectOptions, flag: string, why: string): string {
  const v = opts[key];
  if (typeof v !== 'string') throw new CliError(`inspect: ${why} needs ${flag}`);
  return v;
}

function forbid(opts: InspectOptions, keys: [keyof InspectOptions, string][], why: string): void {
  for (const [k, flag] of keys) if (opts[k] !== undefined) throw new CliError(`inspect: ${flag} does not apply to ${why}`);
}

function readImage(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new CliError(`inspect: cannot read image '${path}'${code ? ` (${code})` : ''}`);
  }
}

/** Parses the --piece FILE@ADDR arguments (the address after the last '@') and reads their files. */
function readPieces(args: readonly string[] | undefined): ImagePiece[] {
  return (args ?? []).map((arg) => {
    const at = arg.lastIndexOf('@');
    if (at <= 0 || at === arg.length - 1) throw new CliError(`inspect: --piece '${arg}' must be FILE@ADDR`);
    const base = parseNumberArg('--piece', arg.slice(at + 1));
    return { base, bytes: readImage(arg.slice(0, at)) };
  });
}

/** Parses --ram SIZE@BASE (BASE defaults to 0). */
function parseRam(arg: string | undefined): { base: number; size: number } | undefined {
  if (arg === undefined) return undefined;
  const at = arg.indexOf('@');
  const size = parseNumberArg('--ram', at < 0 ? arg : arg.slice(0, at));
  const base = at < 0 ? 0 : parseNumberArg('--ram', arg.slice(at + 1));
  if (size === 0) throw new CliError(`inspect: --ram '${arg}' must have a non-zero size`);
  return { base, size };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

async function loadRpmsgInspector(): Promise<InspectRpmsgImage> {
  // Imported lazily so the virtio-only paths do not depend on the RPMsg layer being built.
  const specifier = '../../rpmsg/inspect.js';
  let mod: { inspectRpmsgImage?: unknown };
  try {
    mod = (await import(specifier)) as { inspectRpmsgImage?: unknown };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes('rpmsg/inspect')) {
      throw new CliError('inspect --rpmsg: RPMsg support not built');
    }
    throw e;
  }
  if (typeof mod.inspectRpmsgImage !== 'function') throw new CliError('inspect --rpmsg: RPMsg support not built');
  return mod.inspectRpmsgImage as InspectRpmsgImage;
}

/** Runs inspect and returns the text to print (exported for tests). */
export async function runInspect(imagePath: string, opts: InspectOptions): Promise<string> {
  const base = opts.base === undefined ? 0 : parseNumberArg('--base', opts.base);
  const json = opts.json === true;
  if (opts.rpmsg) {
    forbid(
      opts,
      [
        ['layout', '--layout'],
        ['queueSize', '--queue-size'],
        ['desc', '--desc'],
        ['avail', '--avail'],
        ['used', '--used'],
        ['align', '--align'],
        ['driverEvent', '--driver-event'],
        ['deviceEvent', '--device-event'],
        ['piece', '--piece'],
        ['ram', '--ram'],
      ],
      '--rpmsg (the resource table gives the vrings)',
    );
    const rscTable = parseNumberArg('--rsc-table', need(opts, 'rscTable', '--rsc-table ADDR', '--rpmsg'));
    const inspectRpmsgImage = await loadRpmsgInspector();
    return inspectRpmsgImage(readImage(imagePath), { rscTable, base, json });
  }
  if (opts.rscTable !== undefined) throw new CliError('inspect: --rsc-table needs --rpmsg');
  const layout = need(opts, 'layout', '--layout split|packed', 'inspect');
  const queueSize = parseNumberArg('--queue-size', need(opts, 'queueSize', '--queue-size N', `--layout ${layout}`));
  const desc = parseNumberArg('--desc', need(opts, 'desc', '--desc ADDR', `--layout ${layout}`));

  if (layout === 'split') {
    forbid(opts, [['driverEvent', '--driver-event'], ['deviceEvent', '--device-event']], 'a split ring');
    let ringOpts: { avail?: number; used?: number; align?: number };
    if (opts.align !== undefined) {
      if (opts.avail !== undefined || opts.used !== undefined) throw new CliError('inspect: give either --avail and --used, or --align (legacy layout), not both');
      ringOpts = { align: parseNumberArg('--align', opts.align) };
    } else {
      if (opts.avail === undefined || opts.used === undefined) throw new CliError('inspect: --layout split needs --avail ADDR and --used ADDR (or --align A for the legacy layout)');
      ringOpts = { avail: parseNumberArg('--avail', opts.avail), used: parseNumberArg('--used', opts.used) };
    }
    const image = readImage(imagePath);
    const pieces = readPieces(opts.piece);
    const ram = parseRam(opts.ram);
    const report = decode(() => splitReport(image, { queueSize, base, desc, pieces, ...(ram ? { ram } : {}), ...ringOpts }));
    if (opts.vsock !== undefined) return (await import('../../vsock/inspect.js')).inspectVsockRing(image, report, { queue: opts.vsock as 'rx', base, json, pieces, ...(ram ? { ram } : {}) });
    return json ? JSON.stringify(report, null, 2) + '\n' : renderSplitText(report);
  }
  if (layout === 'packed') {
    forbid(opts, [['avail', '--avail'], ['used', '--used'], ['align', '--align']], 'a packed ring');
    const driverEvent = parseNumberArg('--driver-event', need(opts, 'driverEvent', '--driver-event ADDR', '--layout packed'));
    const deviceEvent = parseNumberArg('--device-event', need(opts, 'deviceEvent', '--device-event ADDR', '--layout packed'));
    const image = readImage(imagePath);
    const pieces = readPieces(opts.piece);
    const ram = parseRam(opts.ram);
    const report = decode(() => packedReport(image, { queueSize, base, desc, driverEvent, deviceEvent, pieces, ...(ram ? { ram } : {}) }));
    if (opts.vsock !== undefined) return (await import('../../vsock/inspect.js')).inspectVsockRing(image, report, { queue: opts.vsock as 'rx', base, json, pieces, ...(ram ? { ram } : {}) });
    return json ? JSON.stringify(report, null, 2) + '\n' : renderPackedText(report);
  }
  throw new CliError(`inspect: --layout must be split or packed, not '${layout}'`);
}

/** Turns the VirtioErrors of bad arguments or a truncated image into one-line CLI errors. */
function decode<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isVirtioError(e)) throw new CliError(`inspect: ${e.message}`);
    throw e;
  }
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('decode a virtqueue (split or packed) or an RPMsg resource table from a memory image')
    .argument('<image>', 'memory image file (its first byte is at physical address --base)')
    .option('--layout <layout>', 'ring layout: split or packed')
    .option('--queue-size <n>', 'queue size (number of descriptors)')
    .option('--desc <addr>', 'descriptor table / ring address (hex 0x... or decimal)')
    .option('--avail <addr>', 'split: available ring address')
    .option('--used <addr>', 'split: used ring address')
    .option('--align <a>', 'split: legacy contiguous vring with this used-ring alignment (instead of --avail/--used)')
    .option('--driver-event <addr>', 'packed: driver event suppression area address')
    .option('--device-event <addr>', 'packed: device event suppression area address')
    .option('--base <addr>', 'physical address of the image\'s first byte', undefined)
    .option('--piece <file@addr>', 'map one more file at this address beside the image (repeatable)', collect)
    .option('--ram <size@base>', 'guest RAM range chain buffers may lie in when only pieces of it are given (BASE default 0)')
    .option('--json', 'print the report as JSON')
    .option('--rpmsg', 'decode an RPMsg resource table and its vrings instead of a single ring')
    .option('--rsc-table <addr>', 'with --rpmsg: address of the remoteproc resource table')
    .option('--vsock <queue>', 'with --layout: decode the ring\'s buffers as virtio-vsock packets of queue rx, tx or event')
    .action(async (image: string, opts: InspectOptions) => {
      process.stdout.write(await runInspect(image, opts));
    });
}
