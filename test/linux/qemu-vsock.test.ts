/**
 * QEMU as a second real vhost-user front-end: Debian's Linux 6.1 in qemu-system-x86_64 (q35, RAM in a shared memfd),
 * its own virtio_pci + vmw_vsock_virtio_transport drivers on `-device vhost-user-vsock-pci`, whose back-end is our
 * VhostUserServer serving the vsock device of src/vsock with an echo on port 1234 (the default service of
 * `tz-virtio vhost-user --device vsock`). The guest (busybox initramfs built at test time, see qemu.ts) runs several
 * concurrent AF_VSOCK clients of random sizes (1 B .. 256 KiB) that check every echoed byte and the half-close, and
 * listens on a port the host connects to. Split and packed rings. Skipped with one line where QEMU is missing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VhostUserServer } from '../../src/vhost-user/index.js';
import { bit, hasFeature, VirtioFeature } from '../../src/virtio/features.js';
import type { DeviceActivation } from '../../src/virtio/device.js';
import { VsockDevice, type VsockSocket } from '../../src/vsock/index.js';
import { pattern } from '../vsock/helpers.js';
import { BIN } from '../cli/helpers.js';
import { buildInitramfs, qemuUnavailable, startQemu } from './qemu.js';

const skip = qemuUnavailable();
if (skip !== undefined) console.log(`skipping QEMU vhost-user-vsock tests: ${skip}`);

/** The vsock device, remembering what the driver negotiated at each activation. */
class RecordingVsock extends VsockDevice {
  features: bigint[] = [];
  override activate(a: DeviceActivation): void {
    this.features.push(a.features);
    super.activate(a);
  }
}

/** Sizes for `clients` concurrent guest clients, a few each, from a small deterministic generator; 1 B and 256 KiB always. */
function sizePlan(seed: number, clients: number): number[][] {
  let x = seed;
  const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const plan: number[][] = [];
  for (let c = 0; c < clients; c++) {
    const sizes: number[] = [];
    for (let k = 0; k < 3; k++) sizes.push(1 + (next() % (1 << (1 + (next() % 18)))));
    plan.push(sizes);
  }
  plan[0]!.unshift(1);
  plan[clients - 1]!.push(256 * 1024);
  return plan;
}

describe.skipIf(skip !== undefined)('QEMU (vhost-user-vsock-pci) against our vsock back-end', () => {
  let dir = '';
  let initrd = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tz-qemu-vsock-'));
    initrd = buildInitramfs(dir);
  }, 180_000);
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  for (const ring of ['split', 'packed'] as const) {
    it(`${ring} rings: concurrent guest clients of random sizes echoed byte-exact with half-close, and a host-initiated connection`, { timeout: 240_000 }, async () => {
      const device = new RecordingVsock({ guestCid: 3 });
      const echo = { connections: 0, bytes: 0, ended: 0 };
      device
        .createServer((s) => {
          echo.connections++;
          s.on('data', (d: Buffer) => {
            echo.bytes += d.length;
            s.write(d);
          });
          s.on('end', () => {
            echo.ended++;
            s.end();
          });
        })
        .listen(1234);
      const sock = join(dir, `${ring}.sock`);
      const server = new VhostUserServer(sock, device, { withheldFeatures: ring === 'split' ? bit(VirtioFeature.RING_PACKED) : 0n }).listen();
      const plan = sizePlan(ring === 'split' ? 7 : 11, 3);
      const guest = startQemu({
        socket: sock,
        initrd,
        packed: ring === 'packed',
        env: { TZ_PORT: '1234', TZ_LISTEN: '5000', TZ_SIZES: plan.map((g) => g.join(':')).join(',') },
      });
      const timer = setTimeout(() => guest.kill(), 200_000);
      try {
        // host-initiated: once the guest listens, the secure side connects to (CID 3, 5000) and checks the echo
        await guest.waitFor(/^TZ listening 5000/);
        const sent = pattern(9, 0, 100_000);
        const back: Buffer[] = [];
        const hostConn: VsockSocket = device.connect(5000);
        const hostDone = new Promise<void>((res, rej) => {
          hostConn.on('data', (d: Buffer) => back.push(d));
          hostConn.on('end', () => res());
          hostConn.on('error', rej);
        });
        hostConn.end(sent);
        await hostDone;
        expect(Buffer.concat(back).equals(sent)).toBe(true);

        const code = await guest.exited;
        const lines = guest.lines;
        const ctx = lines.slice(-30).join('\n');
        expect(code, ctx).toBe(0);
        expect(lines.filter((l) => l.startsWith('TZ error')), ctx).toEqual([]);
        plan.forEach((sizes, i) => {
          const total = sizes.reduce((a, b) => a + b, 0);
          expect(lines, ctx).toContain(`TZ echo ok seed=${i + 1} bytes=${total}`);
        });
        expect(lines.some((l) => /^TZ served cid=2 port=\d+ bytes=100000$/.test(l)), ctx).toBe(true);
        expect(lines).toContain('TZ done');
        expect(echo.connections).toBe(plan.length);
        expect(echo.ended).toBe(plan.length);
        expect(echo.bytes).toBe(plan.flat().reduce((a, b) => a + b, 0));
        // Linux chose the layout we offered, through QEMU
        expect(device.features.length).toBeGreaterThanOrEqual(1);
        expect(hasFeature(device.features.at(-1)!, VirtioFeature.RING_PACKED)).toBe(ring === 'packed');
        expect(device.stats.ringErrors).toBe(0);
        expect(device.endpoint.stats.dropped).toEqual({});
        expect(server.backend.stats.errors, server.backend.recentErrors.map((e) => e.message).join('\n')).toBe(0);
        expect(server.backend.stats.connections).toBe(1);
      } finally {
        clearTimeout(timer);
        guest.kill();
        await guest.exited;
        server.close();
      }
    });
  }

  it('the back-end as a command: `tz-virtio vhost-user --device vsock` serves QEMU one session, then prints its JSON summary', { timeout: 240_000 }, async () => {
    const sock = join(dir, 'cli.sock');
    const cli = spawn(process.execPath, [BIN, 'vhost-user', '--device', 'vsock', '--socket', sock, '--max-sessions', '1', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const cliExit = new Promise<number | null>((res) => cli.on('close', (code) => res(code)));
    for (let i = 0; i < 600 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(sock), err).toBe(true);
    const plan = [[1, 4096, 65536], [200_000]];
    const guest = startQemu({ socket: sock, initrd, packed: true, env: { TZ_PORT: '1234', TZ_SIZES: plan.map((g) => g.join(':')).join(',') } });
    const timer = setTimeout(() => {
      guest.kill();
      cli.kill('SIGKILL');
    }, 200_000);
    try {
      const code = await guest.exited;
      const ctx = guest.lines.slice(-30).join('\n');
      expect(code, ctx).toBe(0);
      plan.forEach((sizes, i) => expect(guest.lines, ctx).toContain(`TZ echo ok seed=${i + 1} bytes=${sizes.reduce((a, b) => a + b, 0)}`));
      expect(await cliExit, err).toBe(0);
      const summary = JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
      const total = plan.flat().reduce((a, b) => a + b, 0);
      // one front-end session, every byte of both guest connections echoed, nothing refused
      expect(summary, out).toMatchObject({ device: 'vsock', ring: 'packed', connections: 1, bytesFromGuest: total, bytesToGuest: total, errors: 0, serviceErrors: 0 });
    } finally {
      clearTimeout(timer);
      guest.kill();
      if (cli.exitCode === null) cli.kill('SIGKILL');
      await guest.exited;
    }
  });
});
