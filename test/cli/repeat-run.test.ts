/**
 * Opt-in repeat check (TZV_REPEAT=N, e.g. 50): `tz-virtio run` with the echo client and an echo service that has no
 * RT task, N times per core count, each a fresh process. A lost wake-up shows as a run that fails to find "echo";
 * every run must pass. Skipped unless TZV_REPEAT is set (it takes N × ~1 s per core count).
 *
 *   TZV_REPEAT=50 npx vitest run test/cli/repeat-run.test.ts
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repeat = Number(process.env['TZV_REPEAT'] ?? 0);
const root = fileURLToPath(new URL('../../', import.meta.url));
const secure = fileURLToPath(new URL('./fixtures/echo-nort-secure.mjs', import.meta.url));
const nonsecure = fileURLToPath(new URL('../../examples/echo/nonsecure.mjs', import.meta.url));

describe.runIf(Number.isInteger(repeat) && repeat > 0)(`run: an echo service without an RT task, ${repeat} runs per core count`, () => {
  for (const cores of [1, 2]) {
    it(`passes every run (cores: ${cores})`, () => {
      const failures: string[] = [];
      for (let i = 0; i < repeat; i++) {
        const r = spawnSync(process.execPath, ['bin/tz-virtio.mjs', 'run', '--secure', secure, '--nonsecure', nonsecure, '--cores', String(cores), '--max-reboots', '0', '--timeout', '30000', '--json'], {
          cwd: root,
          encoding: 'utf8',
          timeout: 60_000,
        });
        let ok = false;
        try {
          ok = r.status === 0 && (JSON.parse(r.stdout) as { ok: boolean }).ok === true;
        } catch {
          ok = false;
        }
        if (!ok) failures.push(`run ${i + 1}: exit ${String(r.status)} ${r.stdout.slice(0, 300)} ${r.stderr.slice(0, 300)}`);
      }
      process.stdout.write(`cores ${cores}: ${repeat - failures.length} of ${repeat} runs passed\n`);
      expect(failures).toEqual([]);
    }, repeat * 60_000 + 10_000);
  }
});
