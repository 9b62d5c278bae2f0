/**
 * Messages between the hypervisor process and a partition process (child_process IPC, 'advanced' serialization).
 *
 *   parent → child   boot {spec}                       once, right after the fork
 *   child → parent   mapped {pid, files}               the files are mapped and the partition worker is starting
 *                    partition {msg}                   a PartitionMessage of the worker, relayed unchanged
 *                    exit {code}                       the worker exited (the child exits right after)
 *                    error {error}                     the child could not boot (bad spec, mapping failed, ...)
 *
 * A partition process receives only the paths of the files its world may map: the non-secure one never learns the
 * secure files' names (and they are unlinked before it starts).
 */
import type { MemoryMapDesc, WindowDesc, World } from '../../guest/memory-map.js';
import type { RpmsgLayout } from '../../rpmsg/index.js';

export interface MappedRegionSpec {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly attrs?: Readonly<Record<string, unknown>>;
  /** The shared file backing the region (file offset 0 = base). */
  readonly path: string;
}

export interface PartitionProcessSpec {
  readonly world: World;
  readonly cores: 1 | 2;
  readonly module: string;
  readonly args: Record<string, unknown>;
  readonly map: MemoryMapDesc;
  readonly held: WindowDesc[];
  readonly regions: MappedRegionSpec[];
  readonly ctlSharedPath: string;
  readonly ctlSharedSize: number;
  /** Secure partition only. */
  readonly ctlSecurePath?: string;
  readonly ctlSecureSize?: number;
  readonly numVqs: number;
  readonly preemptTimeoutUs?: number;
  readonly rpmsg?: { readonly layout: RpmsgLayout; readonly role: 'host' | 'remote' };
}

export type ParentToChild = { readonly type: 'boot'; readonly spec: PartitionProcessSpec };

export type ChildToParent =
  | { readonly type: 'mapped'; readonly pid: number; readonly files: readonly string[] }
  | { readonly type: 'partition'; readonly msg: unknown }
  | { readonly type: 'exit'; readonly code: number }
  | { readonly type: 'error'; readonly error: string };
