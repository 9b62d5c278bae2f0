/**
 * The futex doorbell between two tz-virtio sides of an OpenAMP pairing: linking by fresh nonces (never to stale file
 * content or a C peer), notifications through the peer's doorbell or the socket, and real two-process pairs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUTEX_LINK_OFFSET, FutexLink } from '../../src/openamp/futex-link.js';
import { OpenAmpSession } from '../../src/openamp/session.js';
import { runPingHost } from '../../src/openamp/ping.js';
import { runEchoRemote } from '../../src/openamp/echo.js';
import { OPENAMP_SHM_SIZE } from '../../src/openamp/layout.js';
import { buildPeer, startPeer } from './helpers.js';

const file = (): SharedArrayBuffer => new SharedArrayBuffer(OPENAMP_SHM_SIZE);
const CLI = fileURLToPath(new URL('../../bin/tz-virtio.mjs', import.meta.url));

describe('FutexLink (one file, both slots in this thread)', () => {
  it('links only once both sides announced and each echoed the other one nonce', () => {
    const sab = file();
    FutexLink.reset(sab);
    const server = new FutexLink(sab, 0);
    const client = new FutexLink(sab, 1);
    server.announce();
    expect(server.tryLink()).toBe(false); // the client is not there yet
    client.announce();
    expect(client.tryLink()).toBe(false); // client echoed the server nonce; the server has not echoed the client's yet
    expect(server.tryLink()).toBe(true); // server echoes the client's nonce and sees its own echoed
    expect(client.tryLink()).toBe(true);
  });

  it('never links to stale content of an earlier session (the peer slot echoes an old nonce)', () => {
    const sab = file();
    const old = new FutexLink(sab, 0);
    const oldClient = new FutexLink(sab, 1);
    old.announce();
    oldClient.announce();
    oldClient.tryLink();
    old.tryLink();
    // a C server reuses the file without clearing the block; a new client of ours connects
    const client = new FutexLink(sab, 1);
    client.announce();
    for (let i = 0; i < 3; i++) expect(client.tryLink()).toBe(false);
    expect(client.enterFutexMode()).toBe(false);
    let kicks = 0;
    client.notify(() => void kicks++);
    expect(kicks).toBe(1); // the socket, as a C peer needs
  });

  it('with a C peer (nothing in its slot) every notification is a socket kick and sleeps stay on the socket', () => {
    const sab = file();
    FutexLink.reset(sab);
    const ours = new FutexLink(sab, 1);
    ours.announce();
    let kicks = 0;
    for (let i = 0; i < 5; i++) ours.notify(() => void kicks++);
    expect(kicks).toBe(5);
    expect(ours.socketKicks).toBe(5);
    expect(ours.enterFutexMode()).toBe(false);
    expect(new Int32Array(sab, FUTEX_LINK_OFFSET, 4)[0]).toBe(0); // nothing written into the C side's slot
  });

  it('a linked peer that sleeps on its doorbell is rung (no kick), and only woken while it sleeps', () => {
    const sab = file();
    FutexLink.reset(sab);
    const a = new FutexLink(sab, 0);
    const b = new FutexLink(sab, 1);
    a.announce();
    b.announce();
    b.tryLink();
    a.tryLink();
    expect(b.enterFutexMode()).toBe(true);
    const seq0 = b.bell.seq();
    let kicks = 0;
    a.notify(() => void kicks++);
    expect(kicks).toBe(0);
    expect(b.bell.seq()).toBe(seq0 + 1);
    expect(a.ringsSkipped).toBe(1); // b was awake: no futex wake (no syscall)
    expect(a.futexWakes).toBe(0);
    // b sleeps on the socket still? no: a side in MODE 0 gets socket kicks
    b.notify(() => void kicks++);
    expect(kicks).toBe(1); // a never entered futex mode, so it sleeps on the socket
  });
});

describe('OpenAMP sessions over the futex link, each side its own OS process', () => {
  let dir: string;
  let peer: { bin: string; dir: string };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tz-futex-link-'));
    peer = buildPeer();
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(peer.dir, { recursive: true, force: true });
  });

  async function pair(name: string, remoteArgs: string[], hostFutex: boolean): Promise<{ host: Record<string, unknown>; remote: Record<string, unknown> }> {
    const shm = join(dir, `${name}.shm`);
    const sock = join(dir, `${name}.sock`);
    const remote = startPeer(process.execPath, [CLI, 'openamp', 'remote', '-q', '--stats', '--warmup', '0', '--shm', shm, '--socket', sock, ...remoteArgs], 60_000);
    const s = await OpenAmpSession.open({ role: 'host', shmPath: shm, socketPath: sock, timeoutMs: 20_000, futexLink: hostFutex });
    const res = await runPingHost(s, { timeoutMs: 20_000 });
    expect(res).toEqual({ sent: 480, received: 480, errors: 0 });
    const r = await remote.done;
    expect(r.code).toBe(0);
    return { host: s.waitStats() as unknown as Record<string, unknown>, remote: JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown> };
  }

  it('two tz-virtio sides link and sleep on their futex doorbells: 480 checked echoes, almost no socket kicks', async () => {
    const { host, remote } = await pair('linked', [], true);
    expect(remote['echoed']).toBe(480);
    const rw = remote['wait'] as Record<string, number | boolean>;
    expect(host['onFutex']).toBe(true);
    expect(rw['onFutex']).toBe(true);
    // a remote that finds nothing to do before the host has written its ECHO (the host process starts later)
    // sleeps on the socket until the link exists: at most the first one or two sleeps of the session
    expect(rw['socketSleeps']).toBeLessThanOrEqual(2);
    // kicks before the link was made (status, announcements) go to the socket; everything after through the futex
    expect(Number(host['socketKicksSent']) + Number(rw['socketKicksSent'])).toBeLessThan(10);
    // how many notifications there are at all depends on how often a side found its peer's notifications on (a
    // side that runs keeps them off): some, each through the futex link (a wake or a skipped ring), none a kick
    expect(Number(host['futexWakesSent']) + Number(rw['futexWakesSent']) + Number(host['ringsSkipped']) + Number(rw['ringsSkipped'])).toBeGreaterThan(0);
  }, 60_000);

  it('with --no-futex on one side neither side links: socket kicks both ways, same echoes', async () => {
    const { host, remote } = await pair('unlinked', ['--no-futex'], true);
    const rw = remote['wait'] as Record<string, number | boolean>;
    expect(host['onFutex']).toBe(false);
    expect(rw['onFutex']).toBe(false);
    expect(Number(host['futexWakesSent'])).toBe(0);
    expect(Number(host['socketKicksSent'])).toBeGreaterThan(0);
  }, 60_000);

  it('our remote against the C host stays on the socket (the C peer knows nothing of the doorbell)', async () => {
    const shm = join(dir, 'c.shm');
    const sock = join(dir, 'c.sock');
    const host = startPeer(peer.bin, ['host', '--shm', shm, '--sock', sock, '--server']);
    const s = await OpenAmpSession.open({ role: 'remote', shmPath: shm, socketPath: sock, socketRole: 'client', timeoutMs: 10_000 });
    const res = await runEchoRemote(s, { warmup: 0 });
    expect(res).toEqual({ echoed: 480, reason: 'destroyed' });
    expect((await host.done).code).toBe(0);
    const w = s.waitStats()!;
    expect(w.onFutex).toBe(false);
    expect(w.futexSleeps).toBe(0);
    expect(w.futexWakesSent).toBe(0);
  }, 60_000);
});
