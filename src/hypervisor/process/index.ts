/** Process isolation: each partition in its own OS process over mapped shared files (issue 7). */
export { runMachineInProcesses, assertProcessIsolationAvailable, type ProcessMachineConfig, type ProcessMachineResult, type PartitionProcessInfo } from './machine.js';
export { ProcessPartition } from './partition.js';
export { installCrossProcessAtomics, ringShared } from './atomics-shim.js';
export { runIsolationBench, type IsolationBenchRow, type IsolationBenchOptions } from './bench.js';
