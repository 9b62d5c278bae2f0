/** `tz-virtio soak` as a user runs it: each option checked against its rule before the run; reboot runs report progress. */
import { describe, expect, it } from 'vitest';
import { tzv, usageError } from './helpers.js';

describe('tz-virtio soak: options', () => {
  it.each([
    [['--min-body', '400', '--max-body', '100'], /--min-body 400 must not exceed --max-body 100/],
    [['--max-body', '100000'], /--max-body: '100000' must be a non-negative integer up to 484/],
    [['--ack-every', '0'], /--ack-every: '0' must be a positive integer/],
    [['--crashes', '2'], /--crashes needs --reboot/],
    [['--messages', '-5'], /--messages: '-5' must be a positive integer/],
    [['--pause-at', '5000', '--messages', '100'], /--pause-at 5000 must not exceed --messages 100/],
    [['--pause-ms', '100'], /--pause-ms needs --pause-at/],
    [['--reboot', '--cores', '1'], /--cores does not apply to --reboot/],
    [['--reboot', '--crashes', '10', '--messages', '10'], /--crashes 10 must be below --messages 10/],
    [['--cores', '3'], /--cores: '3' must be one of 1, 2, both/],
  ] as const)('refuses %j', async (args, re) => {
    usageError(await tzv(['soak', ...args]), 'soak', re);
  });

  it('with --json an error is also one JSON object on stdout', async () => {
    const r = await tzv(['soak', '--ack-every', '0', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { command: 'soak', code: 'CLI_ERR_BAD_VALUE', message: "--ack-every: '0' must be a positive integer up to 65536" } });
  });
});

describe('tz-virtio soak --reboot', () => {
  it('dense crashes: one acknowledged count per crash, one resume per boot, progress on stderr', async () => {
    const r = await tzv(['soak', '--reboot', '--crashes', '4', '--messages', '40'], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/boot 0: resumed at 0/);
    expect(r.stderr).toMatch(/crash 4\/4/);
    const r2 = await tzv(['soak', '--reboot', '--crashes', '4', '--messages', '40', '--json'], { timeoutMs: 120_000 });
    const j = JSON.parse(r2.stdout);
    expect(j.ackedAtCrash).toHaveLength(4);
    expect(j.resumedAt).toHaveLength(5);
    expect(j.ok).toBe(true);
  });
});
