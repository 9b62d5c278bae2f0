/**
 * Linux 6.1 user space (python3, AF_VSOCK) inside UML, over Linux's own vsock core and virtio transport, against our
 * virtio-vsock device (src/vsock) carried by our vhost-user back-end: the CLI's default echo service on port 1234.
 */
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { vsockEchoService } from '../../src/cli/vhost-user-services.js';
import { ProtocolFeature, protocolBit, VhostUserServer } from '../../src/vhost-user/index.js';
import { bit, hasFeature, VirtioFeature } from '../../src/virtio/features.js';
import type { VsockDevice, VsockSocket } from '../../src/vsock/index.js';
import { ErrorWindow, guestLines, startUml, umlSkipReason, type UmlHandle } from './uml.js';

const skip = umlSkipReason();
if (skip !== undefined) console.log(`skipping UML vsock tests: ${skip}`);
const init = fileURLToPath(new URL('./fixtures/uml-vsock.sh', import.meta.url));
const GUEST_CID = 7;

/** Host-initiated connection to the guest's port: sends `data`, half-closes, resolves with everything echoed. */
function hostEcho(device: VsockDevice, port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = device.connect(port);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(Buffer.from(d)));
    s.on('end', () => resolve(Buffer.concat(got)));
    s.on('error', reject);
    s.on('connect', () => s.end(data));
  });
}

/** A host-initiated connection to a port with no listener: resolves with the error it ends with. */
function hostRefused(device: VsockDevice, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s: VsockSocket = device.connect(port);
    s.on('connect', () => resolve('connected'));
    s.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    s.on('close', () => resolve('closed'));
  });
}

describe.skipIf(skip !== undefined)('Linux 6.1 (UML) AF_VSOCK over our virtio-vsock device and vhost-user back-end', () => {
  let dir: string | undefined;
  let server: VhostUserServer | undefined;
  let uml: UmlHandle | undefined;
  afterEach(() => {
    uml?.kill();
    uml = undefined;
    server?.close();
    server = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function serve(ring: 'split' | 'packed', inband: boolean) {
    dir = mkdtempSync(join(tmpdir(), 'tz-vu-vsock-'));
    const sock = join(dir, 'vsock.sock');
    const service = vsockEchoService({ guestCid: GUEST_CID });
    server = new VhostUserServer(sock, service.device, { withheldFeatures: ring === 'split' ? bit(VirtioFeature.RING_PACKED) : 0n, inband }).listen();
    return { sock, service, server, dir };
  }

  for (const ring of ['split', 'packed'] as const) {
    for (const notify of ['eventfd', 'in-band'] as const) {
      it(`echoes random sizes over concurrent guest connections, serves host connections, SHUTDOWN and RST (${ring} ring, ${notify})`, { timeout: 240_000 }, async () => {
        const { sock, service, server: srv, dir: d } = serve(ring, notify === 'in-band');
        const hostData = [randomBytes(300_000), randomBytes(1)];
        const errs = new ErrorWindow(srv.backend);
        let hostSide: Promise<{ echoed: Buffer[]; refused: string }> | undefined;
        uml = startUml({
          init,
          umlDir: d,
          memMiB: 256,
          params: [`virtio_uml.device=${sock}:19`, `TZ_MODES=listen:${hostData.length},echo:4:8`],
          timeoutMs: 200_000,
          onOutput: (_chunk, all) => {
            errs.see(all);
            if (hostSide === undefined && all.includes('READY listening on port 5000')) {
              hostSide = (async () => {
                const refused = await hostRefused(service.device, 5001);
                const echoed = await Promise.all(hostData.map((b) => hostEcho(service.device, 5000, b)));
                return { echoed, refused };
              })();
            }
          },
        });
        const run = await uml.done;
        const why = run.output.split('\n').filter((l) => !l.startsWith(' [<')).slice(-60).join('\n');
        expect(run.timedOut, why).toBe(false);
        expect(hostSide, why).toBeDefined();
        const host = await hostSide!;
        // host-initiated: every byte echoed by the guest's listener, which also saw exactly what we sent
        host.echoed.forEach((e, i) => expect(e.equals(hostData[i]!), `host connection ${i}`).toBe(true));
        const digests = hostData.map((b) => `${b.length}:${createHash('sha256').update(b).digest('hex').slice(0, 16)}`);
        expect(guestLines(run.output, 'RESULT listen '), why).toEqual([`ok ${digests.join(' ')}`]);
        // a port the guest does not listen on answers RST
        expect(host.refused).not.toBe('connected');
        // guest-initiated: 4 concurrent connections, 8 messages of 1 B .. 256 KiB each, compared byte for byte by the
        // guest, then SHUTDOWN (write side) and EOF; a port nobody serves on our side gives ECONNRESET
        const echo = guestLines(run.output, 'RESULT echo ');
        expect(echo.length, why).toBe(1);
        expect(echo[0], why).toMatch(/^ok 4 connections \d+ bytes$/);
        const bytes = Number(/ (\d+) bytes/.exec(echo[0]!)![1]);
        expect(service.stats.bytesFromGuest).toBe(bytes);
        expect(service.stats.sessions).toBe(4);
        expect(guestLines(run.output, 'RESULT refused '), why).toEqual(['ok ConnectionResetError']);
        expect(guestLines(run.output, 'RESULT ').filter((l) => l.includes(' fail')), why).toEqual([]);
        const b = srv.backend;
        expect(errs.unexpected).toEqual([]);
        expect(hasFeature(b.lastSession.features ?? 0n, VirtioFeature.RING_PACKED)).toBe(ring === 'packed');
        expect((b.lastSession.protocolFeatures & protocolBit(ProtocolFeature.INBAND_NOTIFICATIONS)) !== 0n).toBe(notify === 'in-band');
      });
    }
  }

  it('a front-end killed mid-stream leaves a clean device: the next Linux boots and echoes', { timeout: 300_000 }, async () => {
    const { sock, service, server: srv, dir: d } = serve('split', false);
    const disconnected = new Promise<string>((resolve) => srv.backend.onDisconnect(resolve));
    const errorsIn: string[] = [];
    srv.backend.onError((e) => errorsIn.push(`session ${srv.backend.stats.connections}: ${e.message}`));
    uml = startUml({
      init,
      umlDir: d,
      memMiB: 256,
      params: [`virtio_uml.device=${sock}:19`, 'TZ_MODES=stream'],
      timeoutMs: 200_000,
      onOutput: (_chunk, all) => {
        if (all.includes('STREAMING')) uml?.kill();
      },
    });
    const first = await uml.done;
    expect(first.output, first.output.slice(-3000)).toContain('STREAMING');
    expect(await disconnected).toMatch(/closed the connection/);
    expect(service.device.active).toBe(false);
    expect(service.device.endpoint.connections).toBe(0);
    const streamed = service.stats.bytesFromGuest;
    expect(streamed).toBeGreaterThan(0);

    expect(errorsIn).toEqual([]); // the kill itself is no error: the connection closed, the device was reset
    const w = new ErrorWindow(srv.backend);
    uml = startUml({ init, umlDir: d, memMiB: 256, params: [`virtio_uml.device=${sock}:19`, 'TZ_MODES=echo:2:4'], timeoutMs: 200_000, onOutput: (_c, all) => w.see(all) });
    const second = await uml.done;
    const why = second.output.split('\n').filter((l) => !l.startsWith(' [<')).slice(-40).join('\n');
    expect(second.timedOut, why).toBe(false);
    expect(guestLines(second.output, 'RESULT echo '), why).toEqual([expect.stringMatching(/^ok 2 connections \d+ bytes$/)]);
    expect(srv.backend.stats.connections).toBe(2);
    expect(w.unexpected).toEqual([]);
  });
});
