/**
 * `tz-virtio bench` checks every option against its rule before it benchmarks anything, names the flag and the rule,
 * exits 2, and with --json also prints the error as one JSON object on stdout.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../support/scratch.js';
import { tzv, usageError } from './helpers.js';

const BAD: [string[], RegExp][] = [
  [['--rounds', '0'], /--rounds: '0' must be a positive integer up to 100/],
  [['--rounds', '101'], /--rounds: '101' must be a positive integer up to 100/],
  [['--rounds', '1.5'], /--rounds: '1\.5' must be a positive integer/],
  [['--window', '0'], /--window: '0' must be a positive integer up to 4096/],
  [['--window', '5000'], /--window: '5000' must be a positive integer up to 4096/],
  [['--policy', 'nap'], /--policy: 'nap' must be one of block, spin-then-block, poll/],
  [['--seed', '-1'], /--seed: '-1' must be a non-negative integer up to 4294967295/],
  [['--seed', 'abc'], /--seed: 'abc' must be a non-negative integer/],
  [['--scale', '0'], /--scale: '0' must be a positive number up to 100/],
  [['--scale', 'abc'], /--scale: 'abc' must be a positive number/],
  [['--scale', '1e9'], /--scale: '1e9' must be a positive number up to 100/],
  [['--wait-quiet', '-3'], /--wait-quiet: '-3' must be a non-negative integer up to 3600/],
  [['--wait-quiet', '99999'], /--wait-quiet: '99999' must be a non-negative integer up to 3600/],
  [['--only', 'speed'], /--only: 'speed' must be one of throughput, rtt/],
  [['--only', 'rtt,rtt'], /--only: 'rtt,rtt' names an item twice/],
  [['--contenders', 'nope'], /--contenders: 'nope' must be one of /],
  [['--sizes', '0'], /--sizes: '0' must be a multiple of 4 bytes in 8\.\.64 MiB/],
  [['--sizes', '63'], /--sizes: '63' must be a multiple of 4 bytes/],
  [['--sizes', '128M'], /--sizes: '128M' must be a multiple of 4 bytes in 8\.\.64 MiB/],
];

describe('tz-virtio bench: option rules', () => {
  it.each(BAD)('refuses %j before running, naming the rule', async (args, re) => {
    const r = await tzv(['bench', '--quick', '--no-progress', ...args], { timeoutMs: 30_000 });
    usageError(r, 'bench', re);
    expect(r.stdout).toBe(''); // nothing was benchmarked
  });

  it('with --json the error is also one JSON object on stdout', async () => {
    const r = await tzv(['bench', '--quick', '--json', '--contenders', 'nope'], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout) as { error: { command: string; code: string; message: string } };
    expect(j.error.command).toBe('bench');
    expect(j.error.code).toBe('CLI_ERR_BAD_VALUE');
    expect(j.error.message).toMatch(/^--contenders: 'nope' must be one of /);
  });

  it('refuses an --out that cannot be written before running, not after', async () => {
    const file = join(scratchDir('tz-bench-out-'), 'a-file');
    writeFileSync(file, 'x');
    const r = await tzv(['bench', '--quick', '--json', '--no-progress', '--out', join(file, 'sub')], { timeoutMs: 30_000 });
    usageError(r, 'bench', /--out: '.*a-file\/sub' must be a writable directory \(ENOTDIR\)/);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'CLI_ERR_BAD_VALUE' } });
  });

  it('--help shows the numeric defaults unquoted and the ranges', async () => {
    const r = await tzv(['bench', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--window <n>.*1\.\.4096|--window <n>[\s\S]*?\(default: 64\)/);
    expect(r.stdout).toMatch(/\(default: 64\)/);
    expect(r.stdout).not.toMatch(/\(default: "64"\)/);
    expect(r.stdout).toMatch(/--rounds <n>[\s\S]*?1\.\.100/);
  });
});
