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
