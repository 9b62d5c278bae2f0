/**
 * Our OpenAMP host and remote against an independent C peer (fixtures/peer.c, written from the struct definitions),
 * each side in its own OS process, over a shared file and a UNIX kick socket laid out as OpenAMP's Linux machine.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenAmpSession } from '../../src/openamp/session.js';
import { runPingHost } from '../../src/openamp/ping.js';
import { runEchoRemote } from '../../src/openamp/echo.js';
import { encodeOpenampResourceTable, OPENAMP_SHM_SIZE } from '../../src/openamp/layout.js';
import { buildPeer, startPeer } from './helpers.js';

let peer: { bin: string; dir: string };
beforeAll(() => {
  peer = buildPeer();
});

function paths(name: string): { shm: string; sock: string } {
  return { shm: join(peer.dir, `${name}.shm`), sock: join(peer.dir, `${name}.sock`) };
}

describe('OpenAMP Linux-machine layout against the independent C peer', () => {
  it('the C peer talks to itself (fixture sanity: host ping 480 payloads, remote exits on NS destroy)', async () => {
    const p = paths('cc');
    const remote = startPeer(peer.bin, ['remote', '--shm', p.shm, '--sock', p.sock]);
    const host = startPeer(peer.bin, ['host', '--shm', p.shm, '--sock', p.sock]);
    const [h, r] = await Promise.all([host.done, remote.done]);
    expect(h.code).toBe(0);
    expect(JSON.parse(h.stdout)).toEqual({ received: 480, errors: 0 });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/remote done \(channel destroyed\)/);
  });

  it('writes the same resource table bytes as the C peer (88 bytes at offset 0, file of 0x80000)', async () => {
    const p = paths('table');
    const remote = startPeer(peer.bin, ['remote', '--shm', p.shm, '--sock', p.sock], 3000);
    // the C remote is the socket server: it writes the table, then waits for us; stop it once the file is there
    let bytes: Buffer | undefined;
    for (let i = 0; i < 200 && (bytes === undefined || bytes.length < OPENAMP_SHM_SIZE); i++) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        bytes = readFileSync(p.shm);
      } catch {
        bytes = undefined;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    bytes = readFileSync(p.shm);
    remote.child.kill();
    await remote.done;
    expect(bytes.length).toBe(OPENAMP_SHM_SIZE);
    expect(Buffer.from(bytes.subarray(0, 88)).toString('hex')).toBe(Buffer.from(encodeOpenampResourceTable()).toString('hex'));
  });

});

describe.each(['native', 'event-loop'] as const)('our side against the independent C peer, %s kicks', (kicks) => {
  it('our host (tz-virtio openamp host) pings the C echo remote: 480 checked echoes, then NS destroy ends the remote', async () => {
    const p = paths('ts-host');
    const remote = startPeer(peer.bin, ['remote', '--shm', p.shm, '--sock', p.sock]);
    const s = await OpenAmpSession.open({ role: 'host', shmPath: p.shm, socketPath: p.sock, timeoutMs: 10_000, kicks });
    const res = await runPingHost(s, { timeoutMs: 10_000 });
    expect(res).toEqual({ sent: 480, received: 480, errors: 0 });
    const r = await remote.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/ns create rpmsg-openamp-demo-channel addr 0x400/); // our announcement reached it
    expect(r.stderr).toMatch(/remote done \(channel destroyed\)/);
  });

  it('our remote (tz-virtio openamp remote) echoes for the C ping host; our remote is the socket client here', async () => {
    const p = paths('ts-remote');
    // C host as socket server (writes the table), our remote connects: either side may serve.
    const host = startPeer(peer.bin, ['host', '--shm', p.shm, '--sock', p.sock, '--server']);
    const s = await OpenAmpSession.open({ role: 'remote', shmPath: p.shm, socketPath: p.sock, socketRole: 'client', timeoutMs: 10_000, kicks });
    expect(s.kickPath).toBe(kicks);
    const res = await runEchoRemote(s);
    const h = await host.done;
    expect(h.code).toBe(0);
    expect(JSON.parse(h.stdout)).toEqual({ received: 480, errors: 0 });
    expect(res).toEqual({ echoed: 480, reason: 'destroyed' });
  });

  it('a generic service name works, and a short ping still ends our remote by name-service destroy', async () => {
    const p = paths('svc');
    const remote = startPeer(peer.bin, ['remote', '--shm', p.shm, '--sock', p.sock, '--service', 'my-proto']);
    const s = await OpenAmpSession.open({ role: 'host', shmPath: p.shm, socketPath: p.sock, timeoutMs: 10_000, kicks });
    const res = await runPingHost(s, { service: 'my-proto', count: 20, timeoutMs: 10_000 });
    expect(res).toEqual({ sent: 20, received: 20, errors: 0 });
    expect((await remote.done).code).toBe(0);

    const p2 = paths('shutdown');
    const host = startPeer(peer.bin, ['host', '--shm', p2.shm, '--sock', p2.sock, '--server', '--count', '3']);
    const s2 = await OpenAmpSession.open({ role: 'remote', shmPath: p2.shm, socketPath: p2.sock, socketRole: 'client', timeoutMs: 10_000, kicks });
    const echo = runEchoRemote(s2);
    expect((await host.done).code).toBe(0);
    expect((await echo).reason).toBe('destroyed');
  });
});

describe('our remote whose endpoint is created after it attached (e.g. after a warm-up)', () => {
  it('announces its endpoint although it had already read the C host\'s own announcement of the same name', async () => {
    const p = paths('late-ep');
    const host = startPeer(peer.bin, ['host', '--shm', p.shm, '--sock', p.sock, '--server', '--count', '20']);
    const s = await OpenAmpSession.open({ role: 'remote', shmPath: p.shm, socketPath: p.sock, socketRole: 'client', timeoutMs: 10_000, kicks: 'native' });
    // the session attaches on the status timer and reads the host's NS CREATE before the endpoint exists
    for (let i = 0; i < 500 && !s.rpmsg.ready; i++) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 50));
    expect(s.rpmsg.ready).toBe(true);
    const res = await runEchoRemote(s, { warmup: 0 });
    const h = await host.done;
    expect(h.code).toBe(0);
    expect(JSON.parse(h.stdout)).toEqual({ received: 20, errors: 0 });
    expect(res).toEqual({ echoed: 20, reason: 'destroyed' });
  });
});

describe.each(['block', 'poll'] as const)('our remote with wait policy %s (native kicks) against the C ping host', (waitPolicy) => {
  it('echoes all 480 messages and ends on the name-service destroy (poll still notices the host leaving)', async () => {
    const p = paths(`ts-remote-${waitPolicy}`);
    const host = startPeer(peer.bin, ['host', '--shm', p.shm, '--sock', p.sock, '--server']);
    const s = await OpenAmpSession.open({ role: 'remote', shmPath: p.shm, socketPath: p.sock, socketRole: 'client', timeoutMs: 10_000, kicks: 'native', waitPolicy });
    expect(s.waitPolicy).toBe(waitPolicy);
    const res = await runEchoRemote(s);
    const h = await host.done;
    expect(h.code).toBe(0);
    expect(JSON.parse(h.stdout)).toEqual({ received: 480, errors: 0 });
    expect(res).toEqual({ echoed: 480, reason: 'destroyed' });
  });
});

describe('OpenAMP session options', () => {
  it('rejects an unknown wait policy with a typed error', async () => {
    const p = paths('bad-policy');
    await expect(OpenAmpSession.open({ role: 'remote', shmPath: p.shm, socketPath: p.sock, timeoutMs: 1000, waitPolicy: 'spin' as never })).rejects.toMatchObject({ code: expect.stringMatching(/BAD_ARGUMENT/) });
  });
});
