import { describe, expect, it } from 'vitest';
import { closeSync, existsSync, fstatSync, readdirSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUnlinkedShmFile, mapSharedFile, unlinkSharedFile, HostError, HostErrorCode, isHostError } from '../../src/host/index.js';
import { DIST_HOST, runNodeModule, tempDir } from './helpers.js';

describe('mapSharedFile', () => {
  it('creates and grows a file and returns a SharedArrayBuffer backed by it', () => {
    const path = join(tempDir('tz-shm-'), 'a.shm');
    const sab = mapSharedFile(path, { size: 0x2000 });
    expect(sab).toBeInstanceOf(SharedArrayBuffer);
    expect(sab.byteLength).toBe(0x2000);
    expect(statSync(path).size).toBe(0x2000);
    const u32 = new Uint32Array(sab);
    expect(u32[5]).toBe(0); // fresh bytes read as zero
    Atomics.store(u32, 5, 0xcafef00d);
    // a second, independent mapping of the same file sees the store
    const again = new Uint32Array(mapSharedFile(path, { create: false }));
    expect(again.length).toBe(0x800);
    expect(Atomics.load(again, 5)).toBe(0xcafef00d);
    unlinkSharedFile(path);
    expect(existsSync(path)).toBe(false);
    unlinkSharedFile(path); // missing is fine
  });

  it('shares bytes with another OS process', async () => {
    const path = join(tempDir('tz-shm-'), 'x.shm');
    const sab = mapSharedFile(path, { size: 4096 });
    const u8 = new Uint8Array(sab);
    u8.set([1, 2, 3], 100);
    const r = await runNodeModule(`
      const { mapSharedFile } = await import(${JSON.stringify(DIST_HOST)});
      const u8 = new Uint8Array(mapSharedFile(${JSON.stringify(path)}, { create: false }));
      process.stdout.write(JSON.stringify([...u8.subarray(100, 103)]));
      u8.set([9, 8, 7], 200);
    `);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([1, 2, 3]);
    expect([...u8.subarray(200, 203)]).toEqual([9, 8, 7]);
  });

  it('works with Atomics across worker_threads (it is a real SharedArrayBuffer)', async () => {
    const { Worker } = await import('node:worker_threads');
    const sab = mapSharedFile(join(tempDir('tz-shm-'), 'w.shm'), { size: 64 });
    const i32 = new Int32Array(sab);
    const w = new Worker(`const { workerData } = require('node:worker_threads'); const a = new Int32Array(workerData); Atomics.add(a, 1, 41); Atomics.store(a, 0, 1); Atomics.notify(a, 0);`, { eval: true, workerData: sab });
    expect(Atomics.wait(i32, 0, 0, 10_000)).not.toBe('timed-out');
    expect(Atomics.load(i32, 1)).toBe(41);
    await w.terminate();
  });

  it('maps an existing file at its own size, and refuses a missing one without create', () => {
    const dir = tempDir('tz-shm-');
    const path = join(dir, 'pre.bin');
    writeFileSync(path, Buffer.from([0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0]));
    const sab = mapSharedFile(path);
    expect([...new Uint8Array(sab)].slice(0, 4)).toEqual([0xaa, 0xbb, 0xcc, 0xdd]);
    try {
      mapSharedFile(join(dir, 'missing'), { create: false, size: 16 });
      expect.unreachable();
    } catch (e) {
      expect(isHostError(e, HostErrorCode.MAP_FAILED)).toBe(true);
      expect((e as HostError).details['cause']).toBe('ENOENT');
      expect((e as Error).message).toMatch(/No such file or directory/);
    }
  });

  it('rejects bad arguments and refuses to grow when told not to', () => {
    const dir = tempDir('tz-shm-');
    expect(() => mapSharedFile('', { size: 8 })).toThrow(HostError);
    expect(() => mapSharedFile(join(dir, 'n'), { size: -1 })).toThrow(/bad map size/);
    expect(() => mapSharedFile(join(dir, 'n'), { size: 1.5 })).toThrow(/bad map size/);
    mapSharedFile(join(dir, 'small'), { size: 16 });
    expect(() => mapSharedFile(join(dir, 'small'), { size: 4096, grow: false })).toThrow(/smaller than the requested size/);
    expect(() => mapSharedFile(join(dir, 'small'), { size: 16, exclusive: true })).toThrow(/File exists/);
    expect(() => mapSharedFile(dir, { size: 16 })).toThrow(HostError); // a directory
  });
});

describe('createUnlinkedShmFile', () => {
  it('returns an fd of a zero-filled file of the size asked for, with no name left in /dev/shm', () => {
    const tag = `tz-unlinked-test-${process.pid}`;
    const fd = createUnlinkedShmFile(8192, tag);
    try {
      expect(fstatSync(fd).size).toBe(8192);
      expect(fstatSync(fd).nlink).toBe(0);
      expect(readdirSync('/dev/shm').filter((n) => n.startsWith(tag))).toEqual([]);
      const b = Buffer.alloc(16, 0xff);
      expect(readSync(fd, b, 0, 16, 4000)).toBe(16);
      expect([...b]).toEqual(new Array(16).fill(0));
    } finally {
      closeSync(fd);
    }
  });

  it('refuses a size that is not a positive integer with BAD_ARGUMENT', () => {
    for (const size of [0, -1, 1.5, Number.NaN]) {
      expect(() => createUnlinkedShmFile(size, 'tz-unlinked-bad')).toThrow(expect.objectContaining({ code: HostErrorCode.BAD_ARGUMENT }));
    }
  });
});
