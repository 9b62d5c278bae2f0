/**
 * `tz-virtio vhost-user` as a user runs it: usage errors in one line, and a server stopped by SIGTERM prints its JSON
 * summary, exits 0 and removes its sockets (the live sessions are in uml-cli-hybrid.test.ts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tzv, usageError } from '../cli/helpers.js';

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('tz-virtio vhost-user (command line)', () => {
  for (const [args, re] of [
    [['--device', 'net', '--socket', '/tmp/x.sock'], /--device: 'net' must be one of vsock, console/],
    [['--device', 'vsock', '--socket', '/tmp/x.sock', '--guest-cid', '2'], /--guest-cid/],
    [['--device', 'console', '--socket', '/tmp/x.sock', '--uds-path', '/tmp/h'], /--uds-path applies to --device vsock only/],
    [['--device', 'vsock', '--socket', '/tmp/x.sock', '--ring', 'ring'], /--ring: 'ring' must be one of split, packed/],
  ] as const) {
    it(`refuses ${args.join(' ')} with one line`, { timeout: 60_000 }, async () => {
      usageError(await tzv(['vhost-user', ...args]), 'vhost-user', re);
    });
  }

  it('SIGTERM ends the server with its summary, exit 0, sockets removed', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'tz-vu-cli-'));
    const sock = join(dir, 'v.sock');
    const uds = join(dir, 'hv');
    const r = await tzv(['vhost-user', '--device', 'vsock', '--socket', sock, '--uds-path', uds, '--json'], {
      onStart: (child) => {
        const t = setInterval(() => {
          if (existsSync(sock) && existsSync(uds)) {
            clearInterval(t);
            child.kill('SIGTERM');
          }
        }, 50);
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    expect(s).toMatchObject({ device: 'vsock', socket: sock, connections: 0, errors: 0, hybrid: { hostConnections: 0 } });
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(uds)).toBe(false);
  });
});
