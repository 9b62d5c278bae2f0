import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KickSocket, HostErrorCode, isHostError } from '../../src/host/index.js';
import { tempDir } from './helpers.js';

function nextKicks(s: KickSocket, want: number): Promise<number> {
  return new Promise((resolve) => {
    let got = 0;
    s.onKick((n) => {
      got += n;
      if (got >= want) resolve(got);
    });
  });
}

describe('KickSocket', () => {
  it('carries one byte per kick both ways; the client may start before the server', async () => {
    const path = join(tempDir('tz-kick-'), 'ev');
    const clientP = KickSocket.open({ path, role: 'client', timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 20));
    const server = await KickSocket.open({ path, role: 'server', timeoutMs: 5000 });
    const client = await clientP;
    const atServer = nextKicks(server, 3);
    client.kick();
    client.kick();
    client.kick();
    expect(await atServer).toBe(3);
    const atClient = nextKicks(client, 1);
    server.kick();
    expect(await atClient).toBe(1);
    expect(client.kicksSent).toBe(3);
    expect(server.kicksReceived).toBe(3);
    const closed = new Promise<unknown>((r) => server.onClose(r));
    await client.close();
    const err = await closed;
    expect(isHostError(err, HostErrorCode.KICK_PEER_CLOSED)).toBe(true);
    expect(existsSync(path)).toBe(false); // the server removes its socket file
    server.kick(); // dropped, no throw
  });

  it('fails with a typed error when no peer shows up', async () => {
    const path = join(tempDir('tz-kick-'), 'none');
    await expect(KickSocket.open({ path, role: 'client', timeoutMs: 50 })).rejects.toMatchObject({ code: HostErrorCode.KICK_CONNECT_FAILED });
    await expect(KickSocket.open({ path, role: 'server', timeoutMs: 50 })).rejects.toMatchObject({ code: HostErrorCode.KICK_CONNECT_FAILED });
    await expect(KickSocket.open({ path: 'x'.repeat(200), role: 'server' })).rejects.toMatchObject({ code: HostErrorCode.BAD_ARGUMENT });
  });
});
