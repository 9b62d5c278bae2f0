import type { Command } from 'commander';
import { register as inspect } from './inspect.js';
import { register as run } from './run.js';
import { register as bench } from './bench.js';
import { register as fuzz } from './fuzz.js';
import { register as soak } from './soak.js';
import { register as openamp } from './openamp.js';
import { register as vhostUser } from './vhost-user.js';

export function registerCommands(program: Command): void {
  for (const r of [run, bench, inspect, fuzz, soak, openamp, vhostUser]) r(program);
}
