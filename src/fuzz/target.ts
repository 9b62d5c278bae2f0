/**
 * The contract between the fuzz runner and a fuzz target (split queue, packed queue, RPMsg remote, ...).
 *
 * A target runs one iteration from a fresh generator: it picks a configuration, lets a hostile driver write the
 * shared memory, calls the device, and checks the oracles after every call, reporting through the context. It
 * must not throw (an exception escaping a target is itself recorded as a crash by the runner).
 */
import { isVirtioError, type DescriptorChain } from '../virtio/index.js';
import type { FuzzArena, Range } from './arena.js';
import type { Prng } from './prng.js';
import { addFinding, bump, type FindingKind, type FuzzReport } from './report.js';

export interface FuzzContext {
  readonly report: FuzzReport;
  readonly target: string;
  readonly iteration: number;
  /** Current step inside the iteration (for findings). */
  step: number;
  /** Command that replays this iteration. */
  readonly repro: string;
  /** Called after every device call (the watchdog's heartbeat). */
  readonly tick: () => void;
}

export interface FuzzTarget {
  readonly name: string;
  /** Runs one iteration; `steps` bounds the number of hostile-driver and device steps. */
  run(rng: Prng, ctx: FuzzContext, steps: number): void;
}

export function finding(ctx: FuzzContext, kind: FindingKind, message: string): void {
  addFinding(ctx.report, { kind, target: ctx.target, iteration: ctx.iteration, step: ctx.step, message, repro: ctx.repro });
}

/** For calls that must never throw at all. */
export function neverThrows(_e: unknown): _e is { code: string } & Error {
  return false;
}

/**
 * Calls a device operation and applies the oracles every call shares: only a typed error (default: VirtioError) may escape (anything else
 * is a crash), the canaries around the shared region stay intact, and the region changes only inside `allowed`.
 * Returns the operation's result, or the VirtioError it threw.
 */
export function guarded<T>(
  ctx: FuzzContext,
  arena: FuzzArena,
  what: string,
  allowed: readonly Range[],
  op: () => T,
  countErrors = true,
  isTyped: (e: unknown) => e is { code: string } & Error = isVirtioError,
): { ok: true; value: T } | { ok: false; error: Error } {
  ctx.report.states++;
  arena.snapshot();
  let res: { ok: true; value: T } | { ok: false; error: Error };
  try {
    res = { ok: true, value: op() };
  } catch (e) {
    if (!isTyped(e)) {
      const err = e instanceof Error ? e : new Error(String(e));
      finding(ctx, 'crash', `${what} threw ${err.name}: ${err.message}`);
    } else if (countErrors) {
      bump(ctx.report.errorsByCode, (e as { code: string }).code);
    }
    res = { ok: false, error: e instanceof Error ? e : new Error(String(e)) };
  }
  ctx.tick();
  const g = arena.checkGuards();
  if (g >= 0) {
    finding(ctx, 'violation', `${what} wrote outside the shared region (guard byte at buffer offset ${g})`);
    arena.fillGuards();
  }
  const w = arena.firstForbiddenChange(allowed);
  if (w >= 0) finding(ctx, 'violation', `${what} wrote 0x${w.toString(16)}, outside the areas the device may write`);
  return res;
}

/** A segment as the hostile driver meant it. */
export interface SegModel {
  readonly addr: number;
  readonly len: number;
  readonly write: boolean;
}

export function sameSegs(a: readonly SegModel[], b: readonly SegModel[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.addr !== b[i]!.addr || a[i]!.len !== b[i]!.len || a[i]!.write !== b[i]!.write) return false;
  return true;
}

/** How a target names a chain's identity in findings: the split head index, or the packed buffer id. */
export interface ChainNaming {
  /** "head" or "id". */
  readonly word: string;
  /** "chain head" or "buffer id" (for the out-of-queue finding). */
  readonly label: string;
}

/**
 * The oracles every virtqueue target applies to a chain the device just popped: each segment lies inside the shared
 * region, the chain respects maxChainSegments, its id is inside the queue and not already held. Returns the segments
 * as the model records them.
 */
export function checkPoppedChain(
  ctx: FuzzContext,
  arena: FuzzArena,
  c: DescriptorChain,
  o: { readonly maxSegs: number; readonly size: number; readonly held: ReadonlyMap<number, unknown>; readonly naming: ChainNaming },
): SegModel[] {
  const segs: SegModel[] = [];
  for (let i = 0; i < c.count; i++) {
    const addr = c.addr[i]!;
    const len = c.len[i]!;
    if (!(addr >= arena.base && addr + len <= arena.end)) finding(ctx, 'violation', `segment ${i} ${addr}+${len} of ${o.naming.word} ${c.head} lies outside the shared region`);
    segs.push({ addr, len, write: i >= c.readable });
  }
  if (c.count > o.maxSegs) finding(ctx, 'violation', `chain of ${c.count} segments exceeds maxChainSegments ${o.maxSegs}`);
  if (!(c.head >= 0 && c.head < o.size)) finding(ctx, 'violation', `${o.naming.label} ${c.head} is outside the queue`);
  if (o.held.has(c.head)) finding(ctx, 'violation', `${o.naming.word} ${c.head} was returned twice without being used`);
  return segs;
}

/** On a ring the hostile driver left well-formed, the popped chain must be exactly the next one it offered. */
export function checkCleanPop(
  ctx: FuzzContext,
  c: DescriptorChain,
  segs: readonly SegModel[],
  offered: { readonly id: number; readonly segs: readonly SegModel[] } | undefined,
  naming: ChainNaming,
): void {
  if (offered === undefined) finding(ctx, 'violation', `clean ring: ${naming.word} ${c.head} popped but nothing was offered`);
  else if (offered.id !== c.head || !sameSegs(offered.segs, segs)) {
    finding(ctx, 'violation', `clean ring: popped ${JSON.stringify(c.toJSON())}, offered ${naming.word} ${offered.id} ${JSON.stringify(offered.segs)}`);
  }
}
