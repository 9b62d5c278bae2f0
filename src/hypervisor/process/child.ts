/**
 * Main of a partition's OS process (`node dist/src/hypervisor/process/child.js`, forked by ./partition.ts). It maps
 * the files named in its boot message — nothing else — and runs the partition bootstrap in a worker thread of this
 * process (./partition-entry.ts), relaying the worker's messages to the hypervisor process over IPC. The main thread
 * stays free for the relay; the partition's core blocks in its worker as it does in-process.
 */
import { Worker } from 'node:worker_threads';
import { mapSharedFile } from '../../host/shm.js';
import type { RegionSpec } from '../../virtio/memory.js';
import type { PartitionWorkerData } from '../partition-worker.js';
import type { ChildToParent, MappedFile, ParentToChild, PartitionProcessSpec } from './protocol.js';

const ENTRY = new URL('./partition-entry.js', import.meta.url);

function send(m: ChildToParent): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(m, undefined, {}, () => resolve());
  });
}

function boot(spec: PartitionProcessSpec): void {
  const files: string[] = [];
  const map = (f: MappedFile): SharedArrayBuffer => {
    files.push(f.path);
    // never create or grow: a file the hypervisor did not make (or made smaller) is a boot error
    return mapSharedFile(f.path, { size: f.size, create: false, grow: false });
  };
  const { regions, ctlShared, ctlSecure, trace, ...rest } = spec;
  const data: PartitionWorkerData = {
    ...rest,
    regions: regions.map(({ file, ...r }): RegionSpec => ({ ...r, buffer: map(file) })),
    ctlShared: map(ctlShared),
    ...(ctlSecure !== undefined ? { ctlSecure: map(ctlSecure) } : {}),
    ...(trace !== undefined ? { trace: map(trace) } : {}),
  };
  const worker = new Worker(ENTRY, { workerData: data, stdout: true, stderr: true });
  worker.stdout.pipe(process.stderr, { end: false });
  worker.stderr.pipe(process.stderr, { end: false });
  worker.on('message', (msg: unknown) => void send({ type: 'partition', msg }));
  worker.on('error', (e) => void send({ type: 'error', error: e instanceof Error ? e.message : String(e) }));
  worker.on('exit', (code) => {
    void send({ type: 'exit', code }).then(() => process.exit(0));
  });
  void send({ type: 'mapped', pid: process.pid, files });
}

process.once('message', (m: ParentToChild) => {
  try {
    if (typeof m !== 'object' || m === null || m.type !== 'boot') throw new Error('expected a boot message');
    boot(m.spec);
  } catch (e) {
    void send({ type: 'error', error: e instanceof Error ? e.message : String(e) }).then(() => process.exit(1));
  }
});
// the hypervisor process went away: nothing left to serve
process.on('disconnect', () => process.exit(0));
