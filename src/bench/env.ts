/** The machine a run happened on (recorded in every report). */
import os from 'node:os';
import type { Env } from './types.js';

export function collectEnv(options: Readonly<Record<string, unknown>> = {}): Env {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.type()} ${os.release()}`,
    arch: process.arch,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAvg: [Math.round(os.loadavg()[0]! * 100) / 100],
    date: new Date().toISOString(),
    options,
  };
}

/** Busy fraction of all CPUs over `ms` (from /proc/stat; undefined where it does not exist). */
export async function cpuBusy(ms = 1000): Promise<number | undefined> {
  const { readFileSync } = await import('node:fs');
  const read = (): number[] | undefined => {
    try {
      const line = readFileSync('/proc/stat', 'latin1').split('\n')[0]!;
      return line.trim().split(/\s+/).slice(1).map(Number);
    } catch {
      return undefined;
    }
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  if (!a || !b) return undefined;
  const d = b.map((v, i) => v - a[i]!);
  const total = d.reduce((x, y) => x + y, 0);
  const idle = (d[3] ?? 0) + (d[4] ?? 0);
  return total > 0 ? 1 - idle / total : undefined;
}

/**
 * Waits until the machine is quiet (CPU busy below `maxBusy` over one second) or `timeoutMs` passed; returns the
 * last busy fraction seen and how long it waited. Other work on a 2-core machine skews every cross-core number.
 */
export async function waitForQuiet(timeoutMs: number, maxBusy = 0.15, onWait?: (busy: number) => void): Promise<{ busy: number | undefined; waitedMs: number }> {
  const t0 = Date.now();
  for (;;) {
    const busy = await cpuBusy(1000);
    if (busy === undefined || busy <= maxBusy || Date.now() - t0 >= timeoutMs) return { busy, waitedMs: Date.now() - t0 };
    onWait?.(busy);
  }
}
