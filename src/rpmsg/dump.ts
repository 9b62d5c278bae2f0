/**
 * Region dumps: the whole shared region of one RPMsg vdev as a raw image (first byte = layout.base) plus IMAGE.json
 * telling where the resource table, vrings and buffer pool are, and the inspect command that decodes it.
 */
import { writeFileSync } from 'node:fs';
import type { PhysicalMemory } from '../virtio/memory.js';
import type { RpmsgLayout } from './layout.js';
import { RpmsgError, RpmsgErrorCode } from './errors.js';

export interface RegionDumpInfo {
  readonly base: number;
  readonly size: number;
  readonly rscTable: number;
  readonly vring0: { readonly da: number; readonly align: number; readonly num: number };
  readonly vring1: { readonly da: number; readonly align: number; readonly num: number };
  readonly buffers: { readonly base: number; readonly size: number; readonly count: number };
  /** `tz-virtio inspect` command line that decodes the image. */
  readonly inspect: string;
}

export function regionDumpInfo(layout: RpmsgLayout, path: string): RegionDumpInfo {
  const ring = (r: RpmsgLayout['vring0']): RegionDumpInfo['vring0'] => ({ da: r.da, align: r.align, num: r.num });
  return {
    base: layout.base,
    size: layout.size,
    rscTable: layout.rscTable,
    vring0: ring(layout.vring0),
    vring1: ring(layout.vring1),
    buffers: { ...layout.buffers },
    inspect: `tz-virtio inspect ${path} --rpmsg --rsc-table 0x${layout.rscTable.toString(16)} --base 0x${layout.base.toString(16)}`,
  };
}

/** Writes `path` (the region's bytes, a snapshot copy) and `path.json`; returns the JSON written. */
export function dumpRegion(memory: PhysicalMemory, layout: RpmsgLayout, path: string): RegionDumpInfo {
  const region = memory.findRegion(layout.base, layout.size);
  if (region === undefined) throw new RpmsgError(RpmsgErrorCode.BAD_LAYOUT, `region [0x${layout.base.toString(16)}, +${layout.size}) is not inside one memory region`);
  const info = regionDumpInfo(layout, path);
  writeFileSync(path, memory.bytes(layout.base, layout.size).slice());
  writeFileSync(`${path}.json`, JSON.stringify(info, null, 2) + '\n');
  return info;
}
