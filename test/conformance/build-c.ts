/**
 * Compiles test/conformance/fixtures/vring_ref.c (against the machine's <linux/virtio_ring.h>) with gcc into a
 * temporary directory and returns the binary's path. Reusable by other tests (e.g. `inspect`): call
 * `buildVringRef()`; the result is cached per process.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir } from '../support/scratch.js';

export const VRING_REF_SOURCE = fileURLToPath(new URL('./fixtures/vring_ref.c', import.meta.url));
export const GCC = process.env['CC'] ?? '/usr/bin/gcc';

let cached: string | undefined;

/** Path of the compiled vring_ref binary (compiled once per process). */
export function buildVringRef(): string {
  if (cached !== undefined) return cached;
  const dir = scratchDir('tz-virtio-vring-ref-');
  const bin = join(dir, 'vring_ref');
  execFileSync(GCC, ['-std=c11', '-O1', '-Wall', '-Wextra', '-Werror', '-D_ISOC11_SOURCE', '-o', bin, VRING_REF_SOURCE], { stdio: 'pipe' });
  cached = bin;
  return bin;
}

/** Runs the binary with arguments and parses its JSON output. */
export function runVringRef<T = unknown>(...args: string[]): T {
  return JSON.parse(execFileSync(buildVringRef(), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as T;
}
