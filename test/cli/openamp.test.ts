/**
 * `tz-virtio openamp` as a user runs it: options are checked before anything is mapped or connected, and the shared
 * file is gone afterwards on every path (failed connect, signal, completed pair).
 */
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../support/scratch.js';
import { tzv, usageError } from './helpers.js';

function paths(): { shm: string; sock: string } {
  const dir = scratchDir('tz-openamp-cli-');
  return { shm: join(dir, 'x.shm'), sock: join(dir, 'x.sock') };
}

describe('tz-virtio openamp', () => {
  it('host --count abc is refused before connecting, even with a listener on the socket', async () => {
    const p = paths();
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(p.sock, r));
    try {
      const r = await tzv(['openamp', 'host', '--shm', p.shm, '--socket', p.sock, '--count', 'abc'], { timeoutMs: 20_000 });
      usageError(r, 'openamp host', /--count: 'abc' must be a positive integer up to 480/);
      expect(existsSync(p.shm)).toBe(false);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a failed connect leaves no shared file', async () => {
    const p = paths();
    const r = await tzv(['openamp', 'host', '--shm', p.shm, '--socket', p.sock, '--timeout-ms', '300', '-q'], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tz-virtio: openamp host: /);
    expect(existsSync(p.shm)).toBe(false);
  });

  it('SIGTERM while waiting for the peer: says what was interrupted, exits 143, removes the shared file', async () => {
    const p = paths();
    const r = await tzv(['openamp', 'remote', '--shm', p.shm, '--socket', p.sock, '--timeout-ms', '30000', '-q'], {
      timeoutMs: 40_000,
      onStart: (child) => {
        // signal once the file exists (the command mapped it and waits on the socket)
        const t = setInterval(() => {
          if (existsSync(p.shm)) {
            clearInterval(t);
            child.kill('SIGTERM');
          }
        }, 20);
        child.on('close', () => clearInterval(t));
      },
    });
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/interrupted by SIGTERM while waiting for the OpenAMP peer/);
    expect(existsSync(p.shm)).toBe(false);
  });

  it('a completed pair (our remote, our host) leaves no shared file', async () => {
    const p = paths();
    const remote = tzv(['openamp', 'remote', '--shm', p.shm, '--socket', p.sock, '--timeout-ms', '30000', '-q'], { timeoutMs: 60_000 });
    while (!existsSync(p.sock)) await new Promise((r) => setTimeout(r, 20));
    const host = await tzv(['openamp', 'host', '--shm', p.shm, '--socket', p.sock, '--count', '8', '--timeout-ms', '30000', '-q'], { timeoutMs: 60_000 });
    const rem = await remote;
    expect(host.code).toBe(0);
    expect(JSON.parse(host.stdout)).toEqual({ sent: 8, received: 8, errors: 0 });
    expect(rem.code).toBe(0);
    expect(existsSync(p.shm)).toBe(false);
  });
});
