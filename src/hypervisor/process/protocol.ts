/**
 * Messages between the hypervisor process and a partition process (child_process IPC, 'advanced' serialization).
 *
 *   parent → child   boot {spec}                       once, right after the fork
 *   child → parent   mapped {pid, files}               the files are mapped and the partition worker is starting
 *                    partition {msg}                   a PartitionMessage of the worker, relayed unchanged
 *                    exit {code}                       the worker exited (the child exits right after)
 *                    error {error}                     the child could not boot (bad spec, mapping failed, ...)
 *
 * The spec is the partition's PartitionWorkerData with every buffer replaced by the file that backs it. A partition
 * process receives only the paths of the files its world may map: the non-secure one never learns the secure files'
 * names (and they are unlinked before it starts).
 */
import type { RegionSpec } from '../../virtio/memory.js';
import type { PartitionWorkerData } from '../partition-worker.js';

/** A shared file to map: `size` bytes from offset 0. */
export interface MappedFile {
  readonly path: string;
  readonly size: number;
}

export type MappedRegionSpec = Omit<RegionSpec, 'buffer'> & { readonly file: MappedFile };

export type PartitionProcessSpec = Omit<PartitionWorkerData, 'regions' | 'ctlShared' | 'ctlSecure' | 'trace'> & {
  readonly regions: readonly MappedRegionSpec[];
  readonly ctlShared: MappedFile;
  /** The partition's trace buffer (--trace). */
  readonly trace?: MappedFile;
  /** Secure partition only. */
  readonly ctlSecure?: MappedFile;
};

export type ParentToChild = { readonly type: 'boot'; readonly spec: PartitionProcessSpec };

export type ChildToParent =
  | { readonly type: 'mapped'; readonly pid: number; readonly files: readonly string[] }
  | { readonly type: 'partition'; readonly msg: unknown }
  | { readonly type: 'exit'; readonly code: number }
  | { readonly type: 'error'; readonly error: string };
