import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolFeature, protocolBit, VhostUserServer } from '../../src/vhost-user/index.js';
import { bit, hasFeature, VirtioFeature } from '../../src/virtio/features.js';
import { consoleLineEchoService } from '../../src/cli/vhost-user-services.js';
import { ConsoleDevice } from '../../src/console/index.js';
import { ErrorWindow, guestLines, runUml, umlSkipReason } from './uml.js';

const skip = umlSkipReason();
if (skip !== undefined) console.log(`skipping UML console tests: ${skip}`);
const init = fileURLToPath(new URL('./fixtures/uml-console.sh', import.meta.url));
const initPorts = fileURLToPath(new URL('./fixtures/uml-console-ports.sh', import.meta.url));

describe.skipIf(skip !== undefined)('Linux 6.1 (UML) virtio_console over our console device and vhost-user back-end', () => {
  let dir: string | undefined;
  let server: VhostUserServer | undefined;
  afterEach(() => {
    server?.close();
    server = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  for (const ring of ['split', 'packed'] as const) {
    for (const notify of ['eventfd', 'in-band'] as const) {
      it(`echoes a line through /dev/hvc0 (${ring} ring, ${notify} notifications)`, { timeout: 150_000 }, async () => {
        dir = mkdtempSync(join(tmpdir(), 'tz-vu-'));
        const sock = join(dir, 'console.sock');
        const service = consoleLineEchoService(); // src/console's device, port 0 without MULTIPORT (Linux's hvc0)
        const device = service.device;
        const received: Buffer[] = [];
        device.port().on('data', (d: Buffer) => received.push(Buffer.from(d)));
        const log: string[] = [];
        server = new VhostUserServer(sock, device, {
          withheldFeatures: ring === 'split' ? bit(VirtioFeature.RING_PACKED) : 0n,
          inband: notify === 'in-band',
          trace: (l) => {
            if (log.length < 400) log.push(l);
          },
        }).listen();
        const errs = new ErrorWindow(server.backend);
        const line = `hello-from-linux-${ring}-${notify}-${Math.floor(Math.random() * 1e9)}`;
        const run = await runUml({ init, umlDir: dir, params: [`virtio_uml.device=${sock}:3`, `TZ_LINE=${line}`], onOutput: (_c, all) => errs.see(all) });
        const why = `${run.output}\n--- back-end trace ---\n${log.join('\n')}`;
        expect(run.timedOut, why).toBe(false);
        expect(guestLines(run.output, 'RESULT '), why).toEqual([line]);
        // the device saw exactly what the guest program wrote: the tty added nothing and echoed nothing back
        expect(Buffer.concat(received).toString(), why).toBe(`${line}\n`);
        expect(service.stats).toMatchObject({ sessions: 1, bytesFromGuest: line.length + 1, bytesToGuest: line.length + 1, errors: 0 });
        expect(device.stats.bytesSent).toBe(line.length + 1);
        const b = server.backend;
        expect(b.stats.activations, why).toBeGreaterThanOrEqual(1);
        expect(errs.unexpected).toEqual([]);
        expect(b.stats.kicks).toBeGreaterThan(0);
        expect(b.stats.calls).toBeGreaterThan(0);
        expect(hasFeature(b.lastSession.features ?? 0n, VirtioFeature.RING_PACKED)).toBe(ring === 'packed');
        expect((b.lastSession.protocolFeatures & protocolBit(ProtocolFeature.INBAND_NOTIFICATIONS)) !== 0n).toBe(notify === 'in-band');
      });
    }
  }

  it('MULTIPORT: Linux finds a named port (vportNpM) and a line goes through it and back', { timeout: 150_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'tz-vu-'));
    const sock = join(dir, 'console.sock');
    const device = new ConsoleDevice({ ports: ['tz.echo', 'tz.other'] });
    const port = device.port('tz.echo');
    const got: Buffer[] = [];
    port.on('data', (d: Buffer) => {
      got.push(Buffer.from(d));
      port.write(d); // echo
    });
    server = new VhostUserServer(sock, device).listen();
    const errs = new ErrorWindow(server.backend);
    const line = `named-port-${Math.floor(Math.random() * 1e9)}`;
    const run = await runUml({ init: initPorts, umlDir: dir, params: [`virtio_uml.device=${sock}:3`, 'TZ_PORT=tz.echo', `TZ_LINE=${line}`], onOutput: (_c, all) => errs.see(all) });
    const why = run.output.split('\n').filter((l) => !l.startsWith(' [<')).slice(-40).join('\n');
    expect(run.timedOut, why).toBe(false);
    expect(guestLines(run.output, 'RESULT '), why).toEqual([`tz.echo ${line}`]);
    expect(Buffer.concat(got).toString()).toBe(`${line}\n`);
    expect(hasFeature(server.backend.lastSession.features ?? 0n, 1)).toBe(true); // VIRTIO_CONSOLE_F_MULTIPORT
    expect(errs.unexpected).toEqual([]);
  });
});
