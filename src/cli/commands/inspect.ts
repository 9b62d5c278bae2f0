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
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, CliErrorCode, parseNumberArg } from '../errors.js';
import { choiceOption } from '../options.js';
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
  vsock?: 'rx' | 'tx' | 'event';
}

/** The signatures the RPMsg layer provides in src/rpmsg/inspect.ts. */
type InspectRpmsgImage = (image: Uint8Array, opts: { rscTable: number; base: number; json: boolean }) => string;
type RpmsgImageReport = (image: Uint8Array, opts: { rscTable: number; base: number }) => { errors: readonly unknown[] };

/**
 * The largest image read (1 GiB): a dump of guest RAM fits; /dev/zero or a mistaken path does not fill memory. Only
 * regular files are read (a FIFO or a character device would block or never end).
 */
export const MAX_IMAGE_BYTES = 1 << 30;

function need(opts: InspectOptions, key: keyof InspectOptions, flag: string, why: string): string {
  const v = opts[key];
  if (typeof v !== 'string') throw new CliError(`inspect: ${why} needs ${flag}`);
  return v;
}

function forbid(opts: InspectOptions, keys: [keyof InspectOptions, string][], why: string): void {
  for (const [k, flag] of keys) if (opts[k] !== undefined) throw new CliError(`inspect: ${flag} does not apply to ${why}`);
}

function readImage(path: string): Uint8Array {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer must not block before we can refuse it
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new CliError(`inspect: cannot read image '${path}'${code ? ` (${code})` : ''}`, 2, CliErrorCode.FILE);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new CliError(`inspect: image '${path}' is ${kind}; give a regular file (a memory dump)`, 2, CliErrorCode.FILE);
    }
    if (st.size > MAX_IMAGE_BYTES) throw new CliError(`inspect: image '${path}' has ${st.size} bytes, more than the ${MAX_IMAGE_BYTES}-byte limit; cut the ring areas out with --piece`, 2, CliErrorCode.FILE);
    const out = new Uint8Array(st.size);
    let off = 0;
    while (off < out.length) {
      const n = readSync(fd, out, off, out.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === out.length ? out : out.subarray(0, off);
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as { code?: string }).code;
    throw new CliError(`inspect: cannot read image '${path}'${code ? ` (${code})` : ''}`, 2, CliErrorCode.FILE);
  } finally {
    closeSync(fd);
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

async function loadRpmsgInspector(): Promise<{ inspectRpmsgImage: InspectRpmsgImage; rpmsgImageReport: RpmsgImageReport }> {
  // Imported lazily so the virtio-only paths do not depend on the RPMsg layer being built.
  const specifier = '../../rpmsg/inspect.js';
  let mod: { inspectRpmsgImage?: unknown; rpmsgImageReport?: unknown };
  try {
    mod = (await import(specifier)) as { inspectRpmsgImage?: unknown; rpmsgImageReport?: unknown };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes('rpmsg/inspect')) {
      throw new CliError('inspect --rpmsg: RPMsg support not built');
    }
    throw e;
  }
  if (typeof mod.inspectRpmsgImage !== 'function' || typeof mod.rpmsgImageReport !== 'function') throw new CliError('inspect --rpmsg: RPMsg support not built');
  return { inspectRpmsgImage: mod.inspectRpmsgImage as InspectRpmsgImage, rpmsgImageReport: mod.rpmsgImageReport as RpmsgImageReport };
}

/** Runs inspect and returns the text to print (exported for tests). */
export async function runInspect(imagePath: string, opts: InspectOptions): Promise<string> {
  return (await inspectImage(imagePath, opts)).text;
}

/** Runs inspect: the text to print, and whether the image held errors (the command then exits 1 after printing). */
export async function inspectImage(imagePath: string, opts: InspectOptions): Promise<{ text: string; failed: boolean }> {
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
    const rpmsg = await loadRpmsgInspector();
    const image = readImage(imagePath);
    const failed = rpmsg.rpmsgImageReport(image, { rscTable, base }).errors.length > 0;
    const text = rpmsg.inspectRpmsgImage(image, { rscTable, base, json });
    return { text: text.endsWith('\n') ? text : text + '\n', failed };
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
    if (opts.vsock !== undefined) return { text: (await import('../../vsock/inspect.js')).inspectVsockRing(image, report, { queue: opts.vsock, base, json, pieces, ...(ram ? { ram } : {}) }), failed: false };
    return { text: json ? JSON.stringify(report, null, 2) + '\n' : renderSplitText(report), failed: false };
  }
  if (layout === 'packed') {
    forbid(opts, [['avail', '--avail'], ['used', '--used'], ['align', '--align']], 'a packed ring');
    const driverEvent = parseNumberArg('--driver-event', need(opts, 'driverEvent', '--driver-event ADDR', '--layout packed'));
    const deviceEvent = parseNumberArg('--device-event', need(opts, 'deviceEvent', '--device-event ADDR', '--layout packed'));
    const image = readImage(imagePath);
    const pieces = readPieces(opts.piece);
    const ram = parseRam(opts.ram);
    const report = decode(() => packedReport(image, { queueSize, base, desc, driverEvent, deviceEvent, pieces, ...(ram ? { ram } : {}) }));
    if (opts.vsock !== undefined) return { text: (await import('../../vsock/inspect.js')).inspectVsockRing(image, report, { queue: opts.vsock, base, json, pieces, ...(ram ? { ram } : {}) }), failed: false };
    return { text: json ? JSON.stringify(report, null, 2) + '\n' : renderPackedText(report), failed: false };
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
    .option('--vsock <queue>', 'with --layout: decode the ring\'s buffers as virtio-vsock packets of queue rx, tx or event', choiceOption('--vsock', ['rx', 'tx', 'event'] as const))
    .addHelpText(
      'after',
      '\nExamples:\n  npx tz-virtio inspect ring.bin --layout split --queue-size 256 --desc 0x0 --align 4096\n  npx tz-virtio run --dump-shm shm.bin && npx tz-virtio inspect shm.bin --rpmsg --rsc-table 0x38000000 --base 0x38000000',
    )
    .action(async (image: string, opts: InspectOptions) => {
      const r = await inspectImage(image, opts);
      process.stdout.write(r.text);
      // a table or ring the decoder could not read: the report says what, the exit code says that it failed
      if (r.failed) process.exitCode = 1;
    });
}
