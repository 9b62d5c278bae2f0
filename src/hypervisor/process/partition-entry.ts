/**
 * Worker entry of a partition in its own OS process (started by ./child.ts). It makes Atomics on the mapped control
 * blocks cross-process (./atomics-shim.ts), then runs the ordinary partition bootstrap (../partition-worker.ts)
 * unchanged: same workerData, same messages, same guest API.
 */
import { workerData } from 'node:worker_threads';
import type { PartitionWorkerData } from '../partition-worker.js';
import { installCrossProcessAtomics } from './atomics-shim.js';

const d = workerData as PartitionWorkerData;
installCrossProcessAtomics([d.ctlShared, ...(d.ctlSecure !== undefined ? [d.ctlSecure] : [])]);
await import('../partition-worker.js');
