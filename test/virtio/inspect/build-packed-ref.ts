/**
 * Compiles test/virtio/inspect/fixtures/packed_ref.c (against the machine's <linux/virtio_ring.h>) with gcc into a
 * temporary directory, once per process, and runs it to write a packed ring image.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir } from '../../support/scratch.js';

const SOURCE = fileURLToPath(new URL('./fixtures/packed_ref.c', import.meta.url));
let cached: string | undefined;

export function buildPackedRef(): string {
  if (cached !== undefined) return cached;
  const dir = scratchDir('tz-virtio-packed-ref-');
  const bin = join(dir, 'packed_ref');
  execFileSync(process.env['CC'] ?? 'gcc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', bin, SOURCE], { stdio: 'pipe' });
  cached = bin;
  return bin;
}

export interface PackedRefFacts {
  base: string;
  num: number;
  desc: string;
  driverEvent: string;
  deviceEvent: string;
  descFlags: number[];
  driverOffWrap: number;
  driverFlags: number;
  deviceFlags: number;
  descSize: number;
  eventSize: number;
}

/** Writes the image to `file` and returns what the C side says it wrote. */
export function writePackedRefImage(file: string): PackedRefFacts {
  return JSON.parse(execFileSync(buildPackedRef(), [file], { encoding: 'utf8' })) as PackedRefFacts;
}
