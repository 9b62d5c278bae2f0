/**
 * The cross-process hostile writer: a real second OS process maps the shared file and rewrites the RPMsg region while
 * the remote attaches, resets and runs. No untyped exception (nor any exception) escapes remote.poll(), the service
 * comes back once the writer stops, and every run removes its file and its process. The oracle is shown to fire.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runFuzz } from '../../src/fuzz/run.js';
import { RpmsgRemote } from '../../src/rpmsg/index.js';
import { nativeAvailable } from '../../src/host/native.js';

const PREFIX = `tz-virtio-hostile-${process.pid}-`;

const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length > 0) restore.pop()!();
});

/** Writer processes of this test process still alive (their command line names our shared files). */
function writersAlive(): number {
  let n = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(PREFIX)) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

async function settleWriters(): Promise<number> {
  for (let i = 0; i < 100 && writersAlive() > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return writersAlive();
}

function leftoverFiles(): string[] {
  const dir = existsSync('/dev/shm') ? '/dev/shm' : undefined;
  return dir === undefined ? [] : readdirSync(dir).filter((f) => f.startsWith(PREFIX));
}

describe.skipIf(!nativeAvailable())('hostile non-secure process (cross-process writer)', () => {
  it('rewrites during attach, reset and steady state let nothing escape poll(); the service recovers; no leftovers', async () => {
    const r = runFuzz({ seed: 0x12a9, iterations: 2, targets: ['hostile-process'], steps: 120 });
    expect(r.findings).toEqual([]);
    expect(r.iterations).toBe(2);
    // The writer did write, the remote did detach for host resets, and the writes broke rules it had to refuse.
    expect(r.mutations['hostile-process-writes'] ?? 0).toBeGreaterThan(0);
    expect(r.resets).toBeGreaterThan(0);
    expect(r.states).toBeGreaterThan(1000);
    expect(leftoverFiles()).toEqual([]);
    expect(await settleWriters()).toBe(0);
  }, 180_000);

  it('`tz-virtio fuzz --target hostile-process` runs it in worker threads under the watchdog, clean, and exits by itself', () => {
    // A fresh process: mappings made in a worker are unmapped by the native addon after the worker is gone, and the
    // process must survive that (the CLI exits 0 with a clean JSON report, not a signal).
    const cli = fileURLToPath(new URL('../../bin/tz-virtio.mjs', import.meta.url));
    const res = spawnSync(process.execPath, [cli, 'fuzz', '--target', 'hostile-process', '--iterations', '2', '--steps', '40', '--seed', '3', '--json'], { encoding: 'utf8', timeout: 150_000 });
    expect(res.signal, res.stderr).toBeNull();
    expect(res.status, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as { iterations: number; findings: unknown[]; mutations: Record<string, number> };
    expect(r.findings).toEqual([]);
    expect(r.iterations).toBe(2);
    expect(r.mutations['hostile-process-writes'] ?? 0).toBeGreaterThan(0);
  }, 180_000);

  it('an exception escaping poll() is reported as a crash, and the run still cleans up', async () => {
    const orig = RpmsgRemote.prototype.poll;
    let n = 0;
    RpmsgRemote.prototype.poll = function (this: RpmsgRemote) {
      if (++n === 50) throw new TypeError("Cannot read properties of undefined (reading 'usedIdx')");
      return orig.call(this);
    };
    restore.push(() => (RpmsgRemote.prototype.poll = orig));
    const r = runFuzz({ seed: 7, iterations: 1, targets: ['hostile-process'], steps: 40 });
    expect(r.crashes).toBe(1);
    expect(r.findings[0]!.message).toMatch(/remote\.poll threw TypeError/);
    expect(leftoverFiles()).toEqual([]);
    expect(await settleWriters()).toBe(0);
  }, 180_000);
});
