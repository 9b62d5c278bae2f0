import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HostErrorCode, NativeKickSocket, isHostError, nativeKicksAvailable, pollKick, sendKick, type HostError } from '../../src/host/index.js';
import { DIST_HOST, runNodeModule, tempDir } from './helpers.js';

function pair(name: string): Promise<[NativeKickSocket, NativeKickSocket]> {
  const path = join(tempDir('tz-nkick-'), name);
  const server = NativeKickSocket.open({ path, role: 'server', timeoutMs: 5000 });
  const client = NativeKickSocket.open({ path, role: 'client', timeoutMs: 5000 });
  return Promise.all([server, client]);
}

function typed(f: () => unknown): HostError {
  try {
    f();
  } catch (e) {
    if (isHostError(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('native kick socket (addon: kickListen/kickAccept/kickConnect, pollKick, sendKick)', () => {
  it('is available in this build', () => {
    expect(nativeKicksAvailable()).toBe(true);
  });

  it('carries kicks both ways; several kicks drain in one pollKick; a timeout returns 0', async () => {
    const [server, client] = await pair('ev');
    expect(existsSync(server.path)).toBe(false); // one peer only: the server stopped listening and removed the file
    expect(server.waitKicks(0)).toBe(0);
    client.kick();
    client.kick();
    client.kick();
    expect(server.waitKicks(5000)).toBe(3);
    expect(server.waitKicks(1)).toBe(0);
    server.kick();
    expect(pollKick(client.fd, 5000)).toBe(1);
    expect(client.kicksSent).toBe(3);
    expect(server.kicksReceived).toBe(3);
    await client.close();
    await server.close();
  });

  it('reports the peer closing: pollKick -1, sendKick -1, close listeners get KICK_PEER_CLOSED', async () => {
    const [server, client] = await pair('bye');
    const fd = client.fd;
    const closed = new Promise<HostError | undefined>((r) => client.onClose(r));
    await server.close();
    expect(pollKick(fd, 5000)).toBe(-1);
    expect(sendKick(fd)).toBe(-1);
    expect(client.waitKicks(5000)).toBe(-1);
    expect(isHostError(await closed, HostErrorCode.KICK_PEER_CLOSED)).toBe(true);
    expect(client.isClosed).toBe(true);
    client.kick(); // dropped, no throw
  });

  it('coalesces under EAGAIN: with the buffer full of unread kicks sendKick returns 0 and never blocks', async () => {
    const [server, client] = await pair('full');
    let sent = 0;
    let coalesced = 0;
    for (let i = 0; i < 1_000_000 && coalesced < 3; i++) {
      const r = sendKick(client.fd);
      if (r === 1) sent++;
      else if (r === 0) coalesced++;
      else throw new Error(`unexpected ${r}`);
    }
    expect(coalesced).toBe(3);
    expect(sent).toBeGreaterThan(0);
    // Everything queued is drained by the receiver's polls; a kick sent after that arrives normally.
    let drained = 0;
    for (let n = server.waitKicks(0); n > 0; n = server.waitKicks(0)) drained += n;
    expect(drained).toBe(sent);
    client.kick();
    expect(server.waitKicks(5000)).toBe(1);
    await client.close();
    await server.close();
  });

  it('wakes a pollKick blocked in this process with a kick sent by another OS process', async () => {
    const path = join(tempDir('tz-nkick-'), 'x');
    const serverP = NativeKickSocket.open({ path, role: 'server', timeoutMs: 10_000 });
    const child = runNodeModule(`
      const { NativeKickSocket } = await import(${JSON.stringify(DIST_HOST)});
      const s = await NativeKickSocket.open({ path: ${JSON.stringify(path)}, role: 'client', timeoutMs: 10000 });
      await new Promise((r) => setTimeout(r, 50));
      s.kick();
      // Wait for the answer, then leave.
      process.stdout.write(String(s.waitKicks(10000)));
      await s.close();
    `);
    const server = await serverP;
    const n = server.waitKicks(10_000); // blocks this thread until the child's kick arrives (0 would be a timeout)
    expect(n).toBe(1);
    server.kick();
    const r = await child;
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1');
    expect(server.waitKicks(10_000)).toBe(-1); // the child closed
  });

  it('turns fd errors into typed errors', async () => {
    const bad = typed(() => pollKick(987_654, 0));
    expect(bad.code).toBe(HostErrorCode.KICK_IO_FAILED);
    expect(bad.details['cause']).toBe('EBADF');
    expect(typed(() => sendKick(987_654)).details['cause']).toBe('EBADF');
    expect(typed(() => pollKick(-1, 0)).code).toBe(HostErrorCode.BAD_ARGUMENT);
    expect(typed(() => sendKick(1.5)).code).toBe(HostErrorCode.BAD_ARGUMENT);
    expect(typed(() => pollKick(0, Number.NaN)).code).toBe(HostErrorCode.BAD_ARGUMENT);
    // A regular file is not a socket.
    const fs = await import('node:fs');
    const fd = fs.openSync(join(tempDir('tz-nkick-'), 'f'), 'w+');
    try {
      expect(typed(() => sendKick(fd)).details['cause']).toBe('ENOTSOCK');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('fails to open with typed errors: no peer, bad path', async () => {
    const path = join(tempDir('tz-nkick-'), 'none');
    await expect(NativeKickSocket.open({ path, role: 'client', timeoutMs: 30 })).rejects.toMatchObject({ code: HostErrorCode.KICK_CONNECT_FAILED, details: { cause: 'ENOENT' } });
    await expect(NativeKickSocket.open({ path, role: 'server', timeoutMs: 30 })).rejects.toMatchObject({ code: HostErrorCode.KICK_CONNECT_FAILED });
    expect(existsSync(path)).toBe(false);
    await expect(NativeKickSocket.open({ path: 'x'.repeat(200), role: 'server' })).rejects.toMatchObject({ code: HostErrorCode.BAD_ARGUMENT });
    await expect(NativeKickSocket.open({ path: join(tempDir('tz-nkick-'), 'no', 'dir'), role: 'server', timeoutMs: 30 })).rejects.toMatchObject({
      code: HostErrorCode.KICK_CONNECT_FAILED,
      details: { cause: 'ENOENT' },
    });
  });

  it('serves onKick listeners from the event loop outside a blocking wait', async () => {
    const [server, client] = await pair('ev2');
    const got = new Promise<number>((r) => server.onKick(r));
    client.kick();
    expect(await got).toBe(1);
    await client.close();
    await server.close();
  });
});
