/**
 * `tz-virtio inspect` run as a subprocess (node bin/tz-virtio.mjs, from the compiled dist/), on images written by C
 * programs compiled against <linux/virtio_ring.h>: success in JSON and text, and each error case as one line on
 * stderr with a non-zero exit and no stack trace.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVringRef } from '../conformance/build-c.js';
import { writePackedRefImage, type PackedRefFacts } from '../virtio/inspect/build-packed-ref.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/tz-virtio.mjs');
const COMPILED = join(ROOT, 'dist/src/cli/commands/inspect.js');
const dir = mkdtempSync(join(tmpdir(), 'tz-virtio-cli-inspect-'));

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'inspect', ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One line, prefixed, no stack trace. */
function expectOneLineError(r: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^tz-virtio: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

interface VringRefImage {
  base: string;
  num: number;
  align: number;
  desc: string;
  avail: string;
  used: string;
  chains: { head: number; segments: { addr: string; len: number; write: boolean }[] }[];
  availIdx: number;
  usedIdx: number;
}

let split: VringRefImage;
let packed: PackedRefFacts;
const splitFile = join(dir, 'split.bin');
const packedFile = join(dir, 'packed.bin');

beforeAll(() => {
  // The CLI runs from dist/: build when the compiled command is missing or older than its source.
  const src = join(ROOT, 'src/cli/commands/inspect.ts');
  if (!existsSync(COMPILED) || statSync(COMPILED).mtimeMs < statSync(src).mtimeMs) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
    } catch {
      // tsc exits non-zero on type errors elsewhere in the tree but still emits dist/
    }
  }
  split = runVringRef<VringRefImage>('image', splitFile);
  packed = writePackedRefImage(packedFile);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function splitArgs(file = splitFile): string[] {
  return [file, '--layout', 'split', '--queue-size', String(split.num), '--desc', split.desc, '--avail', split.avail, '--used', split.used, '--base', split.base];
}
function packedArgs(file = packedFile): string[] {
  return [file, '--layout', 'packed', '--queue-size', String(packed.num), '--desc', packed.desc, '--driver-event', packed.driverEvent, '--device-event', packed.deviceEvent, '--base', packed.base];
}

describe('tz-virtio inspect (subprocess)', () => {
  it('prints the split JSON contract for a C-written ring', () => {
    const r = run(...splitArgs(), '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.layout).toBe('split');
    expect(j.queueSize).toBe(split.num);
    expect(j.desc).toHaveLength(split.num);
    for (const d of j.desc) {
      expect(Object.keys(d).sort()).toEqual(['addr', 'flags', 'len', 'next']);
      expect(d.addr).toMatch(/^0x[0-9a-f]+$/);
      expect(typeof d.len).toBe('number');
    }
    expect(Object.keys(j.avail).sort()).toEqual(['flags', 'idx', 'ring', 'usedEvent']);
    expect(j.avail.idx).toBe(split.availIdx);
    expect(j.avail.ring).toHaveLength(split.num);
    expect(Object.keys(j.used).sort()).toEqual(['availEvent', 'flags', 'idx', 'ring']);
    expect(j.used.idx).toBe(split.usedIdx);
    expect(j.used.ring).toHaveLength(split.num);
    expect(Object.keys(j.used.ring[0]).sort()).toEqual(['id', 'len']);
    expect(j.outstanding.map((c: { head: number; segments: unknown }) => ({ head: c.head, segments: c.segments }))).toEqual(
      split.chains.map((c) => ({ head: c.head, segments: c.segments })),
    );
    expect(j.errors).toEqual([]);
  });

  it('accepts the legacy layout (--align) and decimal addresses, and prints text by default', () => {
    const r = run(splitFile, '--layout', 'split', '--queue-size', String(split.num), '--desc', String(Number(split.desc)), '--align', String(split.align), '--base', String(Number(split.base)));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^split virtqueue, size 16/);
    expect(r.stdout).toContain(`outstanding (used.idx ${split.usedIdx} .. avail.idx ${split.availIdx}): ${split.chains.length}`);
  });

  it('prints the packed JSON contract with the decoded view', () => {
    const r = run(...packedArgs(), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.layout).toBe('packed');
    expect(j.queueSize).toBe(packed.num);
    expect(j.desc).toHaveLength(packed.num);
    for (const d of j.desc) expect(Object.keys(d).sort()).toEqual(['addr', 'flags', 'id', 'len']);
    expect(j.desc.map((d: { flags: number }) => d.flags)).toEqual(packed.descFlags);
    expect(j.driverEvent).toMatchObject({ offWrap: packed.driverOffWrap, flags: packed.driverFlags });
    expect(j.deviceEvent).toMatchObject({ flags: packed.deviceFlags });
    expect(j.decoded.chains.map((c: { index: number; id: number }) => [c.index, c.id])).toEqual([
      [2, 2],
      [4, 3],
      [5, 4],
    ]);
    expect(j.errors).toEqual([]);
    const t = run(...packedArgs());
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('available chains: 3');
  });

  it('a truncated image: one-line error', () => {
    const cut = join(dir, 'cut.bin');
    writeFileSync(cut, readFileSync(splitFile).subarray(0, 0x1000)); // the used ring (at +0x1000) is cut off
    expectOneLineError(run(...splitArgs(cut)), /IMAGE_TRUNCATED.*used ring/);
  });

  it('an address outside the image: one-line error', () => {
    const args = packedArgs();
    args[args.indexOf('--device-event') + 1] = '0x90000000';
    expectOneLineError(run(...args), /IMAGE_TRUNCATED.*device event area/);
    expectOneLineError(run(...splitArgs(), '--base', '0x50000000'), /IMAGE_TRUNCATED/);
  });

  it('bad arguments: one-line errors', () => {
    expectOneLineError(run(...splitArgs().map((a) => (a === String(split.num) ? 'sixteen' : a))), /--queue-size: 'sixteen' is not a number/);
    expectOneLineError(run(...splitArgs().map((a) => (a === String(split.num) ? '12' : a))), /BAD_QUEUE_SIZE/);
    expectOneLineError(run(splitFile, '--layout', 'ring', '--queue-size', '16', '--desc', '0'), /--layout must be split or packed/);
    expectOneLineError(run(splitFile, '--layout', 'split', '--queue-size', '16', '--desc', '0'), /needs --avail ADDR and --used ADDR/);
    expectOneLineError(run(splitFile, '--queue-size', '16'), /needs --layout/);
    expectOneLineError(run(...splitArgs(), '--align', '4096'), /either --avail and --used, or --align/);
    expectOneLineError(run(...splitArgs(), '--driver-event', '0'), /--driver-event does not apply to a split ring/);
    expectOneLineError(run(...splitArgs(), '--base', '0x40000004'), /8-aligned/);
    expectOneLineError(run(join(dir, 'missing.bin'), '--layout', 'split', '--queue-size', '16', '--desc', '0', '--align', '4096'), /cannot read image .*ENOENT/);
    expectOneLineError(run(...splitArgs(), '--rsc-table', '0x0'), /--rsc-table needs --rpmsg/);
    expectOneLineError(run(splitFile, '--rpmsg'), /--rpmsg needs --rsc-table/);
  });

  it('--rpmsg hands over to the RPMsg layer, or says it is not built', () => {
    const r = run(splitFile, '--rpmsg', '--rsc-table', '0x40000000', '--base', '0x40000000');
    if (!existsSync(join(ROOT, 'dist/src/rpmsg/inspect.js'))) {
      expectOneLineError(r, /inspect --rpmsg: RPMsg support not built/);
    } else {
      // the RPMsg layer decides what a vring image without a resource table means; it must still not crash
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
