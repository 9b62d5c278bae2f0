/**
 * The remote's buffer window: the one address interval where host buffers may lie. The remote reads messages from
 * and writes messages into host-posted buffers, so the window decides where a hostile host can aim the secure side's
 * reads and writes. It never covers the resource table or a vring:
 *
 *   table   vring0   vring1   buffer pool
 *   [####]  [#####]  [#####]  [..............]      # forbidden, . the window (default: exactly the pool)
 *
 * Start: the window the caller asked for, else the "vdev0buffer" carveout's pool, else the memory region holding
 * the table. Then the forbidden spans are cut out of it and one gap is kept: the gap holding the whole pool when the
 * pool is known, else the largest gap (lowest first on a tie). One interval keeps the per-buffer check at two
 * comparisons.
 */
import type { RpmsgLayout } from './layout.js';

export interface BufferWindow {
  readonly base: number;
  readonly size: number;
}

/** Spans of [start, end) no host buffer may touch: the resource table and both vrings. */
export function forbiddenSpans(L: RpmsgLayout): [number, number][] {
  return [
    [L.rscTable, L.rscTable + L.rscTableSize],
    [L.vring0.da, L.vring0.da + L.vring0.bytes],
    [L.vring1.da, L.vring1.da + L.vring1.bytes],
  ];
}

/**
 * The effective window. `requested`: the caller's window, if any; `tableRegion`: [base, end) of the memory region
 * holding the table (used when neither a window nor a pool is known).
 */
export function effectiveBufferWindow(L: RpmsgLayout, requested: BufferWindow | undefined, tableRegion: { base: number; end: number } | undefined): BufferWindow {
  const b = L.buffers;
  const poolLo = b.base;
  const poolHi = b.base + b.count * b.size;
  const havePool = b.count > 0;
  let lo: number;
  let hi: number;
  if (requested !== undefined) {
    lo = requested.base;
    hi = requested.base + requested.size;
  } else if (havePool) {
    lo = poolLo;
    hi = poolHi;
  } else if (tableRegion !== undefined) {
    lo = tableRegion.base;
    hi = tableRegion.end;
  } else {
    return { base: 0, size: 0 };
  }
  if (!(hi > lo)) return { base: lo, size: 0 };
  const cuts = forbiddenSpans(L)
    .filter(([s, e]) => s < hi && e > lo)
    .sort((x, y) => x[0] - y[0]);
  // Gaps of [lo, hi) between the cuts.
  const gaps: [number, number][] = [];
  let at = lo;
  for (const [s, e] of cuts) {
    if (s > at) gaps.push([at, s]);
    if (e > at) at = e;
  }
  if (hi > at) gaps.push([at, hi]);
  if (gaps.length === 0) return { base: lo, size: 0 };
  let best = gaps[0]!;
  const withPool = havePool ? gaps.find(([s, e]) => s <= poolLo && poolHi <= e) : undefined;
  if (withPool !== undefined) best = withPool;
  else for (const g of gaps) if (g[1] - g[0] > best[1] - best[0]) best = g;
  return { base: best[0], size: best[1] - best[0] };
}
