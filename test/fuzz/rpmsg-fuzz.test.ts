/**
 * The RPMsg remote (secure side) against a hostile host: a short seeded run is clean, RPMsg-level damage is
 * dropped and counted (not reset), VirtIO-level damage ends in DEVICE_NEEDS_RESET and a working service after the
 * host's reset, and poll() throwing anything at all is reported.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runFuzz } from '../../src/fuzz/run.js';
import { RpmsgRemote } from '../../src/rpmsg/index.js';

const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length > 0) restore.pop()!();
});

describe('RPMsg remote fuzzing (seeded, short)', () => {
  it('no crash or violation; drops are counted, broken rings reset, messages keep flowing', () => {
    const r = runFuzz({ seed: 0xabc, iterations: 300, targets: ['rpmsg'] });
    expect(r.findings).toEqual([]);
    expect(r.errorsByCode['RPMSG_DROPPED_MALFORMED'] ?? 0).toBeGreaterThan(100);
    expect(r.errorsByCode['RPMSG_DROPPED_UNKNOWN_DST'] ?? 0).toBeGreaterThan(50);
    expect(r.errorsByCode['VIRTIO_ERR_BUFFER_OUT_OF_RANGE'] ?? 0).toBeGreaterThan(50);
    expect(r.resets).toBeGreaterThan(100);
    // Messages delivered to the secure echo endpoint (each checked byte for byte while the rings were intact).
    expect(r.chains).toBeGreaterThan(5000);
  });

  it('poll() throwing (even a typed error) is a crash', () => {
    const orig = RpmsgRemote.prototype.poll;
    let n = 0;
    RpmsgRemote.prototype.poll = function (this: RpmsgRemote) {
      if (++n % 50 === 0) throw new RangeError('planted');
      return orig.call(this);
    };
    restore.push(() => {
      RpmsgRemote.prototype.poll = orig;
    });
    const r = runFuzz({ seed: 1, iterations: 10, targets: ['rpmsg'] });
    expect(r.crashes).toBeGreaterThan(0);
  });

  it('a remote that stops counting drops is caught', () => {
    const orig = RpmsgRemote.prototype.poll;
    RpmsgRemote.prototype.poll = function (this: RpmsgRemote) {
      const n = orig.call(this);
      this.stats.droppedMalformed = 0;
      return n;
    };
    restore.push(() => {
      RpmsgRemote.prototype.poll = orig;
    });
    const r = runFuzz({ seed: 2, iterations: 40, targets: ['rpmsg'] });
    expect(r.findings.some((f) => /malformed drops counted/.test(f.message))).toBe(true);
  });
});
