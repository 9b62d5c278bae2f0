import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { VhostUserServer } from '../../src/vhost-user/index.js';
import { bit, VirtioFeature } from '../../src/virtio/features.js';
import { EchoConsoleDevice } from './echo-console-device.js';
import { runUml, umlSkipReason } from './uml.js';

const skip = umlSkipReason();
if (skip !== undefined) console.log(`skipping UML console tests: ${skip}`);
const init = fileURLToPath(new URL('./fixtures/uml-console.sh', import.meta.url));

describe.skipIf(skip !== undefined)('Linux 6.1 (UML) virtio_console over our vhost-user back-end', () => {
  let dir: string | undefined;
  let server: VhostUserServer | undefined;
  afterEach(() => {
    server?.close();
    server = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  for (const ring of ['split', 'packed'] as const) {
    it(`echoes a line through /dev/hvc0 (${ring} ring)`, { timeout: 120_000 }, async () => {
      dir = mkdtempSync(join(tmpdir(), 'tz-vu-'));
      const sock = join(dir, 'console.sock');
      const device = new EchoConsoleDevice();
      server = new VhostUserServer(sock, device, { withheldFeatures: ring === 'split' ? bit(VirtioFeature.RING_PACKED) : 0n }).listen();
      const line = `hello-from-linux-${ring}-${Math.floor(Math.random() * 1e9)}`;
      const run = await runUml(init, [`virtio_uml.device=${sock}:3`, `TZ_LINE=${line}`]);
      expect(run.timedOut, run.output).toBe(false);
      expect(run.output).toContain(`RESULT ${line}`);
      expect(Buffer.from(device.received).toString()).toContain(line);
      expect(server.backend.stats.activations).toBeGreaterThanOrEqual(1);
      expect(server.backend.stats.errors, JSON.stringify(server.backend.recentErrors.map((e) => e.message))).toBe(0);
      const negotiated = server.backend.negotiatedFeatures ?? (device.activations > 0 ? -1n : 0n);
      void negotiated;
    });
  }
});
