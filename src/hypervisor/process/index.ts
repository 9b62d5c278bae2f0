/** Process isolation: each partition in its own OS process over mapped shared files. */
import { runMachine, type MachineConfig, type MachineResult } from '../machine.js';

export { processLauncher, assertProcessIsolationAvailable, type ProcessLauncherOptions } from './launcher.js';
export type { PartitionProcessInfo } from '../launcher.js';
export { installCrossProcessAtomics, ringShared } from './atomics-shim.js';
export { runIsolationBench, type IsolationBenchRow, type IsolationBenchOptions } from './bench.js';

/** `runMachine` with `isolation: 'process'` (kept for callers of the former separate entry point). */
export function runMachineInProcesses(cfg: Omit<MachineConfig, 'isolation'>): Promise<MachineResult> {
  return runMachine({ ...cfg, isolation: 'process' });
}
