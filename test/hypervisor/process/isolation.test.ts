/**
 * `--isolation process`: the default scenario (secure signer + non-secure client) with each partition in its own OS
 * process, both core modes. Run from dist/ (the test script builds first). No timing assertions.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runMachineInProcesses, type PartitionProcessInfo } from '../../../dist/src/hypervisor/process/index.js';
import { summarize } from '../../../dist/src/hypervisor/report.js';

const example = (name: string) => fileURLToPath(new URL(`../../../dist/examples/${name}`, import.meta.url));

describe('process isolation: the default scenario with each partition in its own process', () => {
  for (const cores of [1, 2] as const) {
    it(`passes, and the non-secure process has no mapping of any secure file (cores: ${cores})`, async () => {
      const maps = new Map<string, { info: PartitionProcessInfo; maps: string }>();
      const r = await runMachineInProcesses({
        cores,
        timeoutMs: 30_000,
        secure: { module: example('secure-signer.js') },
        nonsecure: { module: example('nonsecure-client.js'), args: { messages: 100 } },
        // read while the process runs: every file-backed mapping it has
        onProcess: (info) => maps.set(info.world, { info, maps: readFileSync(`/proc/${info.pid}/maps`, 'utf8') }),
      });
      const s = summarize(r);
      expect(s.problems ?? []).toEqual([]);
      expect(s.ok).toBe(true);
      expect(r.nonsecure.outcome?.status).toBe('returned');
      const user = (r.nonsecure.report?.['user'] ?? {}) as Record<string, unknown>;
      expect(user['messages.received']).toBe(100);
      expect(user['messages.corrupted']).toBe(0);
      expect(user['keyLeaked']).toBe(false);

      const sec = maps.get('secure')!;
      const ns = maps.get('nonsecure')!;
      expect(sec.info.pid).not.toBe(ns.info.pid);
      expect(sec.info.pid).not.toBe(process.pid);
      const secureFiles = sec.info.files.filter((f) => /secure-ram$|ctl-secure$/.test(f));
      expect(secureFiles).toHaveLength(2);
      // positive control: the secure process does map them, and the non-secure one maps the shared window
      for (const f of secureFiles) expect(sec.maps).toContain(f);
      expect(ns.maps).toContain(ns.info.files.find((f) => f.endsWith('/ipc')));
      for (const f of secureFiles) expect(ns.maps).not.toContain(f);
      expect(ns.maps).not.toMatch(/secure-ram|ctl-secure/);
      expect(ns.info.files.some((f) => /secure-ram|ctl-secure/.test(f))).toBe(false);
    });
  }
});

describe('process isolation without the native addon', () => {
  it('fails with a clear error (HV_ERR_BAD_CONFIG naming the addon and why), in-process mode unaffected', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = `
      import { runMachineInProcesses } from ${JSON.stringify(new URL('../../../dist/src/hypervisor/process/index.js', import.meta.url).href)};
      try { await runMachineInProcesses({ secure: { module: 'x.js' }, nonsecure: { module: 'y.js' } }); console.log('no error'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, TZ_VIRTIO_NO_NATIVE: '1' } });
    const out = JSON.parse(r.stdout.trim()) as { code: string; message: string };
    expect(out.code).toBe('HV_ERR_BAD_CONFIG');
    expect(out.message).toMatch(/--isolation process needs the native shared-memory addon/);
    expect(out.message).toMatch(/TZ_VIRTIO_NO_NATIVE is set/);
    expect(out.message).toMatch(/build-native\.mjs/);
  });
});
