/**
 * How a partition is launched and how the machine's memory is provided — the one thing that differs between
 * `--isolation worker` and `--isolation process`. The machine (./machine.ts) orchestrates both through this
 * interface: allocate the backing of every window and both control blocks, ring doorbells, start a partition's
 * bootstrap (./partition-worker.ts) with its PartitionWorkerData, and hear its messages and its end.
 *
 *   worker  (this file)            SharedArrayBuffers, a worker_threads Worker per partition.
 *   process (./process/launcher.ts) files mapped MAP_SHARED, a child process per partition running the same
 *                                   bootstrap in a worker with the cross-process Atomics shim.
 *
 * A channel reports what its partition posted, unchecked: validation (a non-secure partition is hostile) is the
 * business of ./partition.ts, identical in both modes.
 */
import { Worker } from 'node:worker_threads';
import type { World } from '../guest/memory-map.js';
import { allocateBacking, type Backing, type Platform } from './platform.js';
import { allocateCtl, ring, type CtlBlocks } from './ctl.js';
import type { PartitionWorkerData } from './partition-worker.js';

export type Isolation = 'worker' | 'process';

/** A partition's OS process (process isolation only). */
export interface PartitionProcessInfo {
  readonly world: World;
  readonly pid: number;
  /** The files the process mapped (its whole view of the machine's memory). */
  readonly files: readonly string[];
}

export interface ChannelHandlers {
  /** A message the partition's bootstrap posted (a PartitionMessage if it is honest). */
  readonly message: (m: unknown) => void;
  /** An uncaught error (the partition goes on until `exit`). */
  readonly error: (text: string) => void;
  /** The partition is gone and will touch no memory any more; `how` e.g. "worker exited with code 70". Called once. */
  readonly exit: (how: string) => void;
}

/** A running partition as the launcher sees it. */
export interface PartitionChannel {
  /** Resolves when the partition's memory is set up (process: its files are mapped), undefined if it never was. */
  readonly started: Promise<PartitionProcessInfo | undefined>;
  /** Ends it now (worker: terminate; process: SIGKILL). Resolves once it is gone. */
  terminate(): Promise<void>;
}

export interface PartitionLauncher {
  readonly isolation: Isolation;
  /** Fresh zeroed backing for the windows and both control blocks. Called once per machine. */
  allocate(platform: Platform): { readonly backing: Backing; readonly ctl: CtlBlocks };
  /** A zeroed buffer of `bytes` for one partition's trace (--trace), shared with that partition wherever it runs. */
  allocateTrace(name: string, bytes: number): SharedArrayBuffer;
  /** Rings a doorbell word so that a partition waiting on it wakes, wherever it runs. */
  ring(words: Int32Array, index: number): void;
  /** Starts a partition's bootstrap. The buffers in `data` must come from allocate(). */
  start(data: PartitionWorkerData, on: ChannelHandlers): PartitionChannel;
  /** Called once the secure partition started, before the first non-secure boot (process: unlinks the secure files). */
  secureStarted(secure: PartitionChannel): Promise<void>;
  /** The partition processes started so far (empty for workers). */
  readonly processes: readonly PartitionProcessInfo[];
  /** Releases what allocate() made outside this process (files). Idempotent; mappings stay valid. */
  dispose(): void;
}

const WORKER_URL = new URL('./partition-worker.js', import.meta.url);

/** Partitions as worker threads of this process over SharedArrayBuffers (the default). */
export function workerLauncher(): PartitionLauncher {
  return {
    isolation: 'worker',
    allocate: (platform) => ({ backing: allocateBacking(platform), ctl: allocateCtl() }),
    allocateTrace: (_name, bytes) => new SharedArrayBuffer(bytes),
    ring,
    start(data, on) {
      // a guest's console output goes to stderr, so that --json output on stdout stays clean
      const worker = new Worker(WORKER_URL, { workerData: data, stdout: true, stderr: true });
      worker.stdout.pipe(process.stderr, { end: false });
      worker.stderr.pipe(process.stderr, { end: false });
      let exited = false;
      const gone = new Promise<void>((resolve) => {
        worker.on('exit', (code) => {
          exited = true;
          on.exit(`worker exited with code ${code}`);
          resolve();
        });
      });
      worker.on('message', on.message);
      worker.on('error', (e) => on.error(e instanceof Error ? e.message : String(e)));
      return {
        started: Promise.resolve(undefined),
        async terminate() {
          if (!exited) await worker.terminate();
          await gone;
        },
      };
    },
    secureStarted: async () => undefined,
    processes: [],
    dispose: () => undefined,
  };
}
