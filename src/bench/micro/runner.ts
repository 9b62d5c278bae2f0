/**
 * Runs the micro benchmarks: every module in this folder except types/runner exports `benches: MicroBench[]`
 * (split.ts, packed.ts, rpmsg.ts, ... owned by their areas). Modules are found at run time, so a missing or broken
 * one is reported as skipped. Each bench: calibrate n so one call lasts about `targetMs`, then time `rounds` calls;
 * ns/op = median.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spread } from '../stats.js';
import type { MicroResult, SkippedResult } from '../types.js';
import type { MicroBench } from './types.js';

export interface MicroOptions {
  /** Time per measured call, ms. Default 30 (quick 10). */
  readonly targetMs: number;
  /** Measured calls. Default 7 (quick 5). */
  readonly rounds: number;
  /** Only benches whose name contains this. */
  readonly filter?: string;
}

export function microModules(dir: URL = new URL('./', import.meta.url)): string[] {
  return readdirSync(fileURLToPath(dir))
    .filter((f) => f.endsWith('.js') && f !== 'types.js' && f !== 'runner.js')
    .sort()
    .map((f) => new URL(f, dir).href);
}

export function measureBench(b: MicroBench, o: MicroOptions): MicroResult {
  const fn = b.prepare();
  fn(1);
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    fn(n);
    const dt = performance.now() - t0;
    if (dt >= o.targetMs / 4 || n >= 2 ** 30) {
      n = Math.max(1, Math.round((n * o.targetMs) / Math.max(dt, 1e-3)));
      break;
    }
    n *= 4;
  }
  const per: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const t0 = performance.now();
    fn(n);
    per.push(((performance.now() - t0) * 1e6) / n);
  }
  const s = spread(per);
  return { experiment: 'micro', name: b.name, nsPerOp: s.median, nsPerOpSpread: s, opsPerRound: n, rounds: o.rounds };
}

export async function runMicro(o: MicroOptions, onBench?: (name: string) => void): Promise<(MicroResult | SkippedResult)[]> {
  const out: (MicroResult | SkippedResult)[] = [];
  for (const href of microModules()) {
    const file = href.slice(href.lastIndexOf('/') + 1);
    let benches: readonly MicroBench[];
    try {
      const mod = (await import(href)) as { benches?: readonly MicroBench[] };
      benches = mod.benches ?? [];
    } catch (e) {
      out.push({ experiment: 'micro', contender: file, skipped: `import failed: ${(e as Error).message.split('\n')[0]}` });
      continue;
    }
    for (const b of benches) {
      if (o.filter && !b.name.includes(o.filter)) continue;
      onBench?.(b.name);
      try {
        out.push(measureBench(b, o));
      } catch (e) {
        out.push({ experiment: 'micro', contender: b.name, skipped: `failed: ${(e as Error).message.split('\n')[0]}` });
      }
    }
  }
  return out;
}
