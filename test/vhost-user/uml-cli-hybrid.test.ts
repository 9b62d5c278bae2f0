/**
 * `tz-virtio vhost-user --device vsock --uds-path P` run as a user runs it (a subprocess over dist/), with Linux 6.1
 * (UML) as the front-end: a host program reaches the guest's listener through P with `CONNECT <port>`, and the
 * guest's connection to CID 2 port N reaches a UNIX socket listening at P_N (the Firecracker / vhost-device-vsock
 * convention). The command ends by itself after one front-end session and prints its JSON summary.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { guestLines, startUml, umlSkipReason, type UmlHandle } from './uml.js';

const skip = umlSkipReason();
if (skip !== undefined) console.log(`skipping UML hybrid vsock test: ${skip}`);
const init = fileURLToPath(new URL('./fixtures/uml-vsock.sh', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/tz-virtio.mjs', import.meta.url));

async function waitForFile(p: string): Promise<void> {
  for (let i = 0; i < 600 && !existsSync(p); i++) await new Promise((r) => setTimeout(r, 50));
  expect(existsSync(p), `${p} appears`).toBe(true);
}

/** A host program on the hybrid socket: CONNECT, expect "OK <port>", send, half-close, collect the echo. */
function hostProgram(path: string, port: number, data: Buffer): Promise<{ ok: string; echoed: Buffer }> {
  return new Promise((resolve, reject) => {
    const c = connect(path);
    let buf = Buffer.alloc(0);
    let ok: string | undefined;
    c.on('connect', () => c.write(`CONNECT ${port}\n`));
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (ok === undefined) {
        const nl = buf.indexOf(10);
        if (nl < 0) return;
        ok = buf.subarray(0, nl).toString();
        buf = buf.subarray(nl + 1);
        c.end(data);
      }
    });
    c.on('end', () => resolve({ ok: ok ?? '', echoed: buf }));
    c.on('error', reject);
  });
}

describe.skipIf(skip !== undefined)('tz-virtio vhost-user --device vsock --uds-path (hybrid vsock) with Linux 6.1 (UML)', () => {
  let dir: string | undefined;
  let uml: UmlHandle | undefined;
  let unixServer: Server | undefined;
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    uml?.kill();
    unixServer?.close();
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('joins host programs and guest sockets both ways, then exits with its summary', { timeout: 240_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'tz-vu-hybrid-'));
    const sock = join(dir, 'vsock.sock');
    const uds = join(dir, 'hv');
    // the host service the guest will reach as CID 2 port 6000: answers "pong:" + what it got
    unixServer = createServer((c) => {
      const parts: Buffer[] = [];
      c.on('data', (d: Buffer) => parts.push(d));
      c.on('end', () => c.end(`pong:${Buffer.concat(parts).toString()}`));
    }).listen(`${uds}_6000`);
    const cli = spawn(process.execPath, [BIN, 'vhost-user', '--device', 'vsock', '--socket', sock, '--guest-cid', '9', '--uds-path', uds, '--max-sessions', '1', '--json', '--trace'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(cli);
    let out = '';
    let err = '';
    cli.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => cli.on('close', resolve));
    await waitForFile(sock);
    await waitForFile(uds);

    const data = randomBytes(200_000);
    let host: Promise<{ ok: string; echoed: Buffer }> | undefined;
    uml = startUml({
      init,
      umlDir: dir,
      memMiB: 256,
      params: [`virtio_uml.device=${sock}:19`, 'TZ_MODES=listen:1,connect:6000:ping,connect:6001:nobody'],
      timeoutMs: 200_000,
      onOutput: (_c, all) => {
        if (host === undefined && all.includes('READY listening on port 5000')) host = hostProgram(uds, 5000, data);
      },
    });
    const run = await uml.done;
    const why = `${run.output.split('\n').filter((l) => !l.startsWith(' [<')).slice(-40).join('\n')}\n--- cli stderr ---\n${err}`;
    expect(run.timedOut, why).toBe(false);
    expect(host, why).toBeDefined();
    const h = await host!;
    expect(h.ok, why).toMatch(/^OK \d+$/);
    expect(h.echoed.equals(data), why).toBe(true);
    const connects = guestLines(run.output, 'RESULT connect ');
    expect(connects[0], why).toBe('ok pong:ping');
    // no P_6001: the guest's connection is refused (RST), as Firecracker does
    expect(connects[1], why).toMatch(/^fail .*(ConnectionReset|ConnectionRefused)/);
    expect(await exited, why).toBe(0);
    const summary = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(summary).toMatchObject({ device: 'vsock', connections: 1, hybrid: { hostConnections: 1, guestConnections: 1 } });
    // every back-end error is traced as "!! message"; only the power-off rewind (see ErrorWindow) is tolerated
    const traced = err.split('\n').filter((l) => l.includes(' !! '));
    expect(traced.filter((l) => !l.includes('VIRTIO_ERR_AVAIL_IDX_TOO_FAR'))).toEqual([]);
    expect(summary['errors']).toBe(traced.length);
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(uds)).toBe(false);
  });
});
