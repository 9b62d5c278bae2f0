/** `tz-virtio run` input checks (before anything starts) and clean-up on SIGINT/SIGTERM with process isolation. */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir } from '../support/scratch.js';
import { tzv, usageError } from './helpers.js';

const ECHO = fileURLToPath(new URL('../../examples/echo/', import.meta.url));

function config(body: unknown): string {
  const f = join(scratchDir('tzv-config-'), 'c.json');
  writeFileSync(f, JSON.stringify(body));
  return f;
}

describe('tz-virtio run: every value is checked and the rule named', () => {
  it.each([
    [['--window', '0'], /--window: '0' must be a positive integer/],
    [['--timeout-ms', '0'], /--timeout-ms: '0' must be an integer in 100\.\./],
    [['--timeout', '0'], /--timeout: '0' must be an integer in 100\.\./],
    [['--messages', '-5'], /--messages: '-5' must be a positive integer/],
    [['--messages', '100', '--crash-at', '200'], /--crash-at 200 must be below the 100 messages/],
    [['--secure', join(ECHO, 'secure.mjs'), '--nonsecure', join(ECHO, 'nonsecure.mjs'), '--window', '4'], /--window applies to the built-in scenarios only/],
    [['--dump-shm', '/nonexistent-dir/x.bin'], /--dump-shm .*cannot write in \/nonexistent-dir/],
    [['--config', '/nonexistent-dir/c.json'], /cannot read it \(ENOENT/],
    [['--wake-lead-us', '-100'], /--wake-lead-us: '-100' must be a non-negative integer/],
    [['--bogus'], /unknown option '--bogus'/],
  ] as const)('refuses %j', async (args, re) => {
    usageError(await tzv(['run', ...args]), 'run', re);
  });

  it('config: unknown keys, wrong types and ranges are named by their key in the file', async () => {
    usageError(await tzv(['run', '--config', config({ timeoutMs: 'abc' })]), 'run', /: timeoutMs must be a positive integer .*not "abc"/);
    usageError(await tzv(['run', '--config', config({ rt: { wakeLeadUs: -100 } })]), 'run', /: rt\.wakeLeadUs must be a non-negative integer/);
    usageError(await tzv(['run', '--config', config({ cores: 3 })]), 'run', /: cores must be one of 1, 2, not 3/);
    usageError(await tzv(['run', '--config', config({ timeoutMS: 5 })]), 'run', /: timeoutMS is not a known key/);
    usageError(await tzv(['run', '--config', config({ progressWatchdogMs: -1 })]), 'run', /: progressWatchdogMs must be a non-negative integer/);
    const j = await tzv(['run', '--config', config({ cores: 3 }), '--json']);
    expect(JSON.parse(j.stdout).error).toMatchObject({ command: 'run', code: 'CLI_ERR_CONFIG' });
  });
});

describe('tz-virtio run --isolation process: interrupted', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s: says what was interrupted and leaves no shared directory', async (sig) => {
    const shmRoot = existsSync('/dev/shm') ? '/dev/shm' : undefined;
    const before = new Set(shmRoot ? readdirSync(shmRoot).filter((n) => n.startsWith('tz-virtio-')) : []);
    let mine: string[] = [];
    const r = await tzv(['run', '--isolation', 'process', '--secure', join(ECHO, 'secure.mjs'), '--nonsecure', join(ECHO, 'nonsecure.mjs'), '--timeout-ms', '60000'], {
      timeoutMs: 90_000,
      onStart: (child) => {
        // signal once this run's directory exists (the partitions are being started)
        const t = setInterval(() => {
          mine = shmRoot ? readdirSync(shmRoot).filter((n) => n.startsWith('tz-virtio-') && !before.has(n)) : ['(no /dev/shm)'];
          if (mine.length > 0) {
            clearInterval(t);
            setTimeout(() => child.kill(sig), 200);
          }
        }, 10);
        child.on('close', () => clearInterval(t));
      },
    });
    expect(r.code).toBe(sig === 'SIGINT' ? 130 : 143);
    expect(r.stderr).toMatch(new RegExp(`interrupted by ${sig} while running the machine \\(1 core, process isolation\\)`));
    for (const d of mine) if (shmRoot) expect(existsSync(join(shmRoot, d))).toBe(false);
  });
});
