import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { futexWait, futexWake, mapSharedFile, HostError } from '../../src/host/index.js';
import { DIST_HOST, tempDir } from './helpers.js';

describe('futex on a mapped word', () => {
  it('returns not-equal at once when the word already differs, and times out otherwise', () => {
    const i32 = new Int32Array(mapSharedFile(join(tempDir('tz-fx-'), 'f'), { size: 64 }));
    Atomics.store(i32, 3, 7);
    expect(futexWait(i32, 3, 6, 1000)).toBe('not-equal');
    expect(futexWait(i32, 3, 7, 1)).toBe('timed-out');
    expect(futexWake(i32, 3)).toBe(0); // nobody waits
  });

  it('wakes a waiter in another OS process (not possible with Atomics.notify)', async () => {
    const path = join(tempDir('tz-fx-'), 'x');
    const i32 = new Int32Array(mapSharedFile(path, { size: 64 }));
    // The child announces it is about to sleep (word 1 = 1), then sleeps on word 0 while it is 0.
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      const { mapSharedFile, futexWait } = await import(${JSON.stringify(DIST_HOST)});
      const a = new Int32Array(mapSharedFile(${JSON.stringify(path)}, { create: false }));
      Atomics.store(a, 1, 1);
      let r;
      while (Atomics.load(a, 0) === 0) r = futexWait(a, 0, 0, 20000);
      process.stdout.write(String(Atomics.load(a, 0)));
    `], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number | null>((res) => child.on('close', res));
    while (Atomics.load(i32, 1) === 0) await new Promise((r) => setTimeout(r, 5));
    // Phase 1: wake without changing the word until the kernel reports a woken waiter: proof that the wake crossed
    // the process boundary (the child re-checks, sees 0 and sleeps again).
    let woken = 0;
    for (let i = 0; i < 2000 && woken === 0; i++) {
      woken = futexWake(i32, 0);
      if (woken === 0) await new Promise((r) => setTimeout(r, 2));
    }
    expect(woken).toBe(1);
    // Phase 2: publish the value, then wake; the child's re-check (expected 0, actual 42) cannot miss it.
    Atomics.store(i32, 0, 42);
    futexWake(i32, 0);
    expect(await done).toBe(0);
    expect(out).toBe('42');
  });

  it('rejects words outside a SharedArrayBuffer view', () => {
    const i32 = new Int32Array(mapSharedFile(join(tempDir('tz-fx-'), 'b'), { size: 16 }));
    expect(() => futexWait(i32, 4, 0, 1)).toThrow(HostError);
    expect(() => futexWake(new Int32Array(4), 0)).toThrow(/SharedArrayBuffer/);
  });
});
