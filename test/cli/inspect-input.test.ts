/** `tz-virtio inspect` with hostile input: non-regular files, a closed pipe, garbage and truncated images. */
import { describe, expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../support/scratch.js';
import { BIN, tzv, usageError } from './helpers.js';

describe('tz-virtio inspect: input', () => {
  it('refuses a FIFO (which would block forever) and /dev/zero (which never ends) as images', async () => {
    const fifo = join(scratchDir('tzv-inspect-'), 'fifo');
    execFileSync('mkfifo', [fifo]);
    usageError(await tzv(['inspect', fifo, '--layout', 'split', '--queue-size', '8', '--desc', '0', '--align', '4'], { timeoutMs: 20_000 }), 'inspect', /is a FIFO; give a regular file/);
    usageError(await tzv(['inspect', '/dev/zero', '--rpmsg', '--rsc-table', '0'], { timeoutMs: 20_000 }), 'inspect', /is a character device/);
  });

  it('a reader that closes the pipe early (| head -1) ends it quietly: no stack trace', async () => {
    const file = join(scratchDir('tzv-inspect-'), 'garbage.bin');
    writeFileSync(file, randomBytes(1 << 20));
    const r = await new Promise<{ stderr: string }>((resolve) => {
      // the node process writes a large JSON report into a pipe whose reader goes away after the first chunk
      const child = spawn(process.execPath, [BIN, 'inspect', file, '--layout', 'split', '--queue-size', '32768', '--desc', '0', '--align', '4096', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', () => resolve({ stderr }));
    });
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
  });

  it('a garbage ring names an address beyond 2^53 as such, never "invalid+N", and each code once', async () => {
    const file = join(scratchDir('tzv-inspect-'), 'garbage.bin');
    // descriptors whose address high halves are all ones: every buffer lies above 2^53
    const img = Buffer.alloc(1 << 20);
    for (let i = 0; i < 256; i++) img.writeUInt32LE(0xffff_ffff, i * 16 + 4);
    for (let i = 0; i < 256; i++) img.writeUInt16LE(i, 4096 + 4 + 2 * i);
    img.writeUInt16LE(256, 4096 + 2); // avail.idx
    writeFileSync(file, img);
    const r = await tzv(['inspect', file, '--layout', 'split', '--queue-size', '256', '--desc', '0', '--align', '4096']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/invalid/);
    expect(r.stdout).toMatch(/at an address above 2\^53/);
    expect(r.stdout).not.toMatch(/(VIRTIO_ERR_[A-Z_]+) \(\1/);
  });

  it('--rpmsg on a truncated dump exits 1 with each error code once', async () => {
    const dir = scratchDir('tzv-inspect-');
    const dump = join(dir, 'shm.bin');
    const run = await tzv(['run', '--scenario', 'echo', '--messages', '5', '--dump-shm', dump, '--json'], { timeoutMs: 120_000 });
    expect(run.code).toBe(0);
    const layout = JSON.parse(execFileSync('cat', [`${dump}.json`], { encoding: 'utf8' })) as { base: number; rscTable: number };
    const cut = join(dir, 'cut.bin');
    writeFileSync(cut, execFileSync('head', ['-c', '4096', dump]));
    const r = await tzv(['inspect', cut, '--rpmsg', '--rsc-table', String(layout.rscTable), '--base', String(layout.base)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/errors:/);
    expect(r.stdout).not.toMatch(/([A-Z]+_ERR_[A-Z_]+): \1/);
  });
});
