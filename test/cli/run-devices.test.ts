/**
 * `tz-virtio run --scenario vsock|console|devices --json` as a user runs them (subprocesses of bin/tz-virtio.mjs):
 * every message verified by the non-secure partition, the per-device report present, on 1 and 2 cores and with
 * --isolation process. No timing assertions.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/tz-virtio.mjs', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'run', ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const settings = [
  ['--cores', '1'],
  ['--cores', '2'],
  ['--cores', '2', '--isolation', 'process'],
  ['--cores', '1', '--transport', 'mmio'],
] as const;

describe('tz-virtio run: scenarios with several VirtIO devices', () => {
  for (const scenario of ['vsock', 'console'] as const) {
    for (const s of settings) {
      it(`--scenario ${scenario} ${s.join(' ')}: every message verified, one report entry per device`, async () => {
        const r = await cli(['--scenario', scenario, '--messages', '200', '--json', ...s]);
        const j = JSON.parse(r.stdout) as Record<string, any>;
        expect(j['messages']).toEqual({ sent: 200, received: 200, lost: 0, corrupted: 0 });
        expect(j['ok']).toBe(true);
        expect(r.code).toBe(0);
        const devices = j['devices'] as Array<Record<string, any>>;
        const transport = s.includes('mmio') ? 'mmio' : 'rsc-table';
        expect(devices.map((d) => [d['type'], d['transport']])).toEqual([
          ['rpmsg', 'rsc-table'],
          [scenario, transport],
        ]);
        const dev = devices[1]!;
        expect(dev['state']).toEqual({ driver: 'live', device: 'live' });
        expect(dev['messages'].corrupted).toBe(0);
        expect(dev['bytes']).toBeGreaterThan(0);
        expect(dev['notifications']).toBeGreaterThan(0);
      });
    }
  }

  it('refuses an unknown transport before running anything', async () => {
    const r = await cli(['--scenario', 'vsock', '--transport', 'pci']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--transport/);
  });
});
