/**
 * The addon's vhost-user calls from a worker thread that exits (the fuzz CLI runs its targets in workers): a mapping
 * made by mapFd and a watcher left open must not crash the process when the worker's isolate is torn down (Node
 * unloads a worker's addons before its heap; the library pins itself, and watchers close in a clean-up hook).
 * Run in a child process, where a crash shows as a signal instead of killing the test runner.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { vhostNativeAvailable } from '../../src/host/native-vhost.js';

const skip = vhostNativeAvailable() ? undefined : 'the native addon (ABI 3) is not built';
if (skip !== undefined) console.log(`skipping native worker test: ${skip}`);
const nativeVhost = new URL('../../src/host/native-vhost.ts', import.meta.url).pathname;

describe.skipIf(skip !== undefined)('native vhost-user calls in a worker that exits', () => {
  it('a live mapping and an open watcher survive the worker teardown', { timeout: 60_000 }, () => {
    const worker = `
      import { loadVhostNative } from ${JSON.stringify(nativeVhost.replace('/src/', '/dist/src/').replace(/\.ts$/, '.js'))};
      import { openSync, unlinkSync, ftruncateSync, closeSync } from 'node:fs';
      const n = loadVhostNative();
      const p = '/dev/shm/tz-vu-worker-' + process.pid;
      const fd = openSync(p, 'w+'); unlinkSync(p); ftruncateSync(fd, 65536);
      globalThis.keep = [n.mapFd(fd, 0, 65536), n.mapFd(fd, 0, 4096)];
      n.releaseMapping(globalThis.keep[1]);
      closeSync(fd);
      const [a, b] = n.socketPair();
      n.watchFd(a, () => {});
      globalThis.fds = [a, b];
      setTimeout(() => process.exit(0), 20); // the open watcher keeps the worker's loop alive: end it as a fuzz worker ends
    `;
    const main = `
      import { Worker } from 'node:worker_threads';
      let left = 3;
      for (let i = 0; i < 3; i++) {
        new Worker(${JSON.stringify(worker)}, { eval: true }).on('exit', (c) => { if (c !== 0) process.exit(10 + c); if (--left === 0) console.log('all workers exited'); });
      }
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', main], { encoding: 'utf8', timeout: 50_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('all workers exited');
  });
});
