/**
 * The console device (secure side) against a hostile driver, seeded and short: no crash, no write outside the used
 * rings and the driver's pool, junk control and data counted as typed errors, damaged rings ending in
 * DEVICE_NEEDS_RESET and a device that carries data again after a fresh bring-up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runFuzz } from '../../src/fuzz/run.js';
import { ConsoleDevice } from '../../src/console/index.js';

const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length > 0) restore.pop()!();
});

describe('console device fuzzing (seeded, short)', () => {
  it('no crash or violation; junk is counted by code; broken rings reset and data flows again', () => {
    const r = runFuzz({ seed: 0xc0de, iterations: 150, targets: ['console'] });
    expect(r.findings).toEqual([]);
    for (const code of ['CONSOLE_ERR_BAD_EVENT', 'CONSOLE_ERR_UNKNOWN_PORT', 'CONSOLE_ERR_BAD_VALUE', 'CONSOLE_ERR_TRUNCATED', 'CONSOLE_ERR_BAD_BUFFER', 'CONSOLE_ERR_QUEUE_BROKEN']) {
      expect(r.errorsByCode[code] ?? 0, code).toBeGreaterThan(5);
    }
    expect(r.resets).toBeGreaterThan(20);
    expect(r.chains).toBeGreaterThan(2000);
  });

  it('a device call that throws is reported as a crash', () => {
    const orig = ConsoleDevice.prototype.poll;
    let n = 0;
    ConsoleDevice.prototype.poll = function (this: ConsoleDevice) {
      if (++n % 40 === 0) throw new RangeError('planted');
      return orig.call(this);
    };
    restore.push(() => {
      ConsoleDevice.prototype.poll = orig;
    });
    const r = runFuzz({ seed: 2, iterations: 10, targets: ['console'] });
    expect(r.crashes).toBeGreaterThan(0);
  });
});
