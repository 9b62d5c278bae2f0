import { describe, expect, it } from 'vitest';
import { optionsFrom, parseSizes } from '../../src/cli/commands/bench.js';
import { CliError } from '../../src/cli/errors.js';
import { defaultOptions, FULL_SIZES, messagesFor, planTrials, QUICK_SIZES } from '../../src/bench/plan.js';
import type { Contender } from '../../src/bench/contender.js';

describe('bench options', () => {
  it('parses sizes with units', () => {
    expect(parseSizes('64, 4k,64KiB,1M')).toEqual([64, 4096, 65536, 1048576]);
    expect(() => parseSizes('12x')).toThrow(CliError);
  });
  it('defaults: full 64 B..256 KiB in x4 steps, quick 64/4K/64K, micro only with --micro', () => {
    expect(FULL_SIZES).toEqual([64, 256, 1024, 4096, 16384, 65536, 262144]);
    expect(optionsFrom({}).sizes).toEqual(FULL_SIZES);
    expect(optionsFrom({ quick: true }).sizes).toEqual(QUICK_SIZES);
    expect(optionsFrom({}).only).not.toContain('micro');
    // the process/OpenAMP rows are opt-in (--only process,openamp), not part of the full run or --quick
    for (const quick of [false, true]) for (const e of ['process', 'openamp']) expect(optionsFrom({ quick }).only).not.toContain(e);
    expect(optionsFrom({ only: ['process', 'openamp'] }).only).toEqual(['process', 'openamp']);
    expect(optionsFrom({ micro: true }).only).toEqual(['micro']);
    expect(optionsFrom({ only: ['rtt', 'heap'] }).only).toEqual(['rtt', 'heap']);
  });
  it('refuses bad sizes with a one-line CliError naming --sizes (the other options: test/cli/bench-options.test.ts)', () => {
    expect(() => parseSizes('63')).toThrow(/--sizes: '63' must be a multiple of 4/);
    expect(() => parseSizes('4')).toThrow(/in 8\.\.64 MiB/);
    expect(() => parseSizes('65M')).toThrow(CliError);
  });
  it('a value that slipped past the parsers still meets the bench rule, as a CliError', () => {
    expect(() => optionsFrom({ rounds: 0 })).toThrow(CliError);
    expect(() => optionsFrom({ rounds: 0 })).toThrow(/rounds 0: must be 1\.\.100/);
  });
  it('sizes trials by bytes, within bounds, with a warm-up', () => {
    const o = defaultOptions(false);
    expect(messagesFor(64, o).count).toBe(1_200_000);
    expect(messagesFor(262144, o).count).toBe(12_288);
    expect(messagesFor(4096, o).warmup).toBeGreaterThan(0);
  });
  it('plans every mode x size x round, skips sizes above a contender maximum, shuffles by seed', () => {
    const c: Contender = {
      name: 'x',
      description: '',
      throughputModes: ['multi-core', 'single-core'],
      rttPolicies: ['poll'],
      maxSize: () => 1024,
      setup: () => ({ shared: {}, roles: [] }),
      createRole: () => ({ run: () => ({ role: 'r', messages: 0, verified: 0, elapsedNs: 0, cpuNs: 0 }) }),
    };
    const o = defaultOptions(true, { sizes: [64, 1024, 4096], rounds: 2, seed: 1, only: ['throughput', 'rtt'] });
    const p = planTrials([c], o);
    expect(p.trials.length).toBe(2 * (2 * 2 + 1));
    expect(p.skipped.map((s) => `${s.mode} ${s.size}`)).toEqual(['multi-core 4096', 'single-core 4096']);
    expect(planTrials([c], o).trials).toEqual(p.trials);
  });
});
