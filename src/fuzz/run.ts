/**
 * The in-process fuzz runner: iteration i of a run with seed S drives target `targets[i % targets.length]` from
 * `new Prng(S, i)`, so any iteration can be replayed alone (`--replay i`). No threads, no timers: the CLI wraps
 * this in a worker with a watchdog (watchdog.ts) to catch hangs; tests call it directly.
 */
import { Prng } from './prng.js';
import { emptyReport, addFinding, type FuzzReport } from './report.js';
import { hostileProcessTarget } from './hostile-process.js';
import { consoleTarget } from './console-target.js';
import { packedTarget } from './packed-target.js';
import { rpmsgTarget } from './rpmsg-target.js';
import { splitTarget } from './split-target.js';
import { vsockTarget } from './vsock-target.js';
import { vhostUserTarget } from './vhost-user-target.js';
import type { FuzzContext, FuzzTarget } from './target.js';

/** A target that hangs at its iteration 2: only for checking the watchdog (`--target selftest-hang`). */
const selftestHang: FuzzTarget = {
  name: 'selftest-hang',
  run(_rng, ctx) {
    ctx.tick();
    if (ctx.iteration === 2) for (;;);
  },
};

export const FUZZ_TARGETS: Readonly<Record<string, FuzzTarget>> = {
  split: splitTarget,
  packed: packedTarget,
  rpmsg: rpmsgTarget,
  /** Opt-in (not a default target): each case starts a second OS process that rewrites the mapped region. */
  'hostile-process': hostileProcessTarget,
  console: consoleTarget,
  vsock: vsockTarget,
  'vhost-user': vhostUserTarget,
  'selftest-hang': selftestHang,
};

export const DEFAULT_TARGETS = ['split', 'packed', 'rpmsg'] as const;

export interface FuzzRunOptions {
  readonly seed: number;
  /** Iterations to run (ignored with `replay`). */
  readonly iterations: number;
  /** Target names (default: split and packed). */
  readonly targets?: readonly string[];
  /** Steps per iteration (default 200). */
  readonly steps?: number;
  /** First iteration number (default 0): a worker restarted after a hang continues after it. */
  readonly from?: number;
  /** Run only this iteration. */
  readonly replay?: number;
  /** Called after every device call with the iteration number (the watchdog heartbeat). */
  readonly tick?: (iteration: number) => void;
  /** Stop early once this many states were reached (default: no limit). */
  readonly maxStates?: number;
}

export function resolveTargets(names: readonly string[] | undefined): FuzzTarget[] {
  const list = names === undefined || names.length === 0 ? [...DEFAULT_TARGETS] : names;
  return list.map((n) => {
    const t = FUZZ_TARGETS[n];
    if (t === undefined) throw new Error(`unknown fuzz target '${n}' (known: ${Object.keys(FUZZ_TARGETS).join(', ')})`);
    return t;
  });
}

export function reproCommand(seed: number, target: string, iteration: number, steps: number): string {
  return `tz-virtio fuzz --seed ${seed} --target ${target} --replay ${iteration}${steps !== 200 ? ` --steps ${steps}` : ''}`;
}

/** Runs the fuzz cases and returns what they found. Never throws for a target's failure (it becomes a crash). */
export function runFuzz(opts: FuzzRunOptions): FuzzReport {
  const targets = resolveTargets(opts.targets);
  const steps = opts.steps ?? 200;
  const report = emptyReport(opts.seed, targets.map((t) => t.name));
  const t0 = performance.now();
  const first = opts.replay ?? opts.from ?? 0;
  const end = opts.replay !== undefined ? opts.replay + 1 : first + opts.iterations;
  for (let i = first; i < end; i++) {
    const target = opts.replay !== undefined && targets.length === 1 ? targets[0]! : targets[i % targets.length]!;
    const tick = opts.tick;
    const ctx: FuzzContext = {
      report,
      target: target.name,
      iteration: i,
      step: 0,
      repro: reproCommand(opts.seed, target.name, i, steps),
      tick: tick === undefined ? () => {} : () => tick(i),
    };
    try {
      target.run(new Prng(opts.seed, i), ctx, steps);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      addFinding(report, { kind: 'crash', target: target.name, iteration: i, step: ctx.step, message: `target threw ${err.name}: ${err.message}`, repro: ctx.repro });
    }
    report.iterations++;
    if (opts.maxStates !== undefined && report.states >= opts.maxStates) break;
  }
  report.elapsedMs = performance.now() - t0;
  return report;
}
