/**
 * What a fuzz run found. Counters are plain numbers so a report crosses postMessage and JSON unchanged; `merge`
 * adds the reports of several workers or targets.
 *
 *   crash      something other than a VirtioError escaped the device (a TypeError, a RangeError, ...)
 *   hang       a device call did not return (the watchdog saw no progress for its timeout)
 *   violation  an oracle failed: a segment outside the shared region, a write where the device may not write, a
 *              used entry for a buffer the device never received, a queue that kept popping after an error, a
 *              well-formed chain rejected or returned wrongly
 */
export type FindingKind = 'crash' | 'hang' | 'violation';

export interface FuzzFinding {
  readonly kind: FindingKind;
  readonly target: string;
  readonly iteration: number;
  readonly step: number;
  readonly message: string;
  /** Command line that replays the iteration. */
  readonly repro: string;
}

export interface FuzzReport {
  seed: number;
  targets: string[];
  /** Fuzz cases run (each a fresh queue configuration driven for a number of steps). */
  iterations: number;
  /** Device calls made on ring memory as the hostile driver left it (pop, pending, pushUsed, publishUsed, notification toggles). */
  states: number;
  /** pop() calls among them, and how many returned a chain. */
  pops: number;
  chains: number;
  /** Hostile writes (corruptions of a well-formed ring), by kind. */
  mutations: Record<string, number>;
  /** Typed errors the device raised, by code (each one broke the queue: DEVICE_NEEDS_RESET, then a reset). */
  errorsByCode: Record<string, number>;
  /** Device resets after an error; each was followed by a well-formed chain that had to pop correctly. */
  resets: number;
  /** pushUsed calls for buffers the device does not hold (or with too large a length), all of which must be refused. */
  refused: number;
  crashes: number;
  hangs: number;
  violations: number;
  /** The first findings (at most 20 kept). */
  findings: FuzzFinding[];
  elapsedMs: number;
}

export const MAX_FINDINGS = 20;

export function emptyReport(seed: number, targets: string[] = []): FuzzReport {
  return {
    seed,
    targets: [...targets],
    iterations: 0,
    states: 0,
    pops: 0,
    chains: 0,
    mutations: {},
    errorsByCode: {},
    resets: 0,
    refused: 0,
    crashes: 0,
    hangs: 0,
    violations: 0,
    findings: [],
    elapsedMs: 0,
  };
}

export function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

export function addFinding(r: FuzzReport, f: FuzzFinding): void {
  if (f.kind === 'crash') r.crashes++;
  else if (f.kind === 'hang') r.hangs++;
  else r.violations++;
  if (r.findings.length < MAX_FINDINGS) r.findings.push(f);
}

/** Adds `b` into `a` (elapsed time: the longer of the two, as parallel workers overlap). */
export function mergeReports(a: FuzzReport, b: FuzzReport): FuzzReport {
  for (const t of b.targets) if (!a.targets.includes(t)) a.targets.push(t);
  a.iterations += b.iterations;
  a.states += b.states;
  a.pops += b.pops;
  a.chains += b.chains;
  for (const [k, v] of Object.entries(b.mutations)) bump(a.mutations, k, v);
  for (const [k, v] of Object.entries(b.errorsByCode)) bump(a.errorsByCode, k, v);
  a.resets += b.resets;
  a.refused += b.refused;
  a.crashes += b.crashes;
  a.hangs += b.hangs;
  a.violations += b.violations;
  for (const f of b.findings) if (a.findings.length < MAX_FINDINGS) a.findings.push(f);
  a.elapsedMs = Math.max(a.elapsedMs, b.elapsedMs);
  return a;
}

/** True when nothing went wrong. */
export function isClean(r: FuzzReport): boolean {
  return r.crashes === 0 && r.hangs === 0 && r.violations === 0;
}

function table(map: Record<string, number>, indent: string): string[] {
  return Object.entries(map)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${indent}${String(v).padStart(10)}  ${k}`);
}

/** Human-readable report for the terminal. */
export function formatReport(r: FuzzReport): string {
  const lines = [
    `fuzz seed ${r.seed}, targets ${r.targets.join(', ')}`,
    `  iterations ${r.iterations}, states ${r.states} (pops ${r.pops}, chains returned ${r.chains}), resets ${r.resets}, bad pushUsed refused ${r.refused}, ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `  crashes ${r.crashes}, hangs ${r.hangs}, violations ${r.violations}`,
    '  typed errors raised (each: queue broken, DEVICE_NEEDS_RESET, reset) and RPMSG_DROPPED_* (dropped, counted):',
    ...table(r.errorsByCode, '    '),
    '  hostile writes by kind:',
    ...table(r.mutations, '    '),
  ];
  for (const f of r.findings) lines.push(`  ${f.kind.toUpperCase()} [${f.target} #${f.iteration} step ${f.step}] ${f.message}\n    repro: ${f.repro}`);
  return lines.join('\n');
}
